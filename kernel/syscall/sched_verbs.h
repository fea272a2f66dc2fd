/*
 * The scheduler's verbs (think, explain_action, tune_system) and its
 * "Scheduler" health component.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_SCHED_VERBS_H
#define CAM_SYSCALL_SCHED_VERBS_H

#include "kernel/scheduler/scheduler.h"
#include "kernel/syscall/components.h"
#include "kernel/syscall/verbs.h"

typedef struct cam_sched_verbs cam_sched_verbs;

/* Borrowed pointers: each must outlive the object. */
struct cam_sched_verbs_opts {
	cam_verbs *verbs;            /* the rows go here */
	cam_components *components;  /* may be NULL: no health probe */
	cam_sched *sched;            /* required */
};

/* Adds the rows and the probe. CAM_EINVAL without a scheduler, or the
 * registry's code. */
int cam_sched_verbs_new(const struct cam_sched_verbs_opts *o, cam_sched_verbs **out);
/* Clears the probe, removes the rows; NULL is a no-op. */
void cam_sched_verbs_free(cam_sched_verbs *v);

#endif
