/*
 * Unit tests of the priority scheduler (kernel/scheduler/): the 5-D score
 * against hand-computed cases, the Execute classifier, the class queues,
 * weighted fair ordering with all classes saturated (and low still
 * progressing), queue full, expiry in the queue, tuning, health, the
 * decision ring and a two-producer stress run for the sanitizers.
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
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "kernel/grpc/server.h"
#include "kernel/scheduler/decisions.h"
#include "kernel/scheduler/queue.h"
#include "kernel/scheduler/scheduler.h"
#include "kernel/scheduler/think.h"
#include "proto/cam.pb-c.h"

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
	usleep((useconds_t)ms * 1000);
}

/* ---- the 5-D score ------------------------------------------------------ */

struct think_case {
	double f[5];
	double score;
	unsigned priority, klass;
};

static void test_think_formula(void **state)
{
	/* Worked by hand: 0.30u + 0.25i + 0.15e + 0.10n + 0.20t. */
	static const struct think_case cases[] = {
		{ { 0.5, 0.5, 0.5, 0.5, 0.5 }, 0.5, 5, CAM_SCHED_NORMAL },
		{ { 1, 1, 1, 1, 1 }, 1.0, 9, CAM_SCHED_HIGH },
		{ { 0, 0, 0, 0, 0 }, 0.0, 0, CAM_SCHED_LOW },
		/* .27 + .20 + .09 + .04 + .14 */
		{ { 0.9, 0.8, 0.6, 0.4, 0.7 }, 0.74, 7, CAM_SCHED_HIGH },
		/* .30 + .25 + .075 + .05 + .10 */
		{ { 1, 1, 0.5, 0.5, 0.5 }, 0.775, 7, CAM_SCHED_HIGH },
		/* .06 + .025 + .045 + .09 + .02 */
		{ { 0.2, 0.1, 0.3, 0.9, 0.1 }, 0.24, 2, CAM_SCHED_LOW },
		/* boundaries: exactly 0.30 and 0.70 */
		{ { 1, 0, 0, 0, 0 }, 0.30, 3, CAM_SCHED_NORMAL },
		{ { 1, 1, 0, 0, 0.75 }, 0.70, 7, CAM_SCHED_HIGH },
		/* .21 + .10 */
		{ { 0.7, 0.4, 0, 0, 0 }, 0.31, 3, CAM_SCHED_NORMAL },
		/* .2997 + 0 ... just under 0.3 after rounding to 4 decimals */
		{ { 0.999, 0, 0, 0, 0 }, 0.2997, 2, CAM_SCHED_LOW },
	};
	struct cam_think th;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cam_think_score(cases[i].f, &th);
		assert_float_equal(th.score, cases[i].score, 1e-9);
		assert_int_equal(th.priority, cases[i].priority);
		assert_int_equal(th.klass, cases[i].klass);
	}
	cam_think_score(cases[3].f, &th);
	assert_float_equal(th.contrib[CAM_THINK_URGENCY], 0.27, 1e-9);
	assert_float_equal(th.contrib[CAM_THINK_IMPORTANCE], 0.20, 1e-9);
	assert_float_equal(th.contrib[CAM_THINK_EFFICIENCY], 0.09, 1e-9);
	assert_float_equal(th.contrib[CAM_THINK_ENERGY], 0.04, 1e-9);
	assert_float_equal(th.contrib[CAM_THINK_TRUST], 0.14, 1e-9);
}

