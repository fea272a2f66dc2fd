/*
 * Unit tests of fair share within a scheduler class: the fair queue of
 * kernel/scheduler/fair.c (callers served in turn, a caller with nothing
 * queued before the backlogs, each caller's calls in order, the cap per
 * caller, slots shared only when a probe window is
 * crowded, a fixed table whatever the number of callers, concurrent
 * producers and consumers for the sanitizers), and the scheduler on top of
 * it (kernel/scheduler/scheduler.c): a flooding caller refused past its
 * share with a text naming the limit, while nine others are served within
 * the first turns; the default share; the inline rule unchanged.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "kernel/scheduler/fair.h"
#include "kernel/scheduler/scheduler.h"

/* ---- the fair queue ----------------------------------------------------- */

struct item {
	struct cam_grpc_task task; /* first: the queue hands tasks back */
	int caller, seq;
	atomic_int popped;
};

/* A key whose home slot is home and whose owner tag is tag (fair.h: low
 * bits pick the slot, high bits tell callers apart). */
static uint64_t key_of(uint32_t tag, uint32_t home)
{
	return (uint64_t)tag << 32 | home;
}

static struct item *pop(struct cam_sched_fair *f)
{
	return (struct item *)cam_sched__fair_pop(f);
}

static void push_ok(struct cam_sched_fair *f, struct item *it, uint64_t key, unsigned cap)
{
	assert_int_equal(cam_sched__fair_push(f, &it->task, key, cap), CAM_SCHED_FAIR_QUEUED);
}

static void test_round_robin(void **state)
{
	static struct item it[3][3];
	struct cam_sched_fair f;
	unsigned callers, most;

	(void)state;
	cam_sched__fair_init(&f);
	assert_null(pop(&f));
	/* All of A's, then B's, then C's: served A B C A B C A B C. */
	for (int c = 0; c < 3; c++)
		for (int i = 0; i < 3; i++) {
			it[c][i].caller = c;
			it[c][i].seq = i;
			push_ok(&f, &it[c][i], key_of(100 + (uint32_t)c, 7 * (uint32_t)c), 10);
		}
	cam_sched__fair_callers(&f, &callers, &most);
	assert_int_equal(callers, 3);
	assert_int_equal(most, 3);
	for (int round = 0; round < 3; round++)
		for (int c = 0; c < 3; c++) {
			struct item *got = pop(&f);

			assert_non_null(got);
			assert_int_equal(got->caller, c);
			assert_int_equal(got->seq, round);
		}
	assert_null(pop(&f));
	cam_sched__fair_callers(&f, &callers, &most);
	assert_int_equal(callers, 0);
	assert_int_equal(most, 0);
	cam_sched__fair_free(&f);
}

/* A caller that had nothing queued goes before the turns of callers with
 * a backlog (it waits for nobody's backlog), then takes its turns too. */
static void test_fresh_caller_first(void **state)
{
	static struct item a[4], b[2], c;
	struct cam_sched_fair f;

	(void)state;
	cam_sched__fair_init(&f);
	for (int i = 0; i < 4; i++)
		push_ok(&f, &a[i], key_of(1, 1), 10);
	assert_ptr_equal(pop(&f), &a[0]);
	/* A has a backlog; B arrives with two calls, C with one. */
	push_ok(&f, &b[0], key_of(2, 2), 10);
	push_ok(&f, &b[1], key_of(2, 2), 10);
	push_ok(&f, &c, key_of(3, 3), 10);
	assert_ptr_equal(pop(&f), &b[0]);
	assert_ptr_equal(pop(&f), &c);
	/* Then in turn: A (waiting longest), B. */
	assert_ptr_equal(pop(&f), &a[1]);
	assert_ptr_equal(pop(&f), &b[1]);
	assert_ptr_equal(pop(&f), &a[2]);
	assert_ptr_equal(pop(&f), &a[3]);
	assert_null(pop(&f));
	cam_sched__fair_free(&f);
}

/* One caller's calls come out in the order they went in, across pushes
 * that arrive while earlier ones are being taken. */
