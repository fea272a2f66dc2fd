/*
 * Fuzzes the gRPC wire helpers of kernel/grpc/wire.c, which see the bytes
 * of every request: the length-prefixed message framer, gzip inflation of a
 * compressed message, the grpc-timeout parser and grpc-message percent
 * encoding.
 *
 * Input: 4 control bytes, then the stream. Control byte 0 picks the framer
 * and gunzip limits, 1-2 seed the chunk sizes (zero-length feeds included),
 * 3 picks a message on which the callback fails.
 *
 * Checks, besides no crash, leak or UB:
 *  - framer: fed in chunks, it delivers exactly the messages (flags and
 *    bytes) a one-pass reading of the whole stream finds, in order; the
 *    first header announcing more than max gives CAM_ELIMIT in the very feed
 *    that completes it; a callback error stops the feed and is passed on in
 *    the feed that completes that message; idle exactly when the stream
 *    ended on a message boundary; the buffer never holds more than the
 *    message length nor more than max(16 KiB, twice the bytes received);
 *  - gunzip on every message flagged compressed: same result as zlib in one
 *    call (0 with the same bytes, CAM_ELIMIT past max, else CAM_EPROTO);
 *  - timeout: every prefix of the input (and short messages) parses exactly
 *    when a reference parser says so, to the same saturated nanoseconds;
 *  - percent encoding: output < cap, printable ASCII, '%' only in %XX,
 *    never an escape cut in half, decoding it gives back a prefix of the
 *    input (all of it when cap is large enough), and a shorter cap gives a
 *    prefix of the longer output.
 *
 * Objects: kernel/grpc/wire.o common/tcache.o common/xmalloc.o
 * Libs: zlib
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/error.h"
#include "common/tcache.h"
#include "kernel/grpc/wire.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CB_FAIL (-1000)

static int ref_timeout(const uint8_t *s, size_t len, int64_t *ns)
{
	static const char units[] = "HMSmun";
	static const int64_t mult[] = { 3600000000000LL, 60000000000LL, 1000000000LL,
					1000000LL, 1000LL, 1LL };
	const char *u;
	int64_t v = 0;
	__int128 p;

	if (len < 2 || len > 9 || s[len - 1] == 0)
		return -1;
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	u = strchr(units, s[len - 1]);
	if (!u)
		return -1;
	p = (__int128)v * mult[u - units];
	*ns = p > INT64_MAX ? INT64_MAX : (int64_t)p;
	return 0;
}

static void check_timeout(const uint8_t *s, size_t len)
{
	int64_t a = -7, b = -7;
	int ra = cam_grpc_wire_timeout_parse((const char *)s, len, &a);
	int rb = ref_timeout(s, len, &b);

	FUZZ_CHECK(ra == 0 || ra == CAM_EINVAL);
	FUZZ_CHECK((ra == 0) == (rb == 0));
	if (ra == 0)
		FUZZ_CHECK(a == b && a >= 0);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Checks dst (n bytes) as an encoding of a prefix of src; returns the
 * length of that prefix. */
static size_t check_encoded(const char *dst, size_t n, const char *src)
{
	size_t k = 0;

	FUZZ_CHECK(dst[n] == '\0' && strlen(dst) == n);
	for (size_t i = 0; i < n; k++) {
		unsigned char c = (unsigned char)dst[i];

		FUZZ_CHECK(c >= 0x20 && c <= 0x7e);
		FUZZ_CHECK(src[k] != '\0');
		if (c == '%') {
			int h, l;

			FUZZ_CHECK(i + 2 < n);
			h = hexval(dst[i + 1]);
			l = hexval(dst[i + 2]);
			FUZZ_CHECK(h >= 0 && l >= 0);
			FUZZ_CHECK((unsigned char)src[k] == (unsigned)(h << 4 | l));
			/* Only what must be escaped is. */
			FUZZ_CHECK(src[k] == '%' || (unsigned char)src[k] < 0x20 ||
				   (unsigned char)src[k] > 0x7e);
			i += 3;
		} else {
			FUZZ_CHECK(src[k] == dst[i]);
			i++;
		}
	}
	return k;
}

