/* The gzip of gzip.h: deflateBound sizes the output, one deflate call; the
 * two-piece member uses raw deflate (no zlib or gzip framing) and writes
 * the RFC 1952 header and trailer itself. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "exporter/gzip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/error.h"
#include "common/xmalloc.h"

/* 15 bits of window, +16 for a gzip header and trailer instead of zlib's. */
#define GZIP_WINDOW_BITS (15 + 16)

int cam_gzip(const void *in, size_t len, void **out, size_t *out_len)
{
	z_stream z = {0};
	unsigned char *buf;
	size_t cap;
	int rc = CAM_EINTERNAL;

	if (len > (size_t)UINT32_MAX / 2)
		return CAM_EINVAL;
	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, GZIP_WINDOW_BITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return CAM_EINTERNAL;
	cap = deflateBound(&z, (uLong)len);
	buf = cam_xmalloc(cap);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
		*out = buf;
		*out_len = cap - z.avail_out;
		rc = 0;
	} else {
		free(buf);
	}
	deflateEnd(&z);
	return rc;
}

#define RAW_WINDOW_BITS (-15)

/* Raw deflate of in with flush, appended to buf at *pos (room reserved). */
static int raw_deflate(const void *in, size_t len, int flush, unsigned char *buf, size_t cap,
		       size_t *pos)
{
	z_stream z = {0};
	int rc;

	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, RAW_WINDOW_BITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return CAM_EINTERNAL;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = buf + *pos;
	z.avail_out = (uInt)(cap - *pos);
	rc = deflate(&z, flush);
	*pos = cap - z.avail_out;
	deflateEnd(&z);
	if (flush == Z_FINISH ? rc != Z_STREAM_END : (rc != Z_OK || z.avail_in))
		return CAM_EINTERNAL;
	return 0;
}

/* deflateBound for raw deflate, plus room for a flush's empty block. */
static size_t raw_bound(size_t len)
{
	return len + len / 1000 + (len >> 12) + (len >> 14) + (len >> 25) + 64;
}

int cam_gzip_head(const void *head, size_t len, void **out, size_t *out_len, uint32_t *crc)
{
	static const unsigned char header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	size_t cap, pos = sizeof(header);
	unsigned char *buf;

	if (len > (size_t)UINT32_MAX / 2)
		return CAM_EINVAL;
	cap = raw_bound(len) + sizeof(header);
	buf = cam_xmalloc(cap);
	memcpy(buf, header, sizeof(header));
	if (raw_deflate(head, len, Z_FULL_FLUSH, buf, cap, &pos)) {
		free(buf);
		return CAM_EINTERNAL;
	}
	*crc = (uint32_t)crc32(0, head, (uInt)len);
	*out = buf;
	*out_len = pos;
	return 0;
}

int cam_gzip_tail(const void *tail, size_t len, uint32_t head_crc, size_t head_len,
		  void **out, size_t *out_len)
{
	size_t cap, pos = 0;
	unsigned char *buf;
	uint32_t crc, total;

	if (len > (size_t)UINT32_MAX / 2)
		return CAM_EINVAL;
	cap = raw_bound(len) + 8;
	buf = cam_xmalloc(cap);
	if (raw_deflate(tail, len, Z_FINISH, buf, cap - 8, &pos)) {
		free(buf);
		return CAM_EINTERNAL;
	}
	crc = (uint32_t)crc32_combine(head_crc, crc32(0, tail, (uInt)len), (z_off_t)len);
	total = (uint32_t)(head_len + len); /* ISIZE: the length modulo 2^32 */
	for (int i = 0; i < 4; i++)
		buf[pos++] = (unsigned char)(crc >> (8 * i));
	for (int i = 0; i < 4; i++)
		buf[pos++] = (unsigned char)(total >> (8 * i));
	*out = buf;
	*out_len = pos;
	return 0;
}
