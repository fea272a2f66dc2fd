/*
 * The span ring: spans from emit_trace and traced syscalls
 * (syscall_trace.h) wait here for the publisher (kernel/publisher.h) to
 * ship them to the exporter in batches. Bounded: when it is full the
 * oldest span is overwritten and counted as dropped.
 *
 * Any thread may push, drain or ask at any time; a mutex is enough, since
 * a push is one struct copy and traced calls are not the per-syscall hot
 * path.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_TRACING_SPAN_RING_H
#define CAM_TRACING_SPAN_RING_H

#include <stddef.h>
#include <stdint.h>

struct cam_span {
	char trace_id[33];
	char span_id[17];
	char parent_span_id[17]; /* "" = root */
	char name[128];
	char service[64];
	int64_t start_unix_ns;
	int64_t duration_ns;
	int error;               /* status error */
	int server;              /* a syscall's own span (kind SERVER) */
	char attributes[512];    /* k=v,k2=v2 (payload grammar value) */
	char original_trace_id[65]; /* when the id was mapped; else "" */
	char original_span_id[65];
};

typedef struct cam_span_ring cam_span_ring;

#define CAM_SPAN_RING_DEFAULT 4096

/*
 * A ring of capacity spans (0: CAM_SPAN_RING_DEFAULT) that counts in
 * cam_os_trace_spans_total and cam_os_trace_spans_dropped_total. 0, or a
 * CAM_E* code when the families cannot be registered (*out untouched).
 */
int cam_span_ring_new(size_t capacity, cam_span_ring **out);
/* Spans still waiting are lost. NULL is a no-op. */
void cam_span_ring_free(cam_span_ring *r);
void cam_span_ring_push(cam_span_ring *r, const struct cam_span *s);
/* Moves up to max of the oldest spans into out; returns how many. */
size_t cam_span_ring_drain(cam_span_ring *r, struct cam_span *out, size_t max);
/* Spans waiting now. */
size_t cam_span_ring_pending(cam_span_ring *r);

#endif