static void check_percent(const uint8_t *data, size_t size)
{
	char *src = malloc(size + 1), *full, *part;
	size_t full_cap = 3 * size + 1, n, k;
	size_t caps[4];

	memcpy(src, data, size);
	src[size] = '\0';
	full = malloc(full_cap);
	n = cam_grpc_wire_percent_encode(full, full_cap, src);
	FUZZ_CHECK(n < full_cap);
	k = check_encoded(full, n, src);
	FUZZ_CHECK(k == strlen(src));

	caps[0] = 1;
	caps[1] = 1 + (size ? data[0] % 8 : 0);
	caps[2] = 1 + (size > 1 ? data[1] : 0);
	caps[3] = n; /* one byte short of the whole */
	part = malloc(full_cap);
	for (size_t c = 0; c < 4; c++) {
		size_t cap = caps[c] ? caps[c] : 1, m;

		if (cap > full_cap)
			continue;
		memset(part, 'Z', cap);
		m = cam_grpc_wire_percent_encode(part, cap, src);
		FUZZ_CHECK(m < cap);
		check_encoded(part, m, src);
		FUZZ_CHECK(m <= n && memcmp(part, full, m) == 0);
		/* Stops only when the next piece does not fit. */
		if (m < n)
			FUZZ_CHECK(m + (full[m] == '%' ? 3 : 1) >= cap);
	}
	free(part);
	free(full);
	free(src);
}

