/*
 * The ring of a scheduler class's fair queue (fair.h; see queue.h). After
 * https://www.1024cores.net/home/lock-free-algorithms/queues/bounded-mpmc-queue:
 * cell i is free for the push of position pos when seq == pos, and holds
 * the value for the pop of position pos when seq == pos + 1.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/scheduler/queue.h"

#include <stdint.h>
#include <stdlib.h>

#include "common/xmalloc.h"

struct cam_sched_cell {
	atomic_size_t seq;
	void *data;
};

void cam_sched__queue_init(struct cam_sched_queue *q, size_t capacity)
{
	size_t n = 2;

	while (n < capacity)
		n <<= 1;
	q->cells = cam_xcalloc(n, sizeof(*q->cells));
	q->mask = n - 1;
	for (size_t i = 0; i < n; i++)
		atomic_init(&q->cells[i].seq, i);
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
}

void cam_sched__queue_free(struct cam_sched_queue *q)
{
	free(q->cells);
	q->cells = NULL;
}

bool cam_sched__queue_push(struct cam_sched_queue *q, void *p)
{
	size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	struct cam_sched_cell *c;

	for (;;) {
		size_t seq;
		intptr_t dif;

		c = &q->cells[pos & q->mask];
		seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		dif = (intptr_t)seq - (intptr_t)pos;
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (dif < 0) {
			return false;
		} else {
			pos = atomic_load_explicit(&q->head, memory_order_relaxed);
		}
	}
	c->data = p;
	atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
	return true;
}

void *cam_sched__queue_pop(struct cam_sched_queue *q)
{
	size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
	struct cam_sched_cell *c;
	void *p;

	for (;;) {
		size_t seq;
		intptr_t dif;

		c = &q->cells[pos & q->mask];
		seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		dif = (intptr_t)seq - (intptr_t)(pos + 1);
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (dif < 0) {
			return NULL;
		} else {
			pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
		}
	}
	p = c->data;
	atomic_store_explicit(&c->seq, pos + q->mask + 1, memory_order_release);
	return p;
}
