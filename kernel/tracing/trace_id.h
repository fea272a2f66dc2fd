/*
 * Trace and span ids: W3C hex ids are kept as given; anything else is
 * mapped to a stable id of the right width (the same input always gives
 * the same id, across runs and machines), so traces from callers with
 * their own id schemes still join up.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_TRACING_TRACE_ID_H
#define CAM_TRACING_TRACE_ID_H

#include <stdbool.h>
#include <stddef.h>

/* n lower-case hex digits, not all zero (W3C trace-context rules). */
bool cam_trace_id_is_w3c(const char *s, size_t n);
/*
 * Writes the id for `in` into out (hex_len + 1 bytes; hex_len 32 for trace
 * ids, 16 for span ids). Returns true when `in` was used as given, false
 * when it was mapped.
 */
bool cam_trace_id_normalize(const char *in, size_t hex_len, char *out);

#endif
