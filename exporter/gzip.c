/* The one-shot gzip of gzip.h: deflateBound sizes the output, one deflate. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "exporter/gzip.h"

#include <stdint.h>
#include <stdlib.h>
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