static void test_think_parse(void **state)
{
	double v, f[5];

	(void)state;
	assert_int_equal(cam_think_parse_factor("0.75", 4, &v), 0);
	assert_float_equal(v, 0.75, 1e-12);
	assert_int_equal(cam_think_parse_factor("1", 1, &v), 0);
	assert_int_equal(cam_think_parse_factor(".5", 2, &v), 0);
	assert_int_equal(cam_think_parse_factor("1.01", 4, &v), CAM_EINVAL);
	assert_int_equal(cam_think_parse_factor("-0", 2, &v), CAM_EINVAL);
	assert_int_equal(cam_think_parse_factor("nan", 3, &v), CAM_EINVAL);
	assert_int_equal(cam_think_parse_factor("1e-1", 4, &v), CAM_EINVAL);
	assert_int_equal(cam_think_parse_factor("", 0, &v), CAM_EINVAL);
	assert_int_equal(cam_think_parse_factor(".", 1, &v), CAM_EINVAL);

	assert_int_equal(cam_think_scan("", 0, f), 0);
	assert_float_equal(f[CAM_THINK_TRUST], 0.5, 0);
	assert_int_equal(cam_think_scan("msg:a,b", 7, f), 0);
	assert_int_equal(cam_think_scan("msg:x,urgency:0.9,trust:1", 25, f), 2);
	assert_float_equal(f[CAM_THINK_URGENCY], 0.9, 1e-12);
	assert_float_equal(f[CAM_THINK_TRUST], 1.0, 0);
	assert_float_equal(f[CAM_THINK_ENERGY], 0.5, 0);
	assert_int_equal(cam_think_scan("urgency:0.9,x", 13, f), CAM_EINVAL);
	assert_int_equal(cam_think_scan("urgency:1,urgency:0", 19, f), CAM_EINVAL);
	assert_int_equal(cam_think_scan("energy:1.5", 10, f), CAM_EINVAL);
}

/* ---- the Execute classifier -------------------------------------------- */

static size_t pack_request(uint8_t *buf, const char *payload, int priority)
{
	Cam__SyscallRequest r = CAM__SYSCALL_REQUEST__INIT;

	r.verb = "ping";
	r.payload = (char *)payload;
	r.caller_id = "tester";
	if (priority >= 0) {
		r.priority_opt_case = CAM__SYSCALL_REQUEST__PRIORITY_OPT_PRIORITY;
		r.priority = (uint32_t)priority;
	}
	return cam__syscall_request__pack(&r, buf);
}

static struct cam_grpc_sched classify(const uint8_t *m, size_t len)
{
	struct cam_grpc_sched x = { .priority = 5 };

	cam_sched_classify_request(NULL, NULL, m, len, &x);
	return x;
}

static void test_classify(void **state)
{
	uint8_t buf[512];
	struct cam_grpc_sched x;
	size_t n;

	(void)state;
	n = pack_request(buf, "msg:hi", 8);
	x = classify(buf, n);
	assert_int_equal(x.priority, 8);
	assert_int_equal(x.source, CAM_SCHED_SRC_FIELD);
	assert_false(x.scored);

	/* The field wins over factors. */
	n = pack_request(buf, "urgency:0", 9);
	assert_int_equal(classify(buf, n).priority, 9);

	n = pack_request(buf, "urgency:0.9,importance:0.8,efficiency:0.6,energy:0.4,trust:0.7", -1);
	x = classify(buf, n);
	assert_int_equal(x.priority, 7);
	assert_int_equal(x.source, CAM_SCHED_SRC_FACTORS);
	assert_true(x.scored);
	assert_float_equal(x.score, 0.74, 1e-9);

	n = pack_request(buf, "msg:hi", -1);
	x = classify(buf, n);
	assert_int_equal(x.priority, 5);
	assert_int_equal(x.source, CAM_SCHED_SRC_DEFAULT);

	/* Out of range or malformed: the default (dispatch refuses later). */
	n = pack_request(buf, "msg:hi", 12);
	assert_int_equal(classify(buf, n).priority, 5);
	n = pack_request(buf, "urgency:7", -1);
	assert_int_equal(classify(buf, n).priority, 5);
	n = pack_request(buf, "msg:hi", 2);
	assert_int_equal(classify(buf, n - 3).priority, 5);
	assert_int_equal(classify((const uint8_t *)"\xff\xff\xff", 3).priority, 5);
	assert_int_equal(classify(NULL, 0).priority, 5);
}

/* ---- the class queue ---------------------------------------------------- */

