/*
 * The ring of recent decisions (see decisions.h): a slot index taken with
 * one atomic add, the copy made under the slot's stripe lock.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/scheduler/decisions.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xmalloc.h"

void cam_sched__ring_init(struct cam_sched_ring *r, size_t n)
{
	r->n = n ? n : 1;
	r->slots = cam_xcalloc(r->n, sizeof(*r->slots));
	atomic_init(&r->next, 0);
	for (size_t i = 0; i < CAM_SCHED_RING_STRIPES; i++)
		pthread_mutex_init(&r->locks[i], NULL);
}

void cam_sched__ring_free(struct cam_sched_ring *r)
{
	if (!r->slots)
		return;
	for (size_t i = 0; i < CAM_SCHED_RING_STRIPES; i++)
		pthread_mutex_destroy(&r->locks[i]);
	free(r->slots);
	r->slots = NULL;
}

void cam_sched__ring_put(struct cam_sched_ring *r, const struct cam_sched_decision *d)
{
	size_t i = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed) % r->n;
	pthread_mutex_t *l = &r->locks[i % CAM_SCHED_RING_STRIPES];

	pthread_mutex_lock(l);
	r->slots[i] = *d;
	/* It points into the call's message, which goes with the call. */
	r->slots[i].sched.caller_name = NULL;
	r->slots[i].sched.caller_name_len = 0;
	pthread_mutex_unlock(l);
}

static bool matches(const struct cam_sched_decision *d, const char *request_id,
		    const char *trace_id)
{
	if (request_id)
		return d->request_id[0] && strcmp(d->request_id, request_id) == 0;
	return trace_id && trace_id[0] && strcmp(d->trace_id, trace_id) == 0;
}

int cam_sched__ring_find(struct cam_sched_ring *r, const char *request_id,
			const char *trace_id, struct cam_sched_decision *out)
{
	size_t start = atomic_load_explicit(&r->next, memory_order_relaxed) % r->n;

	for (size_t k = 1; k <= r->n; k++) {
		size_t i = (start + r->n - k) % r->n;
		pthread_mutex_t *l = &r->locks[i % CAM_SCHED_RING_STRIPES];
		bool hit;

		pthread_mutex_lock(l);
		hit = matches(&r->slots[i], request_id, trace_id);
		if (hit)
			*out = r->slots[i];
		pthread_mutex_unlock(l);
		if (hit)
			return 0;
	}
	return CAM_ENOENT;
}
