/*
 * The priority scheduler between the gRPC I/O thread and the workers.
 *
 * Every unary call arrives as a task (kernel/grpc/pool.h) whose priority
 * 0-9 and caller the I/O thread already know (classify.c, caller.c).
 * Three classes, each a bounded lock-free fair queue (fair.h): high (7-9),
 * normal (3-6), low (0-2). Workers pick a class by smooth weighted round
 * robin over the classes that have work (weights default 8:4:1), each
 * worker keeping its own round-robin state, so no lock is shared on the
 * hot path and low still progresses; within a class, callers are served
 * in turn, one call each. A full class refuses at once
 * (RESOURCE_EXHAUSTED), and so does a caller's share of it (the queue
 * limit per caller: a flooding caller gets its turns, not the queue); a
 * task whose deadline passed while queued is dropped with
 * DEADLINE_EXCEEDED without running. Weights, queue limits, worker count
 * and the stall time change at run time (cam_sched_tune).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SCHEDULER_H
#define CAM_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/metrics.h"
#include "kernel/grpc/pool.h"

typedef struct cam_sched cam_sched;
struct cam_grpc_call; /* the transport's (kernel/grpc/server.h), opaque here */

enum cam_sched_class { CAM_SCHED_HIGH, CAM_SCHED_NORMAL, CAM_SCHED_LOW, CAM_SCHED_NCLASSES };

/* Bounds of every setting (cam_sched_tune, CAM_SCHEDULER_* options). */
#define CAM_SCHED_WEIGHT_MIN 1
#define CAM_SCHED_WEIGHT_MAX 1000
#define CAM_SCHED_QUEUE_MIN 1
#define CAM_SCHED_QUEUE_MAX 16384
#define CAM_SCHED_WORKERS_MIN 1
#define CAM_SCHED_WORKERS_MAX 256
#define CAM_SCHED_STALL_MS_MIN 100
#define CAM_SCHED_STALL_MS_MAX 600000

struct cam_sched_settings {
	unsigned weights[CAM_SCHED_NCLASSES];     /* high, normal, low */
	unsigned queue_limit[CAM_SCHED_NCLASSES]; /* tasks each class may hold */
	/* Tasks one caller may hold in each class; 0: a quarter of the
	 * class's limit (at least 1), following it when it is tuned. */
	unsigned queue_limit_per_caller[CAM_SCHED_NCLASSES];
	unsigned workers;
	unsigned stall_ms; /* unhealthy: work queued, nothing dequeued this long */
};

struct cam_sched_opts {
	struct cam_sched_settings settings; /* workers 0 = one per online CPU */
	size_t decisions;                   /* ring of recent decisions; 0 = 4096 */
};

/* The settings used when an option is not given: 8:4:1, 1024 per class,
 * a quarter of that per caller, one worker per core, 5000 ms. */
void cam_sched_default_settings(struct cam_sched_settings *out);
/* NULL when every field is within bounds, else a static text naming the
 * first one that is not (workers 0 counts as valid: one per core). */
const char *cam_sched_settings_check(const struct cam_sched_settings *s);

/*
 * Parses "8:4:1" (high:normal:low) into out, or, when one_ok, a single
 * number meaning all three. Whole decimal numbers up to 999999999; bounds
 * are cam_sched_settings_check's. 0, or CAM_EINVAL (out then unspecified).
 */
int cam_sched_parse_classes(const char *v, bool one_ok, unsigned out[CAM_SCHED_NCLASSES]);
/* The queue limit per caller in force in class klass (the setting, or
 * the quarter of the class's limit it stands for when 0). */
unsigned cam_sched_caller_limit(const struct cam_sched_settings *s, unsigned klass);

/* Registers the scheduler's metric families (cam_os_scheduler_*) and
 * starts the workers. CAM_EINVAL (settings out of bounds), CAM_EIO. */
int cam_sched_new(const struct cam_sched_opts *o, cam_sched **out);
/* The scheduler as the gRPC server's executor; valid until free. */
struct cam_grpc_executor *cam_sched_executor(cam_sched *s);
/* Runs what is queued, joins the workers (the executor's stop). Idempotent.
 * No submit may run at the same time (the server joins its I/O thread
 * first); submits after it run on the caller's thread. */
void cam_sched_stop(cam_sched *s);
/* Stops if needed, then frees. NULL is fine. */
void cam_sched_free(cam_sched *s);

/* Queues a task (the executor's submit, see pool.h): 0 or CAM_ELIMIT. */
int cam_sched_submit(cam_sched *s, struct cam_grpc_task *t);

/*
 * Changes every setting at once, or none: CAM_EINVAL with *why naming the
 * first value out of bounds. Lowering a queue limit keeps what is queued;
 * fewer workers finish their current task first. Any thread, including a
 * worker (tune_system runs on one).
 */