static void test_fifo_per_caller(void **state)
{
	static struct item it[40];
	struct cam_sched_fair f;
	int next = 0, out = 0;

	(void)state;
	cam_sched__fair_init(&f);
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 4; i++, next++) {
			it[next].seq = next;
			push_ok(&f, &it[next], key_of(1, 1), 100);
		}
		for (int i = 0; i < 3; i++, out++)
			assert_int_equal(pop(&f)->seq, out);
	}
	while (out < 40)
		assert_int_equal(pop(&f)->seq, out++);
	assert_null(pop(&f));
	cam_sched__fair_free(&f);
}

static void test_cap_per_caller(void **state)
{
	static struct item a[5], b[2];
	struct cam_sched_fair f;

	(void)state;
	cam_sched__fair_init(&f);
	for (int i = 0; i < 3; i++)
		push_ok(&f, &a[i], key_of(1, 1), 3);
	assert_int_equal(cam_sched__fair_push(&f, &a[3].task, key_of(1, 1), 3),
			 CAM_SCHED_FAIR_CAPPED);
	/* Another caller is not touched by A's cap, even in the next slot. */
	push_ok(&f, &b[0], key_of(2, 1), 3);
	push_ok(&f, &b[1], key_of(2, 1), 3);
	/* One of A's taken: A has room for one more. */
	assert_ptr_equal(pop(&f), &a[0]);
	push_ok(&f, &a[3], key_of(1, 1), 3);
	assert_int_equal(cam_sched__fair_push(&f, &a[4].task, key_of(1, 1), 3),
			 CAM_SCHED_FAIR_CAPPED);
	/* B's turn came before A's next. */
	assert_ptr_equal(pop(&f), &b[0]);
	assert_ptr_equal(pop(&f), &a[1]);
	assert_ptr_equal(pop(&f), &b[1]);
	assert_ptr_equal(pop(&f), &a[2]);
	assert_ptr_equal(pop(&f), &a[3]);
	assert_null(pop(&f));
	cam_sched__fair_free(&f);
}

/* Callers whose keys crowd one probe window: the first PROBES get slots
 * of their own, the next share the home slot (its turn and its cap). Once
 * drained, every slot is free again for anybody. */
static void test_crowded_window_shares(void **state)
{
	static struct item it[CAM_SCHED_FAIR_PROBES + 2], owner2, late;
	struct cam_sched_fair f;
	unsigned callers, most;
	const uint32_t home = 4090; /* the window wraps past the table's end */

	(void)state;
	cam_sched__fair_init(&f);
	for (uint32_t i = 0; i < CAM_SCHED_FAIR_PROBES; i++) {
		it[i].caller = (int)i;
		push_ok(&f, &it[i], key_of(i + 1, home), 2);
	}
	cam_sched__fair_callers(&f, &callers, &most);
	assert_int_equal(callers, CAM_SCHED_FAIR_PROBES);
	/* A ninth shares caller 0's slot, and its cap of 2. */
	it[CAM_SCHED_FAIR_PROBES].caller = CAM_SCHED_FAIR_PROBES;
	assert_int_equal(cam_sched__fair_push(&f, &it[CAM_SCHED_FAIR_PROBES].task,
					      key_of(CAM_SCHED_FAIR_PROBES + 1, home), 2),
			 CAM_SCHED_FAIR_SHARED);
	assert_int_equal(cam_sched__fair_push(&f, &it[CAM_SCHED_FAIR_PROBES + 1].task,
					      key_of(CAM_SCHED_FAIR_PROBES + 2, home), 2),
			 CAM_SCHED_FAIR_CAPPED_SHARED);
	assert_int_equal(cam_sched__fair_push(&f, &owner2.task, key_of(1, home), 2),
			 CAM_SCHED_FAIR_CAPPED);
	cam_sched__fair_callers(&f, &callers, &most);
	assert_int_equal(callers, CAM_SCHED_FAIR_PROBES);
	assert_int_equal(most, 2);
	/* Turns: 0 1 2 ... 7, then the sharer in its host slot's next turn. */
	for (int i = 0; i <= CAM_SCHED_FAIR_PROBES; i++)
		assert_int_equal(pop(&f)->caller, i);
	assert_null(pop(&f));
	cam_sched__fair_callers(&f, &callers, &most);
	assert_int_equal(callers, 0);
	/* Free again: a newcomer to the same window gets a slot of its own. */
	push_ok(&f, &late, key_of(999, home), 2);
	assert_ptr_equal(pop(&f), &late);
	cam_sched__fair_free(&f);
}

