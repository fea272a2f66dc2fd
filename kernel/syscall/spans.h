/*
 * The span ring: spans from emit_trace and traced syscalls
 * (kernel/tracing/syscall_trace.h) wait here for the publisher to ship them
 * to the exporter in batches. Bounded: when it is full the oldest span is
 * overwritten and counted as dropped.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_SPANS_H
#define CAM_SYSCALL_SPANS_H

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

/* Sets the ring size (before first use; default 4096) and registers
 * cam_os_trace_spans_total and cam_os_trace_spans_dropped_total. */
void cam_spans_init(size_t capacity);
void cam_spans_push(const struct cam_span *s);
/* Moves up to max of the oldest spans into out; returns how many. */
size_t cam_spans_drain(struct cam_span *out, size_t max);
/* Spans waiting now. */
size_t cam_spans_pending(void);

#endif
