/*
 * The fair queue of one scheduler class (see fair.h).
 *
 * A slot's word is (tag << 32 | count): tag tells whose tasks the slot
 * holds (the high half of the caller's key), count how many are queued
 * (counted before the push, uncounted after the pop, so a count of 0
 * means the inbox and the outbox are empty). Every change of the word is
 * a compare-and-swap or, for the pop, a subtraction that cannot borrow
 * into the tag.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/scheduler/fair.h"

#include <sched.h>
#include <stdlib.h>

#include "common/xmalloc.h"

#define MASK ((uint64_t)CAM_SCHED_FAIR_SLOTS - 1)
/* Slots a pop may find not yet pushed before it gives up for now. */
#define POP_TRIES 4

_Static_assert((CAM_SCHED_FAIR_SLOTS & (CAM_SCHED_FAIR_SLOTS - 1)) == 0,
	       "the slot count is a power of two");

struct cam_sched_fair_slot {
	_Atomic uint64_t word;                  /* tag << 32 | tasks queued */
	_Atomic(struct cam_grpc_task *) inbox;  /* pushed, newest first */
	struct cam_grpc_task *outbox;           /* the holder's, oldest first */
	uint64_t unused;                        /* 32 bytes: two slots a line */
};

static uint32_t count_of(uint64_t w)
{
	return (uint32_t)w;
}

static uint32_t tag_of(uint64_t w)
{
	return (uint32_t)(w >> 32);
}

void cam_sched__fair_init(struct cam_sched_fair *f)
{
	f->slots = cam_xcalloc(CAM_SCHED_FAIR_SLOTS, sizeof(*f->slots));
	/* Twice the slots: a push never waits on a pop still finishing. */
	cam_sched__queue_init(&f->fresh, 2 * CAM_SCHED_FAIR_SLOTS);
	cam_sched__queue_init(&f->ring, 2 * CAM_SCHED_FAIR_SLOTS);
}

void cam_sched__fair_free(struct cam_sched_fair *f)
{
	free(f->slots);
	f->slots = NULL;
	cam_sched__queue_free(&f->fresh);
	cam_sched__queue_free(&f->ring);
}

/* Puts a slot at the end of a ring. Each has room for every slot twice,
 * so this waits only when a pop was stopped half-way for that long. */
static void ring_put(struct cam_sched_queue *q, struct cam_sched_fair_slot *s)
{
	while (!cam_sched__queue_push(q, s))
		sched_yield();
}

enum add { ADD_CLAIMED, ADD_JOINED, ADD_FULL, ADD_OTHER };

/*
 * Counts one more task in s for tag: claims s when it is free, joins it
 * when it holds tag's tasks (or anybody's, with any), and says ADD_FULL
 * when it already holds cap, ADD_OTHER when another caller holds it.
 * *foreign: the tasks it held were another caller's.
 */
static enum add slot_add(struct cam_sched_fair_slot *s, uint32_t tag, bool any, unsigned cap,
			 bool *foreign)
{
	uint64_t w = atomic_load_explicit(&s->word, memory_order_relaxed);

	for (;;) {
		uint32_t n = count_of(w);
		uint64_t want;

		*foreign = n > 0 && tag_of(w) != tag;
		if (n == 0)
			want = (uint64_t)tag << 32 | 1;
		else if (*foreign && !any)
			return ADD_OTHER;
		else if (n >= cap)
			return ADD_FULL;
		else
			want = w + 1;
		if (atomic_compare_exchange_weak_explicit(&s->word, &w, want, memory_order_acq_rel,
							  memory_order_relaxed))
			return n == 0 ? ADD_CLAIMED : ADD_JOINED;
	}
}

static void inbox_push(struct cam_sched_fair_slot *s, struct cam_grpc_task *t)
{
	struct cam_grpc_task *head = atomic_load_explicit(&s->inbox, memory_order_relaxed);

	do
		t->next = head;
	while (!atomic_compare_exchange_weak_explicit(&s->inbox, &head, t, memory_order_release,
						      memory_order_relaxed));
}

enum cam_sched_fair_result cam_sched__fair_push(struct cam_sched_fair *f,
						struct cam_grpc_task *t, uint64_t key,
						unsigned cap)
{
	uint32_t tag = (uint32_t)(key >> 32);
	uint64_t home = key & MASK;
	struct cam_sched_fair_slot *s = NULL;
	enum add r = ADD_OTHER;
	bool foreign = false;

	/* A slot this caller holds already... */
	for (unsigned i = 0; i < CAM_SCHED_FAIR_PROBES && r == ADD_OTHER; i++) {
		uint64_t w;

		s = &f->slots[(home + i) & MASK];
		w = atomic_load_explicit(&s->word, memory_order_relaxed);
		if (count_of(w) && tag_of(w) == tag)
			r = slot_add(s, tag, false, cap, &foreign);
	}
	/* ...else the first free one... */
	for (unsigned i = 0; i < CAM_SCHED_FAIR_PROBES && r == ADD_OTHER; i++) {
		s = &f->slots[(home + i) & MASK];
		r = slot_add(s, tag, false, cap, &foreign);
	}
	/* ...else its home slot, shared with whoever holds it. */
	if (r == ADD_OTHER) {
		s = &f->slots[home];
		r = slot_add(s, tag, true, cap, &foreign);
	}
	if (r == ADD_FULL)
		return foreign ? CAM_SCHED_FAIR_CAPPED_SHARED : CAM_SCHED_FAIR_CAPPED;
	inbox_push(s, t);
	if (r == ADD_CLAIMED)
		ring_put(&f->fresh, s);
	return foreign ? CAM_SCHED_FAIR_SHARED : CAM_SCHED_FAIR_QUEUED;
}

/* The slot's oldest task; only its holder calls this. NULL when the task
 * its count promises is not pushed yet. */
static struct cam_grpc_task *slot_take(struct cam_sched_fair_slot *s)
{
	struct cam_grpc_task *t = s->outbox;

	if (!t) {
		struct cam_grpc_task *l =
			atomic_exchange_explicit(&s->inbox, NULL, memory_order_acquire);

		while (l) { /* newest first: reversed, oldest first */
			struct cam_grpc_task *next = l->next;

			l->next = t;
			t = l;
			l = next;
		}
	}
	if (t)
		s->outbox = t->next;
	return t;
}

struct cam_grpc_task *cam_sched__fair_pop(struct cam_sched_fair *f)
{
	for (int i = 0; i < POP_TRIES; i++) {
		struct cam_sched_fair_slot *s = cam_sched__queue_pop(&f->fresh);
		struct cam_grpc_task *t;
		uint64_t was;

		if (!s && !(s = cam_sched__queue_pop(&f->ring)))
			return NULL;
		if (!(t = slot_take(s))) {
			ring_put(&f->ring, s); /* its producer is between count and push */
			continue;
		}
		was = atomic_fetch_sub_explicit(&s->word, 1, memory_order_acq_rel);
		if (count_of(was) > 1)
			ring_put(&f->ring, s); /* its next turn, after every other slot's */
		return t;
	}
	return NULL;
}

void cam_sched__fair_callers(struct cam_sched_fair *f, unsigned *callers, unsigned *most)
{
	*callers = *most = 0;
	for (size_t i = 0; i < CAM_SCHED_FAIR_SLOTS; i++) {
		uint32_t n = count_of(atomic_load_explicit(&f->slots[i].word, memory_order_relaxed));

		if (n) {
			(*callers)++;
			if (n > *most)
				*most = n;
		}
	}
}