/* Many more callers than slots (a flood of distinct anonymous names):
 * the table stays the size it is, callers share once their windows are
 * full, nothing is lost or served twice, and draining frees every slot. */
#define MANY (3 * CAM_SCHED_FAIR_SLOTS)

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void test_many_callers_bounded(void **state)
{
	static struct item it[MANY], fresh[64];
	struct cam_sched_fair f;
	unsigned callers, most, own = 0, shared = 0;
	uint64_t rng = 42;

	(void)state;
	cam_sched__fair_init(&f);
	for (int i = 0; i < MANY; i++) {
		enum cam_sched_fair_result r =
			cam_sched__fair_push(&f, &it[i].task, splitmix(&rng), MANY);

		assert_true(r == CAM_SCHED_FAIR_QUEUED || r == CAM_SCHED_FAIR_SHARED);
		if (r == CAM_SCHED_FAIR_QUEUED)
			own++;
		else
			shared++;
	}
	cam_sched__fair_callers(&f, &callers, &most);
	print_message("    %d callers, %d slots: %u with a slot of their own, %u sharing; "
		      "%u slots in use, the fullest holds %u\n",
		      MANY, CAM_SCHED_FAIR_SLOTS, own, shared, callers, most);
	assert_int_equal(callers, own);
	assert_true(callers <= CAM_SCHED_FAIR_SLOTS);
	/* The table fills before anyone shares much. */
	assert_true(own > CAM_SCHED_FAIR_SLOTS * 9 / 10);
	assert_true(shared >= MANY - CAM_SCHED_FAIR_SLOTS);
	for (int i = 0; i < MANY; i++) {
		struct item *got = pop(&f);

		assert_non_null(got);
		assert_int_equal(atomic_fetch_add(&got->popped, 1), 0);
	}
	assert_null(pop(&f));
	cam_sched__fair_callers(&f, &callers, &most);
	assert_int_equal(callers, 0);
	for (int i = 0; i < 64; i++)
		push_ok(&f, &fresh[i], splitmix(&rng), 1);
	for (int i = 0; i < 64; i++)
		assert_non_null(pop(&f));
	cam_sched__fair_free(&f);
}

/* Producers and consumers at once (for ThreadSanitizer): every accepted
 * task is taken exactly once. With one consumer and callers that never
 * need to share (eight to a window of eight slots), each caller's are
 * taken in order; with two consumers (the order seen after the pop is
 * then the threads'), 32 callers crowd windows that overlap in 15 slots,
 * so they claim, share, free and claim again all the time. */
#define PRODUCERS 4
#define MAX_CONSUMERS 2
#define PER_PRODUCER 20000
#define KEYS_PER_PRODUCER 8

struct stress {
	struct cam_sched_fair f;
	struct item *items;
	atomic_int accepted, taken, producing, shared;
	atomic_int last_seq[PRODUCERS * KEYS_PER_PRODUCER];
	atomic_int out_of_order;
	bool check_order;
};

struct producer_arg {
	struct stress *st;
	int id;
};

