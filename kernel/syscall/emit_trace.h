/*
 * emit_trace: a span from the caller, into the span ring the publisher
 * ships to the exporter (emit_trace.c says what the payload holds).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_EMIT_TRACE_H
#define CAM_SYSCALL_EMIT_TRACE_H

#include "kernel/syscall/verbs.h"
#include "kernel/tracing/span_ring.h"

typedef struct cam_emit_trace cam_emit_trace;

/* Adds emit_trace to verbs, pushing into spans (both borrowed: they must
 * outlive the object). CAM_EINVAL without spans, or cam_verbs_add's code. */
int cam_emit_trace_new(cam_verbs *verbs, cam_span_ring *spans, cam_emit_trace **out);
/* Removes the row; NULL is a no-op. */
void cam_emit_trace_free(cam_emit_trace *et);

#endif