static void test_queue(void **state)
{
	struct cam_sched_queue q;
	int v[8];

	(void)state;
	cam_sched__queue_init(&q, 5); /* rounds up to 8 */
	assert_null(cam_sched__queue_pop(&q));
	for (int i = 0; i < 8; i++)
		assert_true(cam_sched__queue_push(&q, &v[i]));
	assert_false(cam_sched__queue_push(&q, &v[0]));
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 8; i++) {
			assert_ptr_equal(cam_sched__queue_pop(&q), &v[i]);
			assert_true(cam_sched__queue_push(&q, &v[i]));
		}
	for (int i = 0; i < 8; i++)
		assert_ptr_equal(cam_sched__queue_pop(&q), &v[i]);
	assert_null(cam_sched__queue_pop(&q));
	cam_sched__queue_free(&q);
}

/* ---- tasks for the scheduler tests ------------------------------------- */

struct rec {
	struct cam_grpc_task task;
	atomic_int *seq;
	int order;          /* completion position, -1 = not yet */
	atomic_int ran, dropped;
	int drop_status;
};

static void rec_run(struct cam_grpc_task *t)
{
	struct rec *r = (struct rec *)t;

	r->order = atomic_fetch_add(r->seq, 1);
	atomic_fetch_add(&r->ran, 1);
}

static void rec_drop(struct cam_grpc_task *t, int status, const char *why)
{
	struct rec *r = (struct rec *)t;

	(void)why;
	r->drop_status = status;
	r->order = atomic_fetch_add(r->seq, 1);
	atomic_fetch_add(&r->dropped, 1);
}

static void rec_init(struct rec *r, atomic_int *seq, unsigned priority, int64_t deadline)
{
	memset(r, 0, sizeof(*r));
	r->task.run = rec_run;
	r->task.drop = rec_drop;
	r->task.deadline_ns = deadline;
	r->task.sched.priority = priority;
	r->seq = seq;
	r->order = -1;
}

/* A task that holds its worker until released. */
struct gate {
	struct cam_grpc_task task;
	atomic_int running, release;
};

static void gate_run(struct cam_grpc_task *t)
{
	struct gate *g = (struct gate *)t;

	atomic_store(&g->running, 1);
	while (!atomic_load(&g->release))
		sleep_ms(1);
}

/* Submits a gate (priority 5) and waits until a worker holds it. */
static void gate_close(cam_sched *s, struct gate *g)
{
	memset(g, 0, sizeof(*g));
	g->task.run = gate_run;
	g->task.drop = rec_drop;
	g->task.sched.priority = 5;
	assert_int_equal(cam_sched_submit(s, &g->task), 0);
	while (!atomic_load(&g->running))
		sleep_ms(1);
}

/* Every task of these tests is one caller's (the key 0 of calls no
 * classifier named): its share is the whole class, so what they test is
 * the class queue itself. test_sched_fair.c tests the shares. */
static cam_sched *new_sched(unsigned workers, unsigned limit)
{
	struct cam_sched_opts o = { .decisions = 64 };
	cam_sched *s;

	cam_sched_default_settings(&o.settings);
	o.settings.workers = workers;
	for (int c = 0; c < 3; c++) {
		o.settings.queue_limit[c] = limit;
		o.settings.queue_limit_per_caller[c] = limit;
	}
	assert_int_equal(cam_sched_new(&o, &s), 0);
	return s;
}

/* ---- ordering and starvation ------------------------------------------- */

#define PER_CLASS 390

