/* Unit tests of kernel/syscall/wire_strings.c: string fields on the wire. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/syscall/wire_strings.h"

static const uint32_t strings[] = { 1, 2, 3 };

#define BAD(m) cam_wire_bad_string((const uint8_t *)(m), sizeof(m) - 1, strings, 3)

static void test_good_messages(void **state)
{
	(void)state;
	assert_int_equal(BAD(""), 0);
	/* verb "ping", payload "a:b", caller "\xc3\xa9", data (4) binary with NUL,
	 * priority (5) varint. */
	assert_int_equal(BAD("\x0a\x04ping\x12\x03" "a:b\x1a\x02\xc3\xa9\x22\x03\x00\xff\x00\x28\x07"), 0);
}

static void test_bad_fields_named(void **state)
{
	(void)state;
	assert_int_equal(BAD("\x0a\x04ping\x12\x07" "a:1\x00" "b:2"), 2);
	assert_int_equal(BAD("\x0a\x05pi\x00ng"), 1);
	assert_int_equal(BAD("\x0a\x04ping\x1a\x01\xff"), 3);
	/* The first bad one counts. */
	assert_int_equal(BAD("\x1a\x01\xff\x0a\x01\x00"), 3);
}

static void test_malformed_left_to_unpack(void **state)
{
	(void)state;
	assert_int_equal(BAD("\x0a\x09ping"), 0);   /* length past the end */
	assert_int_equal(BAD("\x0a"), 0);           /* no length */
	assert_int_equal(BAD("\x0b\x00"), 0);       /* a group */
	assert_int_equal(BAD("\x09\x01\x02"), 0);   /* fixed64 cut short */
	assert_int_equal(BAD("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_messages),
		cmocka_unit_test(test_bad_fields_named),
		cmocka_unit_test(test_malformed_left_to_unpack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
