/* Tests of exporter/gzip.c: what it writes inflates back, as gzip. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdint.h>
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

/* A head kept and a tail made apart decode as one stream whose CRC and
 * length zlib checks; the same head serves several tails. */
static void two_pieces(const char *head, size_t hlen, const char *tail, size_t tlen)
{
	void *h = NULL, *t = NULL;
	size_t h_len = 0, t_len = 0;
	uint32_t crc = 0;
	char *joined, *back;

	assert_int_equal(cam_gzip_head(head, hlen, &h, &h_len, &crc), 0);
	assert_int_equal(cam_gzip_tail(tail, tlen, crc, hlen, &t, &t_len), 0);
	joined = malloc(h_len + t_len);
	back = malloc(hlen + tlen + 16);
	assert_non_null(joined);
	assert_non_null(back);
	memcpy(joined, h, h_len);
	memcpy(joined + h_len, t, t_len);
	assert_int_equal(gunzip(joined, h_len + t_len, back, hlen + tlen + 16), hlen + tlen);
	assert_memory_equal(back, head, hlen);
	assert_memory_equal(back + hlen, tail, tlen);
	free(joined);
	free(back);
	free(h);
	free(t);
}

static void test_head_and_tail(void **state)
{
	static const char kernel[] = "cam_os_syscall_total{verb=\"ping\"} 42\n";
	static const char self[] = "cam_os_kernel_up 1\n# EOF\n";
	size_t n = 300000;
	char *big = malloc(n);

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = kernel[i % (sizeof(kernel) - 1)];
	two_pieces(kernel, strlen(kernel), self, strlen(self));
	two_pieces("", 0, self, strlen(self));
	two_pieces(kernel, strlen(kernel), "", 0);
	two_pieces("", 0, "", 0);
	two_pieces(big, n, self, strlen(self));
	two_pieces(big, n, big, n);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_head_and_tail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
