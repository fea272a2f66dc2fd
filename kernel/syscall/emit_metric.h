/*
 * emit_metric: applications' own counters and gauges (emit_metric.c says
 * how they are checked and bounded).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_EMIT_METRIC_H
#define CAM_SYSCALL_EMIT_METRIC_H

#include <stddef.h>

#include "kernel/syscall/verbs.h"

typedef struct cam_emit_metric cam_emit_metric;

struct cam_emit_metric_opts {
	cam_verbs *verbs;     /* borrowed: the row goes here */
	size_t families_max;  /* custom families it may create (0: 100; at most 1024) */
	size_t series_max;    /* series per custom family (0: the registry's default) */
	/* Series one caller may make (CAM_METRICS_MAX_SERIES_PER_CALLER; 0:
	 * no quota). Counted per caller in a fixed table of 4096 counters
	 * (callers whose names hash alike share one), so a flood of made-up
	 * anonymous names cannot grow memory. */
	size_t series_per_caller;
};

/* Adds emit_metric. 0 or cam_verbs_add's code. */
int cam_emit_metric_new(const struct cam_emit_metric_opts *o, cam_emit_metric **out);
/* Removes the row; NULL is a no-op. */
void cam_emit_metric_free(cam_emit_metric *em);

#endif