static void *stress_produce(void *arg)
{
	struct producer_arg *p = arg;
	struct stress *st = p->st;

	for (int i = 0; i < PER_PRODUCER; i++) {
		struct item *it = &st->items[p->id * PER_PRODUCER + i];
		int k = i % KEYS_PER_PRODUCER;

		it->caller = p->id * KEYS_PER_PRODUCER + k;
		it->seq = i;
		uint32_t home = st->check_order ? (uint32_t)it->caller / CAM_SCHED_FAIR_PROBES *
							  CAM_SCHED_FAIR_PROBES
					       : (uint32_t)k;
		enum cam_sched_fair_result r;

		while ((r = cam_sched__fair_push(&st->f, &it->task,
						 key_of((uint32_t)it->caller + 1, home), 16)) ==
			       CAM_SCHED_FAIR_CAPPED ||
		       r == CAM_SCHED_FAIR_CAPPED_SHARED)
			sched_yield();
		if (r == CAM_SCHED_FAIR_SHARED)
			atomic_fetch_add(&st->shared, 1);
		atomic_fetch_add(&st->accepted, 1);
	}
	atomic_fetch_sub(&st->producing, 1);
	return NULL;
}

static void *stress_consume(void *arg)
{
	struct stress *st = arg;

	for (;;) {
		struct item *it = pop(&st->f);

		if (!it) {
			if (!atomic_load(&st->producing) &&
			    atomic_load(&st->taken) == atomic_load(&st->accepted))
				return NULL;
			sched_yield();
			continue;
		}
		if (atomic_fetch_add(&it->popped, 1) != 0)
			atomic_fetch_add(&st->out_of_order, 1000000);
		if (st->check_order &&
		    atomic_exchange(&st->last_seq[it->caller], it->seq) > it->seq)
			atomic_fetch_add(&st->out_of_order, 1);
		atomic_fetch_add(&st->taken, 1);
	}
}

static void stress_run(int consumers)
{
	static struct stress st;
	struct producer_arg pa[PRODUCERS];
	pthread_t prod[PRODUCERS], cons[MAX_CONSUMERS];

	memset(&st, 0, sizeof(st));
	st.check_order = consumers == 1;
	st.items = calloc(PRODUCERS * PER_PRODUCER, sizeof(*st.items));
	assert_non_null(st.items);
	for (int i = 0; i < PRODUCERS * KEYS_PER_PRODUCER; i++)
		atomic_store(&st.last_seq[i], -1);
	cam_sched__fair_init(&st.f);
	atomic_store(&st.producing, PRODUCERS);
	for (int i = 0; i < consumers; i++)
		assert_int_equal(pthread_create(&cons[i], NULL, stress_consume, &st), 0);
	for (int i = 0; i < PRODUCERS; i++) {
		pa[i] = (struct producer_arg){ &st, i };
		assert_int_equal(pthread_create(&prod[i], NULL, stress_produce, &pa[i]), 0);
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(prod[i], NULL);
	for (int i = 0; i < consumers; i++)
		pthread_join(cons[i], NULL);
	print_message("    %d producers, %d consumer(s): %d tasks, %d of them in a shared slot\n",
		      PRODUCERS, consumers, atomic_load(&st.taken), atomic_load(&st.shared));
	assert_int_equal(atomic_load(&st.accepted), PRODUCERS * PER_PRODUCER);
	assert_int_equal(atomic_load(&st.taken), PRODUCERS * PER_PRODUCER);
	assert_int_equal(atomic_load(&st.out_of_order), 0);
	if (st.check_order)
		assert_int_equal(atomic_load(&st.shared), 0);
	for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++)
		assert_int_equal(atomic_load(&st.items[i].popped), 1);
	assert_null(pop(&st.f));
	cam_sched__fair_free(&st.f);
	free(st.items);
}

static void test_concurrent_in_order(void **state)
{
	(void)state;
	stress_run(1);
}

static void test_concurrent_two_consumers(void **state)
{
	(void)state;
	stress_run(2);
}

/* ---- the scheduler's fair share ----------------------------------------- */

struct rec {
	struct cam_grpc_task task;
	atomic_int *seq;
	int caller;
	int order; /* completion position */
	atomic_int ran;
};

static void rec_run(struct cam_grpc_task *t)
{
	struct rec *r = (struct rec *)t;

	r->order = atomic_fetch_add(r->seq, 1);
	atomic_fetch_add(&r->ran, 1);
}

static void rec_drop(struct cam_grpc_task *t, int status, const char *why)
{
	(void)t;
	(void)status;
	(void)why;
	fail_msg("no task of these tests expires");
}

