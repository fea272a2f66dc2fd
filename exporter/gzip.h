/*
 * gzip of a rendered /metrics body, for clients that send
 * Accept-Encoding: gzip (Prometheus always does).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_GZIP_H
#define CAM_EXPORTER_GZIP_H

#include <stddef.h>

/*
 * Compresses in[0..len) into a gzip stream (RFC 1952) at zlib's fastest
 * level: metric text shrinks about tenfold even so, and a scrape should
 * cost little CPU. On 0, *out (malloc'd; the caller frees) and *out_len
 * hold the stream; CAM_EINTERNAL when zlib fails (nothing to free).
 */
int cam_gzip(const void *in, size_t len, void **out, size_t *out_len);

#endif