/* gunzip against zlib inflating into one buffer of max + 1 bytes. */
static void check_gunzip(const uint8_t *in, size_t len, size_t max)
{
	uint8_t *out = NULL, *ref = malloc(max + 1);
	size_t out_len = 0;
	int rc = cam_grpc_wire_gunzip(in, len, max, &out, &out_len);
	z_stream z;
	int zrc, want;

	memset(&z, 0, sizeof(z));
	FUZZ_CHECK(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = ref;
	z.avail_out = (uInt)(max + 1);
	zrc = inflate(&z, Z_NO_FLUSH);
	if (z.total_out > max)
		want = CAM_ELIMIT;
	else if (zrc == Z_STREAM_END)
		want = 0;
	else
		want = CAM_EPROTO;
	if (rc != CAM_ENOMEM)
		FUZZ_CHECK(rc == want);
	if (rc == 0) {
		FUZZ_CHECK(out_len == z.total_out && out_len <= max);
		FUZZ_CHECK(out_len == 0 || memcmp(out, ref, out_len) == 0);
		FUZZ_CHECK(out != NULL || out_len == 0);
	}
	inflateEnd(&z);
	cam_tcache_free(out);
	free(ref);
}

struct expect {
	const uint8_t *stream;
	size_t nmsg;         /* complete messages in the stream */
	size_t off[512];     /* header offset of each (the first 512) */
	uint32_t len[512];
	size_t delivered;    /* callback calls so far */
	size_t fail_at;      /* the callback fails on this message */
	size_t gz_max;
};

static int on_message(void *arg, uint8_t flags, uint8_t *msg, size_t len)
{
	struct expect *e = arg;
	size_t i = e->delivered++;
	int rc = 0;

	FUZZ_CHECK(i < e->nmsg);
	FUZZ_CHECK(flags == e->stream[e->off[i]]);
	FUZZ_CHECK(len == e->len[i]);
	FUZZ_CHECK((msg == NULL) == (len == 0));
	FUZZ_CHECK(len == 0 || memcmp(msg, e->stream + e->off[i] + 5, len) == 0);
	if (len <= 12)
		check_timeout(msg, len);
	if ((flags & 1) && len)
		check_gunzip(msg, len, e->gz_max);
	if (i == e->fail_at)
		rc = CB_FAIL;
	cam_tcache_free(msg);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = { 0, 1, 5, 16, 100, 1000, 16384, 16385, 70000,
					CAM_GRPC_WIRE_DEFAULT_MAX };
	static const size_t gz_maxes[] = { 0, 1, 10, 100, 1000, 4096, 4097, 65536 };
	uint8_t ctl[4] = { 0 };
	const uint8_t *stream;
	size_t n, pos = 0, limit_at = SIZE_MAX, feeds = 0;
	struct cam_grpc_wire_framer f;
	struct expect *e;
	uint32_t rnd;
	size_t off = 0;
	int rc = 0, want;

	for (size_t i = 0; i <= size && i <= 12; i++)
		check_timeout(data, i);
	check_percent(data, size);

	memcpy(ctl, data, size < 4 ? size : 4);
	stream = data + (size < 4 ? size : 4);
	n = size - (size_t)(stream - data);

	e = calloc(1, sizeof(*e));
	e->stream = stream;
	e->fail_at = ctl[3] < 32 ? ctl[3] : SIZE_MAX;
	e->gz_max = gz_maxes[(ctl[0] >> 4) % 8];
	size_t max = maxes[(ctl[0] & 15) % 10];

	/* The stream read in one pass. */
	while (n - pos >= CAM_GRPC_WIRE_HEADER && e->nmsg < 512) {
		uint32_t len = (uint32_t)stream[pos + 1] << 24 | (uint32_t)stream[pos + 2] << 16 |
			       (uint32_t)stream[pos + 3] << 8 | stream[pos + 4];

		if (len > max) {
			limit_at = pos;
			break;
		}
		if (n - pos - CAM_GRPC_WIRE_HEADER < len)
			break;
		e->off[e->nmsg] = pos;
		e->len[e->nmsg++] = len;
		pos += CAM_GRPC_WIRE_HEADER + len;
	}
	if (e->nmsg == 512)
		n = pos; /* feed no more than was read */
	/* What the feeds must end with, and at which byte. */
	size_t err_byte = SIZE_MAX;
	if (e->fail_at < e->nmsg) {
		want = CB_FAIL;
		err_byte = e->off[e->fail_at] + CAM_GRPC_WIRE_HEADER + e->len[e->fail_at];
	} else if (limit_at != SIZE_MAX) {
		want = CAM_ELIMIT;
		err_byte = limit_at + CAM_GRPC_WIRE_HEADER;
	} else {
		want = 0;
	}

	cam_grpc_wire_framer_init(&f, max);
	rnd = (uint32_t)ctl[1] << 8 | ctl[2];
	rnd = rnd * 2654435761u + 1;
	if (rnd == 0)
		rnd = 1; /* xorshift would stay at 0 */
	while (off < n || feeds == 0) {
		size_t c;

		rnd ^= rnd << 13;
		rnd ^= rnd >> 17;
		rnd ^= rnd << 5;
		/* Mostly short chunks, sometimes anything up to the rest. */
		c = (rnd >> 4) & 3 ? (rnd >> 8) % 12 : (rnd >> 8) % (n - off + 1);
		if (c > n - off)
			c = n - off;
		feeds++;
		rc = cam_grpc_wire_framer_feed(&f, stream + off, c, on_message, e);
		if (rc != 0) {
			FUZZ_CHECK(rc == want);
			FUZZ_CHECK(off < err_byte && err_byte <= off + c);
			break;
		}
		off += c;
		FUZZ_CHECK(off < err_byte);
		if (f.buf) {
			FUZZ_CHECK(f.cap <= f.msg_len && f.have <= f.cap);
			FUZZ_CHECK(f.cap <= 16384 || f.cap <= 2 * f.have);
		}
	}
	if (rc == 0) {
		FUZZ_CHECK(want == 0);
		FUZZ_CHECK(e->delivered == e->nmsg);
		FUZZ_CHECK(cam_grpc_wire_framer_idle(&f) == (pos == n));
	} else {
		FUZZ_CHECK(e->delivered == (want == CB_FAIL ? e->fail_at + 1 : e->nmsg));
	}
	cam_grpc_wire_framer_free(&f);
	free(e);
	return 0;
}
