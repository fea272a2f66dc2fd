/*
 * gRPC wire helpers: grpc-timeout, grpc-message percent-encoding, message
 * framing and gzip. See wire.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/grpc/wire.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/error.h"
#include "common/tcache.h"

int cam_grpc_wire_timeout_parse(const char *s, size_t len, int64_t *ns)
{
	static const struct {
		char unit;
		int64_t ns;
	} units[] = {
		{ 'H', 3600000000000LL }, { 'M', 60000000000LL },
		{ 'S', 1000000000LL },    { 'm', 1000000LL },
		{ 'u', 1000LL },          { 'n', 1LL },
	};
	int64_t v = 0;
	size_t i;

	if (len < 2 || len > 9)
		return CAM_EINVAL;
	for (i = 0; i < len - 1; i++) {
		if (s[i] < '0' || s[i] > '9')
			return CAM_EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (units[i].unit != s[len - 1])
			continue;
		/* 8 digits fit easily; only the product can overflow. */
		if (v > INT64_MAX / units[i].ns)
			*ns = INT64_MAX;
		else
			*ns = v * units[i].ns;
		return 0;
	}
	return CAM_EINVAL;
}

size_t cam_grpc_wire_percent_encode(char *dst, size_t cap, const char *src)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *src; src++) {
		unsigned char ch = (unsigned char)*src;

		if (ch >= 0x20 && ch <= 0x7e && ch != '%') {
			if (n + 1 >= cap)
				break;
			dst[n++] = (char)ch;
			continue;
		}
		if (n + 3 >= cap)
			break;
		dst[n++] = '%';
		dst[n++] = hex[ch >> 4];
		dst[n++] = hex[ch & 15];
	}
	dst[n] = '\0';
	return n;
}

void cam_grpc_wire_framer_init(struct cam_grpc_wire_framer *f, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->max = max;
}

void cam_grpc_wire_framer_free(struct cam_grpc_wire_framer *f)
{
	cam_tcache_free(f->buf);
	f->buf = NULL;
	f->hdr_len = 0;
	f->have = 0;
	f->cap = 0;
}

bool cam_grpc_wire_framer_idle(const struct cam_grpc_wire_framer *f)
{
	return f->hdr_len == 0;
}

/* Completes the header from data; returns the bytes used. */
static size_t take_header(struct cam_grpc_wire_framer *f, const uint8_t *data,
			  size_t len)
{
	size_t n = CAM_GRPC_WIRE_HEADER - f->hdr_len;

	if (n > len)
		n = len;
	memcpy(f->hdr + f->hdr_len, data, n);
	f->hdr_len += (uint8_t)n;
	if (f->hdr_len == CAM_GRPC_WIRE_HEADER)
		f->msg_len = (uint32_t)f->hdr[1] << 24 | (uint32_t)f->hdr[2] << 16 |
			     (uint32_t)f->hdr[3] << 8 | f->hdr[4];
	return n;
}

/* Hands the finished message over and readies the framer for the next. */
static int deliver(struct cam_grpc_wire_framer *f, cam_grpc_wire_message_fn fn,
		   void *arg)
{
	uint8_t *msg = f->buf;
	uint8_t flags = f->hdr[0];

	f->buf = NULL;
	f->have = 0;
	f->cap = 0;
	f->hdr_len = 0;
	return fn(arg, flags, msg, f->msg_len);
}

/* The capacity the body buffer grows to for need bytes: doubling, capped
 * at the message length (0: not known yet). */
static size_t next_cap(const struct cam_grpc_wire_framer *f, size_t need, size_t msg_len)
{
	size_t ncap = f->cap ? f->cap * 2 : 16384;

	if (ncap < need)
		ncap = need;
	if (msg_len && ncap > msg_len)
		ncap = msg_len;
	return ncap;
}

size_t cam_grpc_wire_framer_growth(const struct cam_grpc_wire_framer *f, size_t len)
{
	bool known = f->hdr_len == CAM_GRPC_WIRE_HEADER;
	size_t need = (known ? f->have : 0) + len;

	if (known && need <= f->cap)
		return 0;
	return next_cap(f, need, known ? f->msg_len : 0) - (known ? f->cap : 0);
}

