/* Tests of exporter/gzip.c: what it writes inflates back, as gzip. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "exporter/gzip.h"

static size_t gunzip(const void *in, size_t len, char *out, size_t cap)
{
	z_stream z = {0};

	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	inflateEnd(&z);
	return cap - z.avail_out;
}

static void round_trip(const char *text, size_t len)
{
	char *back = malloc(len + 16);
	const unsigned char *gz;
	void *out = NULL;
	size_t out_len = 0;

	assert_non_null(back);
	assert_int_equal(cam_gzip(text, len, &out, &out_len), 0);
	gz = out;
	assert_true(out_len >= 18);
	assert_int_equal(gz[0], 0x1f); /* gzip magic */
	assert_int_equal(gz[1], 0x8b);
	assert_int_equal(gunzip(out, out_len, back, len + 16), len);
	assert_memory_equal(back, text, len);
	free(out);
	free(back);
}

static void test_round_trip(void **state)
{
	static const char line[] = "cam_os_syscall_total{verb=\"ping\"} 42\n";
	size_t n = 200000, i;
	char *big = malloc(n);

	(void)state;
	assert_non_null(big);
	for (i = 0; i < n; i++)
		big[i] = line[i % (sizeof(line) - 1)];
	round_trip(line, strlen(line));
	round_trip("", 0);
	round_trip(big, n);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
