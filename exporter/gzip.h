/*
 * gzip of a rendered /metrics body, for clients that send
 * Accept-Encoding: gzip (Prometheus always does).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_GZIP_H
#define CAM_EXPORTER_GZIP_H

#include <stddef.h>
#include <stdint.h>

/*
 * Compresses in[0..len) into a gzip stream (RFC 1952) at zlib's fastest
 * level: metric text shrinks about tenfold even so, and a scrape should
 * cost little CPU. On 0, *out (malloc'd; the caller frees) and *out_len
 * hold the stream; CAM_EINTERNAL when zlib fails (nothing to free).
 */
int cam_gzip(const void *in, size_t len, void **out, size_t *out_len);

/*
 * One gzip member made of two pieces compressed apart, so the first can be
 * kept and the second made anew for each response (the scrape cache: the
 * kernel's families once per snapshot, the exporter's at every scrape).
 * cam_gzip_head gives the gzip header and the deflate blocks of head,
 * flushed to a byte boundary with no history carried over (Z_FULL_FLUSH)
 * and not final, and head's CRC-32. cam_gzip_tail gives the final deflate
 * blocks of tail and the trailer, whose CRC and length cover head and tail
 * (crc32_combine). Either piece alone is not a gzip stream; head followed
 * by tail is one. Same returns and ownership as cam_gzip.
 */
int cam_gzip_head(const void *head, size_t len, void **out, size_t *out_len,
		  uint32_t *crc);
int cam_gzip_tail(const void *tail, size_t len, uint32_t head_crc, size_t head_len,
		  void **out, size_t *out_len);

#endif