/* Grows the body buffer to hold need bytes. */
static int body_grow(struct cam_grpc_wire_framer *f, size_t need)
{
	size_t ncap = next_cap(f, need, f->msg_len);
	uint8_t *nbuf;

	nbuf = cam_tcache_realloc(f->buf, ncap);
	if (!nbuf)
		return CAM_ENOMEM;
	f->buf = nbuf;
	f->cap = ncap;
	return 0;
}

int cam_grpc_wire_framer_feed(struct cam_grpc_wire_framer *f,
			      const uint8_t *data, size_t len,
			      cam_grpc_wire_message_fn fn, void *arg)
{
	int rc;

	while (len > 0 || f->hdr_len == CAM_GRPC_WIRE_HEADER) {
		if (f->hdr_len < CAM_GRPC_WIRE_HEADER) {
			size_t n = take_header(f, data, len);

			data += n;
			len -= n;
			if (f->hdr_len < CAM_GRPC_WIRE_HEADER)
				return 0;
			if (f->msg_len > f->max)
				return CAM_ELIMIT;
		}
		if (f->have < f->msg_len) {
			size_t n = f->msg_len - f->have;

			if (n > len)
				n = len;
			if (n == 0)
				return 0;
			if (f->have + n > f->cap && body_grow(f, f->have + n) != 0)
				return CAM_ENOMEM;
			memcpy(f->buf + f->have, data, n);
			f->have += n;
			data += n;
			len -= n;
			if (f->have < f->msg_len)
				return 0;
		}
		rc = deliver(f, fn, arg);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void cam_grpc_wire_put_header(uint8_t out[CAM_GRPC_WIRE_HEADER], size_t len)
{
	out[0] = 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

/* Grows *buf so that it holds at least need bytes, up to max. */
static int grow(uint8_t **buf, size_t *cap, size_t need, size_t max)
{
	size_t ncap = *cap ? *cap : 4096;
	uint8_t *nbuf;

	if (need > max)
		return CAM_ELIMIT;
	while (ncap < need)
		ncap *= 2;
	if (ncap > max)
		ncap = max;
	nbuf = cam_tcache_realloc(*buf, ncap ? ncap : 1);
	if (!nbuf)
		return CAM_ENOMEM;
	*buf = nbuf;
	*cap = ncap;
	return 0;
}

int cam_grpc_wire_gunzip(const uint8_t *in, size_t len, size_t max,
			 uint8_t **out, size_t *out_len)
{
	z_stream z;
	uint8_t *buf = NULL, probe;
	size_t cap = 0;
	int zrc, rc = 0;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return CAM_ENOMEM;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	for (;;) {
		if (z.total_out == cap) {
			if (cap == max) {
				/* Full: one more byte means too large. */
				z.next_out = &probe;
				z.avail_out = 1;
				zrc = inflate(&z, Z_NO_FLUSH);
				if (z.avail_out == 0)
					rc = CAM_ELIMIT;
				else if (zrc != Z_STREAM_END)
					rc = CAM_EPROTO;
				break;
			}
			rc = grow(&buf, &cap, cap + 1, max);
			if (rc)
				break;
		}
		z.next_out = buf + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		zrc = inflate(&z, Z_NO_FLUSH);
		if (zrc == Z_STREAM_END)
			break;
		if (zrc != Z_OK && !(zrc == Z_BUF_ERROR && z.avail_out == 0)) {
			rc = zrc == Z_MEM_ERROR ? CAM_ENOMEM : CAM_EPROTO;
			break;
		}
		if (z.avail_in == 0 && z.avail_out > 0) {
			rc = CAM_EPROTO; /* truncated */
			break;
		}
	}
	if (rc == 0) {
		*out_len = z.total_out;
		*out = buf;
		buf = NULL;
	}
	inflateEnd(&z);
	cam_tcache_free(buf);
	return rc;
}
