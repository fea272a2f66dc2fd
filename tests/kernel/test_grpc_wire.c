/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kernel/grpc/wire.c: grpc-timeout, grpc-message encoding,
 * message framing across every chunk split, size limit, gzip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/tcache.h"
#include "kernel/grpc/wire.h"

static int64_t timeout_of(const char *s)
{
	int64_t ns = -1;

	if (cam_grpc_wire_timeout_parse(s, strlen(s), &ns) != 0)
		return -1;
	return ns;
}

static void test_timeout_units(void **state)
{
	(void)state;
	assert_int_equal(timeout_of("1H"), 3600000000000LL);
	assert_int_equal(timeout_of("2M"), 120000000000LL);
	assert_int_equal(timeout_of("3S"), 3000000000LL);
	assert_int_equal(timeout_of("100m"), 100000000LL);
	assert_int_equal(timeout_of("5u"), 5000LL);
	assert_int_equal(timeout_of("7n"), 7LL);
	assert_int_equal(timeout_of("0n"), 0);
	assert_int_equal(timeout_of("99999999S"), 99999999000000000LL);
	/* 8 digits of hours pass int64 nanoseconds: saturate. */
	assert_int_equal(timeout_of("99999999H"), INT64_MAX);
}

static void test_timeout_malformed(void **state)
{
	static const char *const bad[] = { "", "S", "1", "1s", "1x", "-1S", "1.5S",
					   "123456789S", " 1S", "1S ", "1SS" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(timeout_of(bad[i]), -1);
}

static void test_percent_encode(void **state)
{
	char buf[64];

	(void)state;
	cam_grpc_wire_percent_encode(buf, sizeof(buf), "plain text: ok");
	assert_string_equal(buf, "plain text: ok");
	cam_grpc_wire_percent_encode(buf, sizeof(buf), "100% sure\n");
	assert_string_equal(buf, "100%25 sure%0A");
	cam_grpc_wire_percent_encode(buf, sizeof(buf), "caf\xc3\xa9\x7f");
	assert_string_equal(buf, "caf%C3%A9%7F");
	/* Never half an escape at the end. */
	assert_int_equal(cam_grpc_wire_percent_encode(buf, 5, "ab\ncd"), 2);
	assert_string_equal(buf, "ab");
	assert_int_equal(cam_grpc_wire_percent_encode(buf, 1, "x"), 0);
}

struct got {
	int n;
	size_t lens[8];
	uint8_t flags[8];
	uint8_t data[8][64];
};

static int collect(void *arg, uint8_t flags, uint8_t *msg, size_t len)
{
	struct got *g = arg;

	assert_true(g->n < 8 && len <= 64);
	g->lens[g->n] = len;
	g->flags[g->n] = flags;
	if (len)
		memcpy(g->data[g->n], msg, len);
	g->n++;
	cam_tcache_free(msg);
	return 0;
}

/* Three messages (one empty), so splits fall in headers and bodies. */
static size_t build_stream(uint8_t *out)
{
	static const char *const msgs[] = { "hello", "", "a somewhat longer third message" };
	size_t n = 0;

	for (int i = 0; i < 3; i++) {
		size_t len = strlen(msgs[i]);

		cam_grpc_wire_put_header(out + n, len);
		out[n] = (uint8_t)(i == 2); /* flag the last one as compressed */
		memcpy(out + n + CAM_GRPC_WIRE_HEADER, msgs[i], len);
		n += CAM_GRPC_WIRE_HEADER + len;
	}
	return n;
}

static void check_three(const struct got *g)
{
	assert_int_equal(g->n, 3);
	assert_int_equal(g->lens[0], 5);
	assert_memory_equal(g->data[0], "hello", 5);
	assert_int_equal(g->lens[1], 0);
	assert_int_equal(g->lens[2], strlen("a somewhat longer third message"));
	assert_int_equal(g->flags[0], 0);
	assert_int_equal(g->flags[2], 1);
}

static void test_framer_every_split(void **state)
{
	uint8_t stream[128];
	size_t total = build_stream(stream);

	(void)state;
	/* Every two-way and three-way split of the byte stream. */
	for (size_t a = 0; a <= total; a++) {
		for (size_t b = a; b <= total; b++) {
			struct cam_grpc_wire_framer f;
			struct got g = { 0 };

			cam_grpc_wire_framer_init(&f, 1024);
			assert_int_equal(cam_grpc_wire_framer_feed(&f, stream, a, collect, &g), 0);
			assert_int_equal(cam_grpc_wire_framer_feed(&f, stream + a, b - a, collect, &g), 0);
			assert_int_equal(cam_grpc_wire_framer_feed(&f, stream + b, total - b, collect, &g), 0);
			check_three(&g);
			assert_true(cam_grpc_wire_framer_idle(&f));
			cam_grpc_wire_framer_free(&f);
		}
	}
}

static void test_framer_byte_by_byte(void **state)
{
	uint8_t stream[128];
	size_t total = build_stream(stream);
	struct cam_grpc_wire_framer f;
	struct got g = { 0 };

	(void)state;
	cam_grpc_wire_framer_init(&f, 1024);
	for (size_t i = 0; i < total; i++) {
		assert_int_equal(cam_grpc_wire_framer_feed(&f, stream + i, 1, collect, &g), 0);
		if (i + 1 < total && g.n < 3)
			assert_true(g.n < 3);
	}
	check_three(&g);
	cam_grpc_wire_framer_free(&f);
}

static void test_framer_partial_not_idle(void **state)
{
	uint8_t stream[128];
	struct cam_grpc_wire_framer f;
	struct got g = { 0 };

	(void)state;
	build_stream(stream);
	cam_grpc_wire_framer_init(&f, 1024);
	assert_int_equal(cam_grpc_wire_framer_feed(&f, stream, 7, collect, &g), 0);
	assert_false(cam_grpc_wire_framer_idle(&f));
	assert_int_equal(g.n, 0);
	cam_grpc_wire_framer_free(&f); /* frees the partial body */
}

static int must_not_run(void *arg, uint8_t flags, uint8_t *msg, size_t len)
{
	(void)arg;
	(void)flags;
	(void)len;
	cam_tcache_free(msg);
	fail_msg("no message expected");
	return 0;
}

static void test_framer_oversized(void **state)
{
	uint8_t hdr[CAM_GRPC_WIRE_HEADER];
	struct cam_grpc_wire_framer f;

	(void)state;
	/* Refused on the header alone: nothing of the body is buffered. */
	cam_grpc_wire_put_header(hdr, 5u << 20);
	cam_grpc_wire_framer_init(&f, 4u << 20);
	assert_int_equal(cam_grpc_wire_framer_feed(&f, hdr, 3, must_not_run, NULL), 0);
	assert_int_equal(cam_grpc_wire_framer_feed(&f, hdr + 3, 2, must_not_run, NULL),
			 CAM_ELIMIT);
	assert_null(f.buf);
	cam_grpc_wire_framer_free(&f);
	/* Exactly max is fine. */
	cam_grpc_wire_put_header(hdr, 16);
	cam_grpc_wire_framer_init(&f, 16);
	assert_int_equal(cam_grpc_wire_framer_feed(&f, hdr, 5, must_not_run, NULL), 0);
	cam_grpc_wire_framer_free(&f);
	cam_grpc_wire_put_header(hdr, 17);
	cam_grpc_wire_framer_init(&f, 16);
	assert_int_equal(cam_grpc_wire_framer_feed(&f, hdr, 5, must_not_run, NULL), CAM_ELIMIT);
	cam_grpc_wire_framer_free(&f);
}

static int stop_here(void *arg, uint8_t flags, uint8_t *msg, size_t len)
{
	(void)arg;
	(void)flags;
	(void)len;
	cam_tcache_free(msg);
	return CAM_EPROTO;
}

static void test_framer_callback_error(void **state)
{
	uint8_t stream[128];
	size_t total = build_stream(stream);
	struct cam_grpc_wire_framer f;

	(void)state;
	cam_grpc_wire_framer_init(&f, 1024);
	assert_int_equal(cam_grpc_wire_framer_feed(&f, stream, total, stop_here, NULL),
			 CAM_EPROTO);
	cam_grpc_wire_framer_free(&f);
}

static size_t gzip_of(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return z.total_out;
}

static void test_gunzip(void **state)
{
	static uint8_t plain[100000], packed[200000];
	size_t n, out_len;
	uint8_t *out;

	(void)state;
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 7 % 13);
	n = gzip_of(plain, sizeof(plain), packed, sizeof(packed));
	assert_int_equal(cam_grpc_wire_gunzip(packed, n, sizeof(plain), &out, &out_len), 0);
	assert_int_equal(out_len, sizeof(plain));
	assert_memory_equal(out, plain, sizeof(plain));
	cam_tcache_free(out);
	/* One byte over the limit: refused. */
	assert_int_equal(cam_grpc_wire_gunzip(packed, n, sizeof(plain) - 1, &out, &out_len),
			 CAM_ELIMIT);
	/* Truncated and garbage input. */
	assert_int_equal(cam_grpc_wire_gunzip(packed, n / 2, sizeof(plain), &out, &out_len),
			 CAM_EPROTO);
	assert_int_equal(cam_grpc_wire_gunzip((const uint8_t *)"nonsense", 8, 100, &out,
					      &out_len), CAM_EPROTO);
	/* Empty message. */
	n = gzip_of(plain, 0, packed, sizeof(packed));
	assert_int_equal(cam_grpc_wire_gunzip(packed, n, 100, &out, &out_len), 0);
	assert_int_equal(out_len, 0);
	cam_tcache_free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeout_units),
		cmocka_unit_test(test_timeout_malformed),
		cmocka_unit_test(test_percent_encode),
		cmocka_unit_test(test_framer_every_split),
		cmocka_unit_test(test_framer_byte_by_byte),
		cmocka_unit_test(test_framer_partial_not_idle),
		cmocka_unit_test(test_framer_oversized),
		cmocka_unit_test(test_framer_callback_error),
		cmocka_unit_test(test_gunzip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