static void rec_init(struct rec *r, atomic_int *seq, int caller, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->task.run = rec_run;
	r->task.drop = rec_drop;
	r->task.sched.priority = 5;
	r->seq = seq;
	r->caller = caller;
	r->order = -1;
	if (name)
		cam_sched_set_caller(&r->task.sched, CAM_SCHED_BY_CALLER_ID, name, strlen(name));
}

struct gate {
	struct cam_grpc_task task;
	atomic_int running, release;
};

static void gate_run(struct cam_grpc_task *t)
{
	struct gate *g = (struct gate *)t;

	atomic_store(&g->running, 1);
	while (!atomic_load(&g->release))
		usleep(1000);
}

/* Holds the scheduler's one worker until released. */
static void gate_close(cam_sched *s, struct gate *g)
{
	memset(g, 0, sizeof(*g));
	g->task.run = gate_run;
	g->task.drop = rec_drop;
	g->task.sched.priority = 9;
	assert_int_equal(cam_sched_submit(s, &g->task), 0);
	while (!atomic_load(&g->running))
		usleep(1000);
}

static cam_sched *new_sched(unsigned limit, unsigned per_caller)
{
	struct cam_sched_opts o = { .decisions = 64 };
	cam_sched *s;

	cam_sched_default_settings(&o.settings);
	o.settings.workers = 1;
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++) {
		o.settings.queue_limit[c] = limit;
		o.settings.queue_limit_per_caller[c] = per_caller;
	}
	assert_int_equal(cam_sched_new(&o, &s), 0);
	return s;
}

#define FLOOD 40
#define OTHERS 9
#define EACH 2

/* One caller sends 40 calls into a class of 64 with a share of 16; nine
 * others send 2 each. The flooder gets 16 queued and 24 refused, naming
 * the limit; the others are all queued, and served in turn: every one of
 * their 18 calls is done within the first 20 (the flooder's turns come
 * between theirs), not after the flooder's 16. */
static void test_flood_gets_its_share(void **state)
{
	static struct rec flood[FLOOD], other[OTHERS][EACH];
	static char names[OTHERS][24];
	atomic_int seq = 0;
	struct cam_sched_stats st;
	struct gate g;
	int refused = 0, last_other = -1;
	cam_sched *s = new_sched(64, 16);

	(void)state;
	gate_close(s, &g);
	for (int i = 0; i < FLOOD; i++) {
		rec_init(&flood[i], &seq, -1, "flooder");
		if (cam_sched_submit(s, &flood[i].task) == CAM_ELIMIT) {
			assert_string_equal(flood[i].task.sched.reject,
					    "queue limit per caller of 16 reached for flooder in class normal (priority 3-6)");
			refused++;
		}
	}
	for (int i = 0; i < EACH; i++)
		for (int o = 0; o < OTHERS; o++) {
			snprintf(names[o], sizeof(names[o]), "agent-%d", o);
			rec_init(&other[o][i], &seq, o, names[o]);
			assert_int_equal(cam_sched_submit(s, &other[o][i].task), 0);
		}
	assert_int_equal(refused, FLOOD - 16);
	cam_sched_get_stats(s, &st);
	assert_int_equal(st.queued[CAM_SCHED_NORMAL], 16 + OTHERS * EACH);
	assert_int_equal(st.callers[CAM_SCHED_NORMAL], 1 + OTHERS);
	assert_int_equal(st.caller_most[CAM_SCHED_NORMAL], 16);
	assert_int_equal(st.rejected_caller, FLOOD - 16);
	assert_int_equal(st.rejected_full, 0);
	atomic_store(&g.release, 1);
	cam_sched_stop(s);
	for (int o = 0; o < OTHERS; o++)
		for (int i = 0; i < EACH; i++) {
			assert_int_equal(atomic_load(&other[o][i].ran), 1);
			if (other[o][i].order > last_other)
				last_other = other[o][i].order;
		}
	print_message("    flooder 40 calls (16 queued, %d refused), nine others 2 each: "
		      "the others' last call done at position %d of %d\n",
		      refused, last_other, 16 + OTHERS * EACH);
	/* Two rounds of ten callers: the others' 18 within the first 20. */
	assert_in_range(last_other, OTHERS * EACH - 1, 2 * (OTHERS + 1) - 1);
	cam_sched_free(s);
}

