/* Unit tests of kernel/syscall/trace_id.c and kernel/listen_policy.c. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/listen_policy.h"
#include "kernel/tracing/trace_id.h"

static void test_w3c_ids_kept(void **state)
{
	char out[33];

	(void)state;
	assert_true(cam_trace_id_normalize("4bf92f3577b34da6a3ce929d0e0e4736", 32, out));
	assert_string_equal(out, "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_true(cam_trace_id_normalize("00f067aa0ba902b7", 16, out));
	assert_string_equal(out, "00f067aa0ba902b7");
}

static void test_other_ids_mapped_stably(void **state)
{
	char a[33], b[33], c[33];

	(void)state;
	assert_false(cam_trace_id_normalize("abc123", 32, a));
	assert_int_equal(strlen(a), 32);
	assert_true(cam_trace_id_is_w3c(a, 32));
	assert_false(cam_trace_id_normalize("abc123", 32, b));
	assert_string_equal(a, b);
	assert_false(cam_trace_id_normalize("abc124", 32, c));
	assert_string_not_equal(a, c);
	/* All zeros, upper case and wrong lengths are not W3C ids. */
	assert_false(cam_trace_id_normalize("00000000000000000000000000000000", 32, a));
	assert_false(cam_trace_id_normalize("4BF92F3577B34DA6A3CE929D0E0E4736", 32, a));
	assert_false(cam_trace_id_normalize("def456", 16, a));
	assert_int_equal(strlen(a), 16);
}

static void test_loopback_policy(void **state)
{
	(void)state;
	assert_true(cam_listen_is_loopback("127.0.0.1:50051"));
	assert_true(cam_listen_is_loopback("127.1.2.3:1"));
	assert_true(cam_listen_is_loopback("localhost:50051"));
	assert_true(cam_listen_is_loopback("[::1]:50051"));
	assert_false(cam_listen_is_loopback(":50051"));
	assert_false(cam_listen_is_loopback("0.0.0.0:50051"));
	assert_false(cam_listen_is_loopback("[::]:50051"));
	assert_false(cam_listen_is_loopback("10.0.0.1:50051"));
	assert_false(cam_listen_is_loopback("[::1:50051"));
	assert_false(cam_listen_is_loopback(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_w3c_ids_kept),
		cmocka_unit_test(test_other_ids_mapped_stably),
		cmocka_unit_test(test_loopback_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