static void test_weighted_order(void **state)
{
	static struct rec tasks[3][PER_CLASS];
	static const unsigned prio[3] = { 8, 5, 1 };
	atomic_int seq = 0;
	struct gate g;
	double mean[3] = { 0 };
	int first130[3] = { 0 }, first_low = -1;
	cam_sched *s = new_sched(1, 1000);

	(void)state;
	gate_close(s, &g);
	/* Saturate every class while the one worker is held. */
	for (int i = 0; i < PER_CLASS; i++)
		for (int c = 0; c < 3; c++) {
			rec_init(&tasks[c][i], &seq, prio[c], 0);
			assert_int_equal(cam_sched_submit(s, &tasks[c][i].task), 0);
		}
	atomic_store(&g.release, 1);
	cam_sched_stop(s);
	for (int c = 0; c < 3; c++)
		for (int i = 0; i < PER_CLASS; i++) {
			int o = tasks[c][i].order;

			assert_int_equal(atomic_load(&tasks[c][i].ran), 1);
			mean[c] += o;
			if (o < 130)
				first130[c]++;
			if (c == 2 && (first_low < 0 || o < first_low))
				first_low = o;
		}
	for (int c = 0; c < 3; c++)
		mean[c] /= PER_CLASS;
	print_message("    weights 8:4:1, %d per class, 1 worker: first 130 done = %d high, "
		      "%d normal, %d low; mean completion position high %.0f, normal %.0f, "
		      "low %.0f; first low at %d\n",
		      PER_CLASS, first130[0], first130[1], first130[2], mean[0], mean[1],
		      mean[2], first_low);
	/* While all three are backlogged the shares are 8:4:1 of 13. */
	assert_in_range(first130[0], 75, 85);
	assert_in_range(first130[1], 35, 45);
	assert_in_range(first130[2], 8, 12);
	assert_true(mean[0] < mean[1] && mean[1] < mean[2]);
	/* Low is never starved: one in every 13 picks. */
	assert_in_range(first_low, 0, 13);
	cam_sched_free(s);
}

/* A call that never blocks runs inline only when no call of its class or
 * a higher one waits: it never overtakes a queued call of a higher class
 * (nor one of its own), and it counts as dispatched. */
static void test_inline_never_overtakes(void **state)
{
	static struct rec queued[3], probe;
	const struct cam_grpc_executor_ops *ops;
	struct cam_grpc_executor *ex;
	atomic_int seq = 0;
	struct gate g;
	struct cam_sched_stats st;
	cam_sched *s = new_sched(1, 16);

	(void)state;
	ex = cam_sched_executor(s);
	ops = ex->ops;
	assert_non_null(ops->try_inline);
	/* Nothing waits: a normal call may run at once. */
	rec_init(&probe, &seq, 5, 0);
	assert_true(ops->try_inline(ex, &probe.task));
	assert_int_equal(probe.task.sched.klass, CAM_SCHED_NORMAL);
	gate_close(s, &g);
	/* A high call waits: neither a normal nor a high call may go ahead of
	 * it; a low one may not either (it would not be picked before it). */
	rec_init(&queued[0], &seq, 9, 0);
	assert_int_equal(cam_sched_submit(s, &queued[0].task), 0);
	for (unsigned p = 0; p <= 9; p++) {
		rec_init(&probe, &seq, p, 0);
		assert_false(ops->try_inline(ex, &probe.task));
	}
	atomic_store(&g.release, 1);
	while (atomic_load(&queued[0].ran) == 0)
		sleep_ms(1);
	/* A low call waits (the worker held again): a high or normal call may
	 * run inline (it would be picked first anyway), a low one may not. */
	gate_close(s, &g);
	rec_init(&queued[1], &seq, 1, 0);
	assert_int_equal(cam_sched_submit(s, &queued[1].task), 0);
	rec_init(&probe, &seq, 8, 0);
	assert_true(ops->try_inline(ex, &probe.task));
	rec_init(&probe, &seq, 5, 0);
	assert_true(ops->try_inline(ex, &probe.task));
	rec_init(&probe, &seq, 2, 0);
	assert_false(ops->try_inline(ex, &probe.task));
	cam_sched_get_stats(s, &st);
	assert_int_equal(st.ran_inline, 3);
	atomic_store(&g.release, 1);
	cam_sched_stop(s);
	assert_int_equal(atomic_load(&queued[1].ran), 1);
	cam_sched_free(s);
}

