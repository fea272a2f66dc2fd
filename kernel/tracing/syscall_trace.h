/*
 * The trace of one syscall: when a request carries a trace context (a W3C
 * traceparent metadata entry, or a trace id its payload gave, as emit_trace
 * does), the syscall gets a span of its own (kind SERVER, child of the
 * caller's span) in the span ring, and its latency becomes the exemplar of
 * its cam_os_syscall_duration_seconds series. Untraced calls cost a
 * branch.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_TRACING_SYSCALL_TRACE_H
#define CAM_TRACING_SYSCALL_TRACE_H

#include <stdint.h>

#include "common/metrics.h"
#include "kernel/tracing/span_ring.h"

/* What the dispatcher knows about a finished call. Strings may be NULL
 * where noted; all are borrowed for the call. */
struct cam_syscall_done {
	const char *verb;        /* verb label ("unknown" outside the table) */
	const char *request_id;
	const char *caller_id;   /* may be NULL */
	const char *error;       /* the message when status is not OK */
	int status;              /* gRPC status */
	double seconds;          /* its latency */
	cam_series *duration;    /* its duration series */
	const char *traceparent; /* the request's traceparent; NULL: none */
	const char *trace_id;    /* 32 hex the payload gave (emit_trace); "" or NULL: none */
	const char *span_id;     /* the payload's span_id, the parent then; may be NULL */
	char *span_out;          /* NULL, or 17 bytes: the call's own span id when traced, else "" */
};

/*
 * Observes d->seconds in d->duration (with an exemplar when traced) and,
 * when traced and ring is not NULL, pushes the syscall's span. Never
 * blocks; can't fail.
 */
void cam_syscall_trace_done(cam_span_ring *ring, const struct cam_syscall_done *d);

#endif