/* A caller named by its token: the refusal never shows the token. Calls
 * no classifier named share one key and one share. */
static void test_refusal_texts(void **state)
{
	static const char token[] = "Bearer tok-secret-0123456789";
	static struct rec r[6];
	atomic_int seq = 0;
	struct gate g;
	cam_sched *s = new_sched(64, 1);
	char longname[200], want[128];

	(void)state;
	gate_close(s, &g);
	for (int i = 0; i < 2; i++) {
		rec_init(&r[i], &seq, 0, NULL);
		cam_sched_set_caller(&r[i].task.sched, CAM_SCHED_BY_TOKEN, token, strlen(token));
	}
	assert_int_equal(cam_sched_submit(s, &r[0].task), 0);
	assert_int_equal(cam_sched_submit(s, &r[1].task), CAM_ELIMIT);
	assert_string_equal(r[1].task.sched.reject,
			    "queue limit per caller of 1 reached for the caller of this token in class normal (priority 3-6)");
	assert_null(strstr(r[1].task.sched.reject, "tok-"));
	rec_init(&r[2], &seq, 0, NULL);
	rec_init(&r[3], &seq, 0, NULL);
	assert_int_equal(cam_sched_submit(s, &r[2].task), 0);
	assert_int_equal(cam_sched_submit(s, &r[3].task), CAM_ELIMIT);
	assert_non_null(strstr(r[3].task.sched.reject, "for callers with no token or caller_id"));
	/* A long name is cut to 64 bytes, or fewer rather than inside a
	 * UTF-8 sequence: here 63, before the é that spans bytes 64-65. */
	memset(longname, 'a', sizeof(longname));
	memcpy(longname + 63, "\xc3\xa9", 2);
	for (int i = 4; i < 6; i++) {
		rec_init(&r[i], &seq, 0, NULL);
		cam_sched_set_caller(&r[i].task.sched, CAM_SCHED_BY_CALLER_ID, longname,
				     sizeof(longname));
	}
	assert_int_equal(cam_sched_submit(s, &r[4].task), 0);
	assert_int_equal(cam_sched_submit(s, &r[5].task), CAM_ELIMIT);
	snprintf(want, sizeof(want), "for %.63s... in class normal", longname);
	assert_non_null(strstr(r[5].task.sched.reject, want));
	atomic_store(&g.release, 1);
	cam_sched_free(s);
}

/* The share when none is set: a quarter of the class's limit, following
 * the limit when it is tuned; the setting reads back as set. */
static void test_default_share(void **state)
{
	struct cam_sched_settings st, want;
	static struct rec r[6];
	atomic_int seq = 0;
	struct gate g;
	cam_sched *s = new_sched(1024, 0);

	(void)state;
	cam_sched_get_settings(s, &st);
	assert_int_equal(st.queue_limit_per_caller[CAM_SCHED_NORMAL], 0);
	assert_int_equal(cam_sched_caller_limit(&st, CAM_SCHED_NORMAL), 256);
	st.queue_limit[CAM_SCHED_LOW] = 3;
	assert_int_equal(cam_sched_caller_limit(&st, CAM_SCHED_LOW), 1);
	st.queue_limit_per_caller[CAM_SCHED_LOW] = 2;
	assert_int_equal(cam_sched_caller_limit(&st, CAM_SCHED_LOW), 2);
	/* Tuned down to 16: a share of 4. */
	cam_sched_get_settings(s, &want);
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++)
		want.queue_limit[c] = 16;
	assert_int_equal(cam_sched_tune(s, &want, NULL), 0);
	gate_close(s, &g);
	for (int i = 0; i < 6; i++) {
		rec_init(&r[i], &seq, 0, "one");
		assert_int_equal(cam_sched_submit(s, &r[i].task), i < 4 ? 0 : CAM_ELIMIT);
	}
	assert_non_null(strstr(r[5].task.sched.reject, "queue limit per caller of 4 reached for one"));
	/* Out of bounds: refused, nothing changes. */
	want.queue_limit_per_caller[CAM_SCHED_HIGH] = CAM_SCHED_QUEUE_MAX + 1;
	assert_int_equal(cam_sched_tune(s, &want, NULL), CAM_EINVAL);
	cam_sched_get_settings(s, &st);
	assert_int_equal(st.queue_limit_per_caller[CAM_SCHED_HIGH], 0);
	atomic_store(&g.release, 1);
	cam_sched_free(s);
}

