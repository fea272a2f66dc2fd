/*
 * The hand-off from the gRPC I/O thread to the threads that run handlers.
 *
 * The server hands every unary call to an executor as an intrusive task
 * (no allocation per call). An executor is three operations behind
 * struct cam_grpc_executor: the plain FIFO pool below is the default, and
 * the kernel's priority scheduler (kernel/scheduler/) stands in for it
 * without the transport knowing. Before submit, the method's classifier
 * (cam_grpc_server_set_classifier) has filled task->sched on the I/O
 * thread from the request message, so a scheduler places the task without
 * decoding anything itself.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_GRPC_POOL_H
#define CAM_GRPC_POOL_H

#include <stdbool.h>
#include <stdint.h>

#define CAM_GRPC_SCHED_FACTORS 5

/*
 * What a scheduler knows about one task. The classifier sets priority and,
 * when the request carried them, the factors and score (scored = true);
 * source is the classifier's own code for how it chose. The executor sets
 * klass, queue_len, the times and, when it refuses the task, reject.
 * Handlers read it back through cam_grpc_call_task().
 */
struct cam_grpc_sched {
	unsigned priority;        /* 0 (lowest) - 9; 5 without a classifier */
	unsigned source;          /* classifier's code, 0 = default */
	/* The classifier says the handler never blocks, so it may run on the
	 * I/O thread that decoded it when the executor allows (try_inline). */
	bool may_inline;
	bool ran_inline;          /* set by the transport when it did */
	/* Whatever else the classifier learnt reading the request, for the
	 * handler (the transport does not look at it); 0 = nothing. */
	uint32_t note;
	bool scored;
	double factors[CAM_GRPC_SCHED_FACTORS];
	double score;
	/* Who calls, for an executor that shares its queues fairly: a key
	 * the classifier made from what the call carries (never 0), or 0 for
	 * every caller it cannot tell apart. caller_name (caller_name_len
	 * bytes, not NUL-terminated, valid while the request message is)
	 * names it in a refusal's text; NULL: the key's origin is unnamed. */
	uint64_t caller;
	const char *caller_name;
	unsigned caller_name_len;
	unsigned klass;           /* executor's class index */
	unsigned queue_len;       /* tasks already in its class at submit */
	int64_t enqueued_ns;      /* CLOCK_MONOTONIC */
	int64_t dequeued_ns;
	/* Why submit refused: text valid until the next submit on this
	 * thread (the transport copies it at once). */
	const char *reject;
};

struct cam_grpc_task {
	struct cam_grpc_task *next;               /* owned by the executor while queued */
	void (*run)(struct cam_grpc_task *task); /* runs the handler (worker thread) */
	/* Finishes the task without running its handler (deadline passed in
	 * the queue): answers grpc_status unless the call is already over. */
	void (*drop)(struct cam_grpc_task *task, int grpc_status, const char *why);
	int64_t deadline_ns;                      /* CLOCK_MONOTONIC; 0 = none */
	struct cam_grpc_sched sched;
};

struct cam_grpc_executor;

struct cam_grpc_executor_ops {
	/*
	 * Queues a task: later a worker calls task->run or task->drop once,
	 * and the executor never touches it again. Never blocks on a handler.
	 * Returns 0, or CAM_ELIMIT when the task's queue is full (or its
	 * caller's share of it): then nothing was queued or run and
	 * task->sched.reject says why (the server answers
	 * RESOURCE_EXHAUSTED). After stop, tasks run on the caller.
	 */
	int (*submit)(struct cam_grpc_executor *ex, struct cam_grpc_task *task);
	/* Runs (or drops, when expired) every queued task, then joins the
	 * workers. Idempotent. */
	void (*stop)(struct cam_grpc_executor *ex);
	/* Tasks queued and not yet picked up by a worker. */
	unsigned long (*queued)(struct cam_grpc_executor *ex);
	/*
	 * May be NULL. For a task whose classifier set may_inline: true when
	 * it may run now on the calling (I/O) thread instead of being queued
	 * (a priority scheduler: no task of its class or a higher one is
	 * waiting, so running it first changes no order); the executor then
	 * counts it as dispatched, and the caller runs task->run at once.
	 * False: the caller submits it as usual. Never blocks.
	 */
	bool (*try_inline)(struct cam_grpc_executor *ex, struct cam_grpc_task *task);
};

/* Embedded in an executor's own struct. */
struct cam_grpc_executor {
	const struct cam_grpc_executor_ops *ops;
};

/* ---- the plain FIFO pool --------------------------------------------- */

typedef struct cam_grpc_pool cam_grpc_pool;

/* Starts nthreads workers (0 = one per online CPU). CAM_ENOMEM/CAM_EIO. */
int cam_grpc_pool_new(unsigned nthreads, cam_grpc_pool **out);
/* The pool as an executor; valid until cam_grpc_pool_free. */
struct cam_grpc_executor *cam_grpc_pool_executor(cam_grpc_pool *p);
/*
 * Queues a task; some worker calls task->run(task) once, after which the
 * pool never touches it again. Never blocks on a handler, cannot fail
 * (the pool is unbounded). Tasks submitted after cam_grpc_pool_stop() run
 * on the caller's thread.
 */
void cam_grpc_pool_submit(cam_grpc_pool *p, struct cam_grpc_task *task);
/* Runs every queued task, then joins the workers. Idempotent. */
void cam_grpc_pool_stop(cam_grpc_pool *p);
/* Stops if needed and frees; NULL is fine. */
void cam_grpc_pool_free(cam_grpc_pool *p);
/* Tasks queued and not yet picked up by a worker. */
unsigned long cam_grpc_pool_queued(cam_grpc_pool *p);

#endif
