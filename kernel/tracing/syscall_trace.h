/*
 * The trace of one syscall: when a request carries a trace context (a W3C
 * traceparent metadata entry, or a trace id its payload gave, as emit_trace
 * does), the syscall gets a span of its own (kind SERVER, child of the
 * caller's span) in the span ring, and its latency becomes the exemplar of
 * its cam_os_syscall_duration_seconds series. Untraced calls cost one
 * metadata lookup and a branch.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_TRACING_SYSCALL_TRACE_H
#define CAM_TRACING_SYSCALL_TRACE_H

#include <stdint.h>

#include "common/metrics.h"
#include "kernel/syscall/syscall.h"

struct cam_grpc_call;

/* What dispatch knows about a finished call. */
struct cam_syscall_done {
	const char *verb;       /* verb label ("unknown" outside the table) */
	const char *request_id;
	int status;             /* gRPC code */
	int64_t start_mono_ns;  /* CLOCK_MONOTONIC when the call began */
	double seconds;         /* its latency */
	cam_series *duration;   /* its duration series */
};

/*
 * Observes d->seconds in d->duration (with an exemplar when traced) and,
 * when traced, pushes the syscall's span. Never blocks; can't fail.
 */
void cam_syscall_trace_done(const struct cam_syscall *sc,
			    const struct cam_grpc_call *call,
			    const struct cam_syscall_done *d);

#endif
