/* SPDX-License-Identifier: Apache-2.0 */
/* The span ring: see spans.h. A mutex is enough: emit_trace is not the
 * per-syscall hot path, and the critical section is one struct copy. */
#include "kernel/syscall/spans.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "common/xmalloc.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct cam_span *ring;
static size_t cap = 4096, head, count;
static cam_series *accepted, *dropped;

void cam_spans_init(size_t capacity)
{
	cam_family *f;

	pthread_mutex_lock(&lock);
	if (!ring) {
		cap = capacity ? capacity : 4096;
		ring = cam_xcalloc(cap, sizeof(*ring));
	}
	pthread_mutex_unlock(&lock);
	if (cam_family_register(&(struct cam_family_desc){
					.name = "cam_os_trace_spans_total",
					.help = "Spans accepted from emit_trace and traced syscalls.",
					.type = CAM_COUNTER },
				&f, NULL) == 0)
		accepted = cam_series_get(f, NULL);
	if (cam_family_register(&(struct cam_family_desc){
					.name = "cam_os_trace_spans_dropped_total",
					.help = "Spans overwritten in the kernel's span ring before they were shipped.",
					.type = CAM_COUNTER },
				&f, NULL) == 0)
		dropped = cam_series_get(f, NULL);
}

void cam_spans_push(const struct cam_span *s)
{
	int overwrote = 0;

	pthread_mutex_lock(&lock);
	if (!ring)
		ring = cam_xcalloc(cap, sizeof(*ring));
	ring[(head + count) % cap] = *s;
	if (count == cap) {
		head = (head + 1) % cap;
		overwrote = 1;
	} else {
		count++;
	}
	pthread_mutex_unlock(&lock);
	cam_counter_inc(accepted);
	if (overwrote)
		cam_counter_inc(dropped);
}

size_t cam_spans_drain(struct cam_span *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&lock);
	while (n < max && count > 0) {
		out[n++] = ring[head];
		head = (head + 1) % cap;
		count--;
	}
	pthread_mutex_unlock(&lock);
	return n;
}

size_t cam_spans_pending(void)
{
	size_t n;

	pthread_mutex_lock(&lock);
	n = count;
	pthread_mutex_unlock(&lock);
	return n;
}
