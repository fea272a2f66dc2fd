/*
 * One scheduler class as a fair queue: callers served in turn, each with a
 * cap on what it may queue.
 *
 * A fixed table of slots, each a FIFO of one caller's tasks (intrusive,
 * through task->next: nothing is allocated per call), and two rings of
 * the slots that have work: fresh ones (a caller that had nothing queued)
 * and the rest. A pop takes the first fresh slot, else the ring's first
 * slot, one task from it, and puts the slot at the end of the ring while
 * it has more: round robin, one call a turn, so a caller with a thousand
 * calls queued and one with a single call alternate, and a caller that
 * keeps nothing queued (one call at a time) waits for nobody's backlog
 * (fq_codel's new flows, RFC 8290). Callers with a backlog share what the
 * fresh ones leave: many callers each sending one call at a time can use
 * every worker, and then a caller with a backlog waits. A caller is a 64-bit key; it finds its slot by
 * probing CAM_SCHED_FAIR_PROBES slots from the one its key hashes to:
 * first one it already holds, else the first free one (a slot is free when
 * it holds no task, and is then anybody's). When every probed slot holds
 * another caller's tasks, the caller shares its home slot with that
 * caller: their turn and their cap are one. So memory is fixed whatever
 * the number of callers (a flood of distinct names claims free slots,
 * then shares), and callers with tasks queued at the same time have slots
 * of their own unless more than a probe window of them crowd together.
 * One caller's tasks come out in the order they went in, except for a
 * caller that had to share: it is not its host slot's owner, so its next
 * task may claim a slot freed meanwhile and be served before the ones it
 * left in the host; its tasks queued then count against two caps (at
 * most CAM_SCHED_FAIR_PROBES + 1) until the host slot drains.
 *
 * Lock-free: a slot's word holds (owner tag, tasks queued) and changes by
 * compare-and-swap; producers push onto the slot's inbox (a Treiber
 * stack); the one consumer holding the slot (the one that took it off a
 * ring) reverses the inbox into its outbox. Whoever moves a slot's count
 * from 0 to 1 puts it on the fresh ring, and the consumer puts it back
 * (on the other) only while its count stays above 0, so a slot is on one
 * ring at most once. A slot whose count says a task is there before the
 * producer has pushed it (between its two steps) goes to the ring for a
 * later turn.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SCHED_FAIR_H
#define CAM_SCHED_FAIR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/grpc/pool.h"
#include "kernel/scheduler/queue.h"

/* Slots of one class (a power of two), and how many a caller probes. */
#define CAM_SCHED_FAIR_SLOTS 4096
#define CAM_SCHED_FAIR_PROBES 8

struct cam_sched_fair_slot;

struct cam_sched_fair {
	struct cam_sched_fair_slot *slots;
	/* Slots with work, each on one of them at most once. */
	struct cam_sched_queue fresh; /* had nothing queued: first */
	struct cam_sched_queue ring;  /* served and still have work: in turn */
};

/* What cam_sched__fair_push did with a task. */
enum cam_sched_fair_result {
	CAM_SCHED_FAIR_QUEUED,   /* in a slot of its caller's own */
	CAM_SCHED_FAIR_SHARED,   /* in a slot shared with another caller */
	CAM_SCHED_FAIR_CAPPED,   /* not queued: its slot holds cap tasks */
	CAM_SCHED_FAIR_CAPPED_SHARED,
};

/* Aborts when out of memory (a fixed size, once at start). */
void cam_sched__fair_init(struct cam_sched_fair *f);
void cam_sched__fair_free(struct cam_sched_fair *f);

/*
 * Queues t for caller key (any value; well mixed: its low bits pick the
 * home slot, its high bits tell callers apart), unless the caller's slot
 * already holds cap tasks. Never blocks; any thread.
 */
enum cam_sched_fair_result cam_sched__fair_push(struct cam_sched_fair *f,
						struct cam_grpc_task *t, uint64_t key,
						unsigned cap);
/* The next task in turn, or NULL (none, or none pushed all the way yet).
 * Any thread. */
struct cam_grpc_task *cam_sched__fair_pop(struct cam_sched_fair *f);

/* Slots holding tasks now (callers with calls queued, shared slots once),
 * and the most tasks one holds: a reading, not a snapshot. */
void cam_sched__fair_callers(struct cam_sched_fair *f, unsigned *callers, unsigned *most);

#endif
