/* Unit tests of common/utf8.c: text checks of raw bytes, and repair. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/utf8.h"

#define TEXT(s) cam_utf8_text(s, sizeof(s) - 1)

static void test_text_accepts_utf8(void **state)
{
	(void)state;
	assert_true(cam_utf8_text("", 0));
	assert_true(TEXT("msg:hello"));
	assert_true(TEXT("h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80"));
	assert_true(TEXT("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
}

static void test_text_refuses(void **state)
{
	(void)state;
	assert_false(TEXT("a:1\0b:2"));       /* NUL */
	assert_false(TEXT("\0"));
	assert_false(TEXT("\xff"));
	assert_false(TEXT("\xc0\xaf"));       /* overlong '/' */
	assert_false(TEXT("\xed\xa0\x80"));   /* surrogate */
	assert_false(TEXT("\xf4\x90\x80\x80")); /* past U+10FFFF */
	assert_false(TEXT("\x80"));           /* lone continuation */
	assert_false(TEXT("ab\xe2\x98"));     /* truncated at the end */
	/* A truncated sequence is judged on its own bytes: the byte after the
	 * buffer (a continuation here) must not be read. */
	assert_false(cam_utf8_text("\xe2\x98\x83", 2));
}

static void test_repair(void **state)
{
	char *r;

	(void)state;
	r = cam_utf8_repair("ok \xc3\xa9");
	assert_string_equal(r, "ok \xc3\xa9");
	free(r);
	r = cam_utf8_repair("a\xff" "b\xc0\xaf");
	assert_string_equal(r, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd");
	free(r);
	r = cam_utf8_repair("\xe2\x98");
	assert_string_equal(r, "\xef\xbf\xbd\xef\xbf\xbd");
	free(r);
}

/* Every length and every place: the word-at-a-time ASCII path (short
 * strings padded, the tail read overlapping) must see a NUL, a stray
 * continuation byte or a valid sequence wherever it is. */
static void test_every_length_and_place(void **state)
{
	char buf[40];

	(void)state;
	for (size_t len = 0; len <= sizeof(buf); len++) {
		memset(buf, 'a', sizeof(buf));
		assert_true(cam_utf8_text(buf, len));
		for (size_t at = 0; at < len; at++) {
			memset(buf, 'a', sizeof(buf));
			buf[at] = '\0';
			assert_false(cam_utf8_text(buf, len));
			buf[at] = (char)0x80;
			assert_false(cam_utf8_text(buf, len));
			if (at + 1 < len) {
				buf[at] = (char)0xc3; /* U+00E9 */
				buf[at + 1] = (char)0xa9;
				assert_true(cam_utf8_text(buf, len));
			}
		}
		/* Bytes past len are never read as part of the text. */
		memset(buf, 'a', sizeof(buf));
		if (len < sizeof(buf)) {
			buf[len] = '\0';
			assert_true(cam_utf8_text(buf, len));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_accepts_utf8),
		cmocka_unit_test(test_text_refuses),
		cmocka_unit_test(test_repair),
		cmocka_unit_test(test_every_length_and_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
