/*
 * A bounded multi-producer multi-consumer FIFO of pointers (Dmitry
 * Vyukov's array queue): one compare-and-swap per push or pop, no lock, no
 * allocation after init. Each cell carries a sequence number telling
 * producers and consumers whose turn it is, so a push and a pop on
 * different cells never touch the same cache line but the two indices.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SCHED_QUEUE_H
#define CAM_SCHED_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct cam_sched_cell;

struct cam_sched_queue {
	struct cam_sched_cell *cells;
	size_t mask;
	_Alignas(64) atomic_size_t head;  /* next push */
	_Alignas(64) atomic_size_t tail;  /* next pop */
};

/* Capacity is rounded up to a power of two. Aborts when out of memory
 * (a fixed-size allocation at start). */
void cam_sched__queue_init(struct cam_sched_queue *q, size_t capacity);
void cam_sched__queue_free(struct cam_sched_queue *q);
/* False when full. */
bool cam_sched__queue_push(struct cam_sched_queue *q, void *p);
/* NULL when empty. */
void *cam_sched__queue_pop(struct cam_sched_queue *q);

#endif