static void test_queue_full(void **state)
{
	static struct rec tasks[6];
	atomic_int seq = 0;
	struct gate g;
	struct cam_sched_stats st;
	cam_sched *s = new_sched(1, 4);

	(void)state;
	gate_close(s, &g);
	for (int i = 0; i < 4; i++) {
		rec_init(&tasks[i], &seq, 1, 0);
		assert_int_equal(cam_sched_submit(s, &tasks[i].task), 0);
	}
	rec_init(&tasks[4], &seq, 0, 0);
	assert_int_equal(cam_sched_submit(s, &tasks[4].task), CAM_ELIMIT);
	assert_non_null(tasks[4].task.sched.reject);
	assert_non_null(strstr(tasks[4].task.sched.reject, "low"));
	/* Another class still has room. */
	rec_init(&tasks[5], &seq, 9, 0);
	assert_int_equal(cam_sched_submit(s, &tasks[5].task), 0);
	cam_sched_get_stats(s, &st);
	assert_int_equal(st.queued[CAM_SCHED_LOW], 4);
	assert_int_equal(st.queued[CAM_SCHED_HIGH], 1);
	assert_int_equal(st.rejected_full, 1);
	atomic_store(&g.release, 1);
	cam_sched_stop(s);
	assert_int_equal(atomic_load(&tasks[4].ran) + atomic_load(&tasks[4].dropped), 0);
	for (int i = 0; i < 6; i++)
		if (i != 4)
			assert_int_equal(atomic_load(&tasks[i].ran), 1);
	cam_sched_free(s);
}

static void test_expired_in_queue(void **state)
{
	struct rec late, fine;
	atomic_int seq = 0;
	struct gate g;
	struct cam_sched_stats st;
	cam_sched *s = new_sched(1, 16);

	(void)state;
	gate_close(s, &g);
	rec_init(&late, &seq, 7, now_ns() + 20 * 1000000LL);
	rec_init(&fine, &seq, 7, now_ns() + 60 * 1000000000LL);
	assert_int_equal(cam_sched_submit(s, &late.task), 0);
	assert_int_equal(cam_sched_submit(s, &fine.task), 0);
	sleep_ms(50);
	atomic_store(&g.release, 1);
	cam_sched_stop(s);
	assert_int_equal(atomic_load(&late.ran), 0);
	assert_int_equal(atomic_load(&late.dropped), 1);
	assert_int_equal(late.drop_status, CAM_GRPC_DEADLINE_EXCEEDED);
	assert_int_equal(atomic_load(&fine.ran), 1);
	cam_sched_get_stats(s, &st);
	assert_int_equal(st.rejected_deadline, 1);
	cam_sched_free(s);
}

/* ---- tuning ------------------------------------------------------------- */

static unsigned workers_now(cam_sched *s)
{
	struct cam_sched_stats st;

	cam_sched_get_stats(s, &st);
	return st.workers;
}

static bool wait_workers(cam_sched *s, unsigned n)
{
	for (int i = 0; i < 2000 && workers_now(s) != n; i++)
		sleep_ms(1);
	return workers_now(s) == n;
}

static void test_tune(void **state)
{
	struct cam_sched_settings st, want, bad;
	const char *why = NULL;
	cam_sched *s = new_sched(1, 64);
	static struct rec tasks[200];
	atomic_int seq = 0;

	(void)state;
	cam_sched_get_settings(s, &st);
	assert_int_equal(st.weights[0], 8);
	assert_int_equal(st.weights[2], 1);
	assert_int_equal(st.workers, 1);

	want = st;
	want.weights[0] = 20;
	want.weights[1] = 5;
	want.weights[2] = 2;
	want.queue_limit[2] = 8;
	want.workers = 3;
	want.stall_ms = 1000;
	assert_int_equal(cam_sched_tune(s, &want, &why), 0);
	cam_sched_get_settings(s, &st);
	assert_memory_equal(&st, &want, sizeof(st));
	assert_true(wait_workers(s, 3));

	/* Out of bounds: refused and nothing changes. */
	for (int k = 0; k < 6; k++) {
		bad = want;
		switch (k) {
		case 0: bad.weights[1] = 0; break;
		case 1: bad.weights[0] = 1001; break;
		case 2: bad.queue_limit[0] = 16385; break;
		case 3: bad.workers = 0; break;
		case 4: bad.workers = 257; break;
		default: bad.stall_ms = 99; break;
		}
		why = NULL;
		assert_int_equal(cam_sched_tune(s, &bad, &why), CAM_EINVAL);
		assert_non_null(why);
		cam_sched_get_settings(s, &st);
		assert_memory_equal(&st, &want, sizeof(st));
	}

	/* Fewer workers, with work flowing; then more again. */
	want.workers = 1;
	assert_int_equal(cam_sched_tune(s, &want, NULL), 0);
	for (int i = 0; i < 200; i++) {
		rec_init(&tasks[i], &seq, (unsigned)(i % 10), 0);
		while (cam_sched_submit(s, &tasks[i].task) != 0)
			sleep_ms(1);
	}
	assert_true(wait_workers(s, 1));
	want.workers = 4;
	assert_int_equal(cam_sched_tune(s, &want, NULL), 0);
	assert_true(wait_workers(s, 4));
	cam_sched_stop(s);
	for (int i = 0; i < 200; i++)
		assert_int_equal(atomic_load(&tasks[i].ran), 1);
	assert_int_equal(cam_sched_tune(s, &want, &why), CAM_EUNAVAIL);
	cam_sched_free(s);
}

