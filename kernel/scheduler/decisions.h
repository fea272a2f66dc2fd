/*
 * The bounded ring of recent scheduling decisions that explain_action
 * reads. Workers write a slot each after a call; slots are guarded by a
 * few striped locks, so two workers rarely meet and a reader scanning the
 * ring holds one small lock at a time.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SCHED_DECISIONS_H
#define CAM_SCHED_DECISIONS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "kernel/scheduler/scheduler.h"

#define CAM_SCHED_RING_STRIPES 16

struct cam_sched_ring {
	struct cam_sched_decision *slots;
	size_t n;
	atomic_size_t next;
	pthread_mutex_t locks[CAM_SCHED_RING_STRIPES];
};

/* n slots (aborts when out of memory: a fixed size at start). */
void cam_sched__ring_init(struct cam_sched_ring *r, size_t n);
void cam_sched__ring_free(struct cam_sched_ring *r);
void cam_sched__ring_put(struct cam_sched_ring *r, const struct cam_sched_decision *d);
/* Newest first; 0 or CAM_ENOENT. */
int cam_sched__ring_find(struct cam_sched_ring *r, const char *request_id,
			const char *trace_id, struct cam_sched_decision *out);

#endif