int cam_sched_tune(cam_sched *s, const struct cam_sched_settings *want, const char **why);
void cam_sched_get_settings(cam_sched *s, struct cam_sched_settings *out);

struct cam_sched_stats {
	unsigned long queued[CAM_SCHED_NCLASSES];
	unsigned workers;       /* running now */
	unsigned busy;          /* running a task now */
	uint64_t dequeued;      /* tasks taken since start */
	uint64_t ran_inline;    /* calls run at once on their I/O thread (try_inline) */
	uint64_t rejected_full, rejected_deadline;
	uint64_t rejected_caller;  /* a caller's share of its class was full */
	unsigned callers[CAM_SCHED_NCLASSES];      /* callers with calls queued */
	unsigned caller_most[CAM_SCHED_NCLASSES];  /* most one of them has queued */
	int64_t idle_ns;        /* since the last dequeue, when work is queued; else 0 */
};
void cam_sched_get_stats(cam_sched *s, struct cam_sched_stats *out);

enum cam_sched_health { CAM_SCHED_OK, CAM_SCHED_DEGRADED, CAM_SCHED_STUCK };
/* Health for the HealthCheck component: degraded above 80 % fill of any
 * class, stuck when work is queued and nothing was dequeued for stall_ms.
 * msg gets a one-line explanation. */
enum cam_sched_health cam_sched_health(cam_sched *s, char *msg, size_t msglen);

/* "high", "normal", "low". */
const char *cam_sched_class_name(unsigned klass);
/* The class of a priority 0-9. */
unsigned cam_sched_class_of(unsigned priority);

/*
 * Classifiers (classify.c), for cam_grpc_server_set_classifier: the one of
 * cam.SyscallService/Execute (priority field, else payload factors), and
 * the one of health probes (priority 9, so an orchestrator's probe is not
 * refused or kept waiting behind a backlog of ordinary calls).
 */
void cam_sched_classify_request(void *arg, const struct cam_grpc_call *call,
				const uint8_t *msg, size_t len, struct cam_grpc_sched *out);
/* The same from fields already read off the wire (a caller that walks
 * the request for other fields too): the priority field when has_prio,
 * else the factors in payload (plen bytes; may be NULL). */
void cam_sched_classify_fields(bool has_prio, uint64_t prio, const uint8_t *payload,
			       size_t plen, struct cam_grpc_sched *out);
void cam_sched_classify_probe(void *arg, const struct cam_grpc_call *call,
			      const uint8_t *msg, size_t len, struct cam_grpc_sched *out);

/* ---- who calls (caller.c) ---------------------------------------------- */

/*
 * What a classifier keys a call's caller by, for fair share: what the call
 * carries that no other agent can claim, known on the I/O thread before
 * the dispatcher authenticates. In order of preference: the client
 * certificate's identity, the bearer token (the whole authorization
 * value: each agent has its own), the request's caller_id (anonymous
 * mode, where callers name themselves). A call with none of them is one
 * caller with every other such call (cam_grpc_sched.caller 0).
 */
enum cam_sched_caller_by {
	CAM_SCHED_BY_CERTIFICATE,
	CAM_SCHED_BY_TOKEN,
	CAM_SCHED_BY_CALLER_ID,
};
/*
 * Sets out->caller to a 64-bit hash of (by, id[0..len)), never 0, and
 * out->caller_name to what a refusal may say: id itself for a certificate
 * or a caller_id (kept as a pointer: it must live as long as the call's
 * message), a fixed text for a token (which is never kept or shown).
 * Allocates nothing; cannot fail.
 */
void cam_sched_set_caller(struct cam_grpc_sched *out, enum cam_sched_caller_by by,
			  const void *id, size_t len);

/* ---- decisions (explain_action) ---------------------------------------- */

/* How the priority was chosen (struct cam_grpc_sched.source). */
enum cam_sched_source { CAM_SCHED_SRC_DEFAULT, CAM_SCHED_SRC_FIELD, CAM_SCHED_SRC_FACTORS };
const char *cam_sched_source_name(unsigned source);

struct cam_sched_decision {
	char request_id[48];
	char trace_id[33];
	char verb[32];
	struct cam_grpc_sched sched; /* reject and caller_name are not kept */
	int status;                  /* gRPC status of the outcome */
};

/* Keeps d in the ring of recent decisions (overwrites the oldest). */
void cam_sched_record(cam_sched *s, const struct cam_sched_decision *d);
/* The newest decision with this request id (or trace id when request_id
 * is NULL): 0, or CAM_ENOENT when the ring has none. */
int cam_sched_explain(cam_sched *s, const char *request_id, const char *trace_id,
		      struct cam_sched_decision *out);

#endif