static void test_parse_classes(void **state)
{
	unsigned v[3];

	(void)state;
	assert_int_equal(cam_sched_parse_classes("8:4:1", false, v), 0);
	assert_int_equal(v[0], 8);
	assert_int_equal(v[1], 4);
	assert_int_equal(v[2], 1);
	assert_int_equal(cam_sched_parse_classes("512", true, v), 0);
	assert_int_equal(v[2], 512);
	assert_int_equal(cam_sched_parse_classes("512", false, v), CAM_EINVAL);
	assert_int_equal(cam_sched_parse_classes("8:4", false, v), CAM_EINVAL);
	assert_int_equal(cam_sched_parse_classes("8:4:1:1", false, v), CAM_EINVAL);
	assert_int_equal(cam_sched_parse_classes("8:-4:1", false, v), CAM_EINVAL);
	assert_int_equal(cam_sched_parse_classes("", true, v), CAM_EINVAL);
	assert_int_equal(cam_sched_parse_classes("1234567890", true, v), CAM_EINVAL);
}

/* ---- health ------------------------------------------------------------- */

static void test_health(void **state)
{
	static struct rec tasks[9];
	struct cam_sched_settings st;
	atomic_int seq = 0;
	struct gate g;
	char msg[256];
	cam_sched *s = new_sched(1, 10);

	(void)state;
	assert_int_equal(cam_sched_health(s, msg, sizeof(msg)), CAM_SCHED_OK);
	cam_sched_get_settings(s, &st);
	st.stall_ms = 100;
	assert_int_equal(cam_sched_tune(s, &st, NULL), 0);
	gate_close(s, &g);
	for (int i = 0; i < 8; i++) {
		rec_init(&tasks[i], &seq, 4, 0);
		assert_int_equal(cam_sched_submit(s, &tasks[i].task), 0);
	}
	/* 8 of 10: not above 80 %. */
	assert_int_equal(cam_sched_health(s, msg, sizeof(msg)), CAM_SCHED_OK);
	rec_init(&tasks[8], &seq, 4, 0);
	assert_int_equal(cam_sched_submit(s, &tasks[8].task), 0);
	assert_int_equal(cam_sched_health(s, msg, sizeof(msg)), CAM_SCHED_DEGRADED);
	assert_non_null(strstr(msg, "normal"));
	sleep_ms(150);
	assert_int_equal(cam_sched_health(s, msg, sizeof(msg)), CAM_SCHED_STUCK);
	assert_non_null(strstr(msg, "stuck"));
	atomic_store(&g.release, 1);
	for (int i = 0; i < 2000 && atomic_load(&seq) < 9; i++)
		sleep_ms(1);
	assert_int_equal(cam_sched_health(s, msg, sizeof(msg)), CAM_SCHED_OK);
	cam_sched_free(s);
}

/* ---- decisions ---------------------------------------------------------- */

