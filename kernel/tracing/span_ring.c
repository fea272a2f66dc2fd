/*
 * The span ring (span_ring.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/tracing/span_ring.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/metrics_table.h"
#include "common/xmalloc.h"

enum { M_ACCEPTED, M_DROPPED, NMETRICS };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_ACCEPTED] = { .name = "cam_os_trace_spans_total",
			 .help = "Spans accepted from emit_trace and traced syscalls.",
			 .type = CAM_COUNTER },
	[M_DROPPED] = { .name = "cam_os_trace_spans_dropped_total",
			.help = "Spans overwritten in the kernel's span ring before they were shipped.",
			.type = CAM_COUNTER },
};

struct cam_span_ring {
	pthread_mutex_t lock;
	struct cam_span *ring;
	size_t cap, head, count;
	cam_series *accepted, *dropped;
};

int cam_span_ring_new(size_t capacity, cam_span_ring **out)
{
	cam_family *fam[NMETRICS];
	cam_span_ring *r;
	char why[160];
	int rc = cam_metrics_table_register(metrics, NMETRICS, fam, why, sizeof(why));

	if (rc) {
		cam_log(CAM_LOG_ERROR, "tracing", "%s", why);
		return rc;
	}
	r = cam_xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->cap = capacity ? capacity : CAM_SPAN_RING_DEFAULT;
	r->ring = cam_xcalloc(r->cap, sizeof(*r->ring));
	r->accepted = cam_series_get(fam[M_ACCEPTED], NULL);
	r->dropped = cam_series_get(fam[M_DROPPED], NULL);
	*out = r;
	return 0;
}

void cam_span_ring_free(cam_span_ring *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->ring);
	free(r);
}

void cam_span_ring_push(cam_span_ring *r, const struct cam_span *s)
{
	int overwrote = 0;

	pthread_mutex_lock(&r->lock);
	r->ring[(r->head + r->count) % r->cap] = *s;
	if (r->count == r->cap) {
		r->head = (r->head + 1) % r->cap;
		overwrote = 1;
	} else {
		r->count++;
	}
	pthread_mutex_unlock(&r->lock);
	cam_counter_inc(r->accepted);
	if (overwrote)
		cam_counter_inc(r->dropped);
}

size_t cam_span_ring_drain(cam_span_ring *r, struct cam_span *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&r->lock);
	while (n < max && r->count > 0) {
		out[n++] = r->ring[r->head];
		r->head = (r->head + 1) % r->cap;
		r->count--;
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

size_t cam_span_ring_pending(cam_span_ring *r)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	n = r->count;
	pthread_mutex_unlock(&r->lock);
	return n;
}