/* Inline keeps its rule: a call runs on its I/O thread only when nothing
 * of its class or a higher one waits, whichever caller queued it. */
static void test_inline_rule_kept(void **state)
{
	static struct rec queued, probe;
	struct cam_grpc_executor *ex;
	atomic_int seq = 0;
	struct gate g;
	cam_sched *s = new_sched(64, 16);

	(void)state;
	ex = cam_sched_executor(s);
	rec_init(&probe, &seq, 1, "b");
	assert_true(ex->ops->try_inline(ex, &probe.task));
	gate_close(s, &g);
	rec_init(&queued, &seq, 0, "a");
	assert_int_equal(cam_sched_submit(s, &queued.task), 0);
	/* A's call waits in normal: B's may not overtake it, nor a low one. */
	rec_init(&probe, &seq, 1, "b");
	assert_false(ex->ops->try_inline(ex, &probe.task));
	probe.task.sched.priority = 1;
	assert_false(ex->ops->try_inline(ex, &probe.task));
	probe.task.sched.priority = 8;
	assert_true(ex->ops->try_inline(ex, &probe.task));
	atomic_store(&g.release, 1);
	cam_sched_free(s);
	assert_int_equal(atomic_load(&queued.ran), 1);
}

/* Callers' keys: the same identity gives the same key, the kinds never
 * mix, and 0 stays for the unnamed. */
static void test_caller_keys(void **state)
{
	struct cam_grpc_sched a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };

	(void)state;
	cam_sched_set_caller(&a, CAM_SCHED_BY_CALLER_ID, "agent-a", 7);
	cam_sched_set_caller(&b, CAM_SCHED_BY_CALLER_ID, "agent-a", 7);
	cam_sched_set_caller(&c, CAM_SCHED_BY_CALLER_ID, "agent-b", 7);
	cam_sched_set_caller(&d, CAM_SCHED_BY_TOKEN, "agent-a", 7);
	assert_true(a.caller != 0);
	assert_true(a.caller == b.caller);
	assert_true(a.caller != c.caller);
	assert_true(a.caller != d.caller);
	assert_memory_equal(a.caller_name, "agent-a", 7);
	assert_string_equal(d.caller_name, "the caller of this token");
	cam_sched_set_caller(&a, CAM_SCHED_BY_CALLER_ID, "", 0);
	assert_true(a.caller != 0);
	/* Longer than a word, differing in the last byte only. */
	cam_sched_set_caller(&a, CAM_SCHED_BY_TOKEN, "Bearer 0123456789abcdef-x", 25);
	cam_sched_set_caller(&b, CAM_SCHED_BY_TOKEN, "Bearer 0123456789abcdef-y", 25);
	assert_true(a.caller != b.caller);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_fresh_caller_first),
		cmocka_unit_test(test_fifo_per_caller),
		cmocka_unit_test(test_cap_per_caller),
		cmocka_unit_test(test_crowded_window_shares),
		cmocka_unit_test(test_many_callers_bounded),
		cmocka_unit_test(test_concurrent_in_order),
		cmocka_unit_test(test_concurrent_two_consumers),
		cmocka_unit_test(test_flood_gets_its_share),
		cmocka_unit_test(test_refusal_texts),
		cmocka_unit_test(test_default_share),
		cmocka_unit_test(test_inline_rule_kept),
		cmocka_unit_test(test_caller_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