static void test_decisions(void **state)
{
	struct cam_sched_ring r;
	struct cam_sched_decision d, out;

	(void)state;
	cam_sched__ring_init(&r, 16);
	assert_int_equal(cam_sched__ring_find(&r, "x-1", NULL, &out), CAM_ENOENT);
	for (int i = 1; i <= 100; i++) {
		memset(&d, 0, sizeof(d));
		snprintf(d.request_id, sizeof(d.request_id), "abcd1234-%d", i);
		snprintf(d.trace_id, sizeof(d.trace_id), "%032x", i % 50);
		d.sched.priority = (unsigned)(i % 10);
		cam_sched__ring_put(&r, &d);
	}
	assert_int_equal(cam_sched__ring_find(&r, "abcd1234-100", NULL, &out), 0);
	assert_int_equal(out.sched.priority, 0);
	assert_int_equal(cam_sched__ring_find(&r, "abcd1234-85", NULL, &out), 0);
	assert_int_equal(out.sched.priority, 5);
	/* Older than the ring holds. */
	assert_int_equal(cam_sched__ring_find(&r, "abcd1234-84", NULL, &out), CAM_ENOENT);
	/* By trace id: the newest with it (i = 99, since 99 % 50 == 49). */
	snprintf(d.trace_id, sizeof(d.trace_id), "%032x", 49);
	assert_int_equal(cam_sched__ring_find(&r, NULL, d.trace_id, &out), 0);
	assert_string_equal(out.request_id, "abcd1234-99");
	assert_int_equal(cam_sched__ring_find(&r, NULL, "", &out), CAM_ENOENT);
	cam_sched__ring_free(&r);
}

/* ---- life and concurrency ----------------------------------------------- */

#define STRESS 20000

struct producer {
	cam_sched *s;
	struct rec *tasks;
	atomic_int *seq;
	int n, rejected;
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	for (int i = 0; i < p->n; i++) {
		rec_init(&p->tasks[i], p->seq, (unsigned)(i % 10), 0);
		while (cam_sched_submit(p->s, &p->tasks[i].task) != 0)
			p->rejected++;
	}
	return NULL;
}

static void test_two_producers(void **state)
{
	static struct rec tasks[2][STRESS];
	struct producer p[2];
	pthread_t th[2];
	atomic_int seq = 0;
	struct cam_sched_stats st;
	cam_sched *s = new_sched(2, 256);

	(void)state;
	for (int i = 0; i < 2; i++) {
		p[i] = (struct producer){ .s = s, .tasks = tasks[i], .seq = &seq, .n = STRESS };
		assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	cam_sched_stop(s);
	assert_int_equal(atomic_load(&seq), 2 * STRESS);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < STRESS; j++)
			assert_int_equal(atomic_load(&tasks[i][j].ran), 1);
	cam_sched_get_stats(s, &st);
	assert_int_equal(st.queued[0] + st.queued[1] + st.queued[2], 0);
	assert_int_equal(st.rejected_full, (uint64_t)(p[0].rejected + p[1].rejected));
	/* After stop, tasks run on the caller's thread. */
	rec_init(&tasks[0][0], &seq, 5, 0);
	assert_int_equal(cam_sched_submit(s, &tasks[0][0].task), 0);
	assert_int_equal(atomic_load(&tasks[0][0].ran), 1);
	cam_sched_free(s);
	cam_sched_free(NULL);
}

static void test_bad_settings(void **state)
{
	struct cam_sched_opts o = { 0 };
	cam_sched *s = NULL;

	(void)state;
	cam_sched_default_settings(&o.settings);
	o.settings.weights[2] = 0;
	assert_int_equal(cam_sched_new(&o, &s), CAM_EINVAL);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_think_formula),
		cmocka_unit_test(test_think_parse),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_weighted_order),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_inline_never_overtakes),
		cmocka_unit_test(test_expired_in_queue),
		cmocka_unit_test(test_tune),
		cmocka_unit_test(test_parse_classes),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_decisions),
		cmocka_unit_test(test_two_producers),
		cmocka_unit_test(test_bad_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
