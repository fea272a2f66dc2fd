/*
 * Benchmark of the scheduler's hand-off: the cost per call of enqueue plus
 * dequeue (with the metrics it keeps) with 2 threads, one submitting like
 * the gRPC I/O thread and one worker running empty tasks, from one caller
 * and from 100 served in turn; and the same with the plain FIFO pool (one
 * mutex and condition variable) it replaced.
 * Prints one line per figure; `make bench` runs it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "kernel/grpc/pool.h"
#include "kernel/scheduler/scheduler.h"

#define CALLS 2000000L
#define SLOTS 65536 /* tasks in flight at most: more than the queues hold */

struct task {
	struct cam_grpc_task t;
	atomic_int busy;
};

static struct task tasks[SLOTS];
static atomic_long ran;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(struct cam_grpc_task *t)
{
	atomic_store_explicit(&((struct task *)t)->busy, 0, memory_order_release);
	atomic_fetch_add_explicit(&ran, 1, memory_order_relaxed);
}

static void drop(struct cam_grpc_task *t, int status, const char *why)
{
	(void)status;
	(void)why;
	run(t);
}

/* Callers the tasks come from, in turn (0: one, unnamed). */
static unsigned ncallers;

/* Takes slot i once its last task ran. */
static struct cam_grpc_task *slot(long i, unsigned priority)
{
	struct task *k = &tasks[i % SLOTS];

	while (atomic_load_explicit(&k->busy, memory_order_acquire))
		sched_yield();
	atomic_store_explicit(&k->busy, 1, memory_order_relaxed);
	memset(&k->t, 0, sizeof(k->t));
	k->t.run = run;
	k->t.drop = drop;
	k->t.sched.priority = priority;
	k->t.sched.caller = ncallers ? 1 + (uint64_t)i % ncallers : 0;
	return &k->t;
}

static void wait_ran(long n)
{
	while (atomic_load(&ran) < n)
		sched_yield();
}

/* Calls per second through an executor; *full counts refusals (retried). */
static double through(struct cam_grpc_executor *ex, bool mixed, long *full)
{
	double t0;

	atomic_store(&ran, 0);
	*full = 0;
	t0 = now();
	for (long i = 0; i < CALLS; i++) {
		struct cam_grpc_task *t = slot(i, mixed ? (unsigned)(i % 10) : 5);

		while (ex->ops->submit(ex, t) == CAM_ELIMIT) {
			(*full)++;
			sched_yield();
		}
	}
	wait_ran(CALLS);
	return (double)CALLS / (now() - t0);
}

static atomic_int gate_open, gate_held;

static void gate_run(struct cam_grpc_task *t)
{
	atomic_store(&gate_held, 1);
	while (!atomic_load(&gate_open))
		sched_yield();
	run(t);
}

/*
 * Enqueue and dequeue apart: a gate task holds the one worker while BURST
 * calls are submitted (the submitting thread's cost alone, as the gRPC
 * I/O thread pays it), then the worker drains them (dequeue + empty run).
 */
#define BURST 12000
static void split_ns(struct cam_grpc_executor *ex, double *enq, double *deq)
{
	const int rounds = 40;
	double te = 0, td = 0;
	long n = 0;

	atomic_store(&ran, 0);
	for (int r = 0; r < rounds; r++) {
		struct cam_grpc_task *g = slot(n++, 5);
		double t0;

		g->run = gate_run;
		atomic_store(&gate_open, 0);
		atomic_store(&gate_held, 0);
		ex->ops->submit(ex, g);
		while (!atomic_load(&gate_held))
			sched_yield();
		t0 = now();
		for (int i = 0; i < BURST; i++)
			ex->ops->submit(ex, slot(n++, (unsigned)(i % 10)));
		te += now() - t0;
		t0 = now();
		atomic_store(&gate_open, 1);
		wait_ran(n);
		td += now() - t0;
	}
	*enq = te * 1e9 / ((double)rounds * BURST);
	*deq = td * 1e9 / ((double)rounds * BURST);
}

/* Mean round trip of one call at a time: submit, the worker wakes, runs. */
static double round_trip_ns(struct cam_grpc_executor *ex)
{
	const long n = 50000;
	double t0;

	atomic_store(&ran, 0);
	t0 = now();
	for (long i = 0; i < n; i++) {
		ex->ops->submit(ex, slot(i, (unsigned)(i % 10)));
		wait_ran(i + 1);
	}
	return (now() - t0) * 1e9 / (double)n;
}

static void report(const char *what, double per_sec, long full)
{
	printf("%-58s %9.0f ns/call %7.2f M calls/s (queue-full retries %ld)\n", what,
	       1e9 / per_sec, per_sec / 1e6, full);
}

int main(void)
{
	struct cam_sched_opts o = { .decisions = 16 };
	cam_grpc_pool *pool;
	cam_sched *s;
	long full;
	double r;

	cam_sched_default_settings(&o.settings);
	o.settings.workers = 1;
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++) {
		o.settings.queue_limit[c] = CAM_SCHED_QUEUE_MAX;
		/* The bursts are one caller's: its share is the whole class. */
		o.settings.queue_limit_per_caller[c] = CAM_SCHED_QUEUE_MAX;
	}
	if (cam_sched_new(&o, &s) || cam_grpc_pool_new(1, &pool)) {
		fprintf(stderr, "bench_scheduler: cannot start\n");
		return 1;
	}
	printf("%ld calls, 1 submitting thread + 1 worker, empty handlers\n", CALLS);
	r = through(cam_sched_executor(s), false, &full);
	report("scheduler enqueue+dequeue, one class (priority 5)", r, full);
	r = through(cam_sched_executor(s), true, &full);
	report("scheduler enqueue+dequeue, priorities 0-9 mixed", r, full);
	ncallers = 100;
	r = through(cam_sched_executor(s), false, &full);
	report("scheduler enqueue+dequeue, one class, 100 callers in turn", r, full);
	ncallers = 0;
	r = through(cam_grpc_pool_executor(pool), false, &full);
	report("plain FIFO pool (mutex + condvar) for comparison", r, full);
	{
		double e, d;

		split_ns(cam_sched_executor(s), &e, &d);
		printf("%-58s %9.0f ns enqueue, %.0f ns dequeue+run\n",
		       "scheduler, 12000-call bursts, priorities 0-9", e, d);
		ncallers = 100;
		split_ns(cam_sched_executor(s), &e, &d);
		ncallers = 0;
		printf("%-58s %9.0f ns enqueue, %.0f ns dequeue+run\n",
		       "scheduler, 12000-call bursts, 100 callers in turn", e, d);
		split_ns(cam_grpc_pool_executor(pool), &e, &d);
		printf("%-58s %9.0f ns enqueue, %.0f ns dequeue+run\n",
		       "plain FIFO pool, 12000-call bursts", e, d);
	}
	printf("%-58s %9.0f ns\n", "scheduler round trip, one call at a time (wakes a worker)",
	       round_trip_ns(cam_sched_executor(s)));
	printf("%-58s %9.0f ns\n", "plain FIFO pool round trip, one call at a time",
	       round_trip_ns(cam_grpc_pool_executor(pool)));
	cam_sched_free(s);
	cam_grpc_pool_free(pool);
	return 0;
}
