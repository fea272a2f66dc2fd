/*
 * The dispatcher: from a decoded request to a verb handler and back,
 * knowing nothing of the transport. kernel/syscall/service.c feeds it the
 * gRPC calls of cam.SyscallService/Execute; the unit tests feed it calls
 * of their own.
 *
 * For each call, in this order (dispatch.c, run()): the request must have
 * decoded, its strings valid UTF-8 without a NUL byte; who calls (a
 * token, a registered token, a client certificate, or anonymous) and
 * their rate limit; the verb must be in the registry; the caller must hold
 * its scope; the priority, the payload grammar, the payload keys and the
 * scheduling factors must be valid; the policy (security/policy.h) must
 * allow an authenticated caller the verb on its resource (the row's
 * resource function names it); the deadline must not have passed. Then the
 * handler runs on the calling thread (a worker) and may defer
 * (syscall.h). Every call, good or bad, is counted in
 * cam_os_syscall_total{verb} and timed in
 * cam_os_syscall_duration_seconds{verb}; failures also count in
 * cam_os_syscall_errors_total{verb,code}. A verb outside the registry
 * counts as verb="unknown", so the label set stays bounded. One access-log
 * line per call goes through the async logger (access_log.h: failing
 * calls' lines are rate-limited per caller), and the scheduler keeps how
 * the call was scheduled for explain_action.
 *
 * The one place where a CAM_E* code becomes the gRPC status a client
 * sees (common/error.h's table).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_DISPATCH_H
#define CAM_SYSCALL_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/grpc/pool.h"
#include "kernel/scheduler/scheduler.h"
#include "kernel/security/auth.h"
#include "kernel/security/audit.h"
#include "kernel/security/policy.h"
#include "kernel/syscall/access_log.h"
#include "kernel/syscall/syscall.h"
#include "kernel/syscall/verbs.h"
#include "kernel/tracing/span_ring.h"

typedef struct cam_dispatch cam_dispatch;

/* Borrowed pointers: each must outlive the dispatcher. */
struct cam_dispatch_opts {
	const cam_verbs *verbs;  /* every row added already (indexes are read once) */
	cam_auth *auth;          /* required: who calls */
	cam_policy *policy;      /* may be NULL: scopes only, no ownership */
	cam_audit *audit;        /* may be NULL: nothing audited */
	cam_sched *sched;        /* may be NULL: decisions are not kept */
	cam_span_ring *spans;    /* may be NULL: traced calls get no span */
	const char *instance_id; /* request ids start with its first 8 characters */
	enum cam_access_log_mode access_log;
	double access_log_error_rate; /* access_log.h; 0: no limit */
};

/* Registers the cam_os_syscall_* families. CAM_EINVAL without verbs or
 * auth; *out untouched on failure. */
int cam_dispatch_new(const struct cam_dispatch_opts *o, cam_dispatch **out);
/* No call may be running. NULL is a no-op. */
void cam_dispatch_free(cam_dispatch *d);

struct cam_dispatch_call;

/* How the transport answers a call (service.c for gRPC). */
struct cam_dispatch_call_ops {
	/* Status 0: reply with c->sc.result, c->request_id and c->sc.out_data;
	 * else fail with that gRPC status and c->sc.error. Once per call, on
	 * the thread that finishes it. */
	void (*answer)(struct cam_dispatch_call *c, int grpc_status);
	/* The last thing that happens to c: frees the transport's memory (c
	 * itself included). */
	void (*release)(struct cam_dispatch_call *c);
	/* Whether the client has gone; quick and lock-free. May be NULL. */
	bool (*cancelled)(const struct cam_dispatch_call *c);
};

/*
 * One call. The transport allocates it zeroed (with room for its own
 * fields after it), fills the request part and hands it over; the
 * dispatcher fills the rest. Strings stay valid until release.
 */
struct cam_dispatch_call {
	struct cam_syscall sc; /* first: what the handler sees (also set: sc.data,
				* sc.data_len, sc.deadline_ns) */
	const struct cam_dispatch_call_ops *ops;
	/* The request. */
	bool decoded;                      /* false: not a SyscallRequest */
	const char *bad_string;            /* a string field that is not UTF-8 text, or NULL */
	const char *verb;
	const char *payload;               /* NUL-terminated */
	const char *caller_id;             /* "" when none */
	bool has_priority;
	uint32_t priority;
	const char *authorization;         /* metadata; NULL when absent */
	const struct cam_peer_cert *cert;  /* the connection's client certificate; NULL: none */
	const char *peer;                  /* the client's address; NULL: unknown */
	const char *traceparent;           /* metadata; NULL when absent */
	const struct cam_grpc_sched *sched; /* what the executor decided; may be NULL */
	int64_t t0;                        /* CLOCK_MONOTONIC it is timed from; 0: now */
	/* The dispatcher's. */
	cam_dispatch *d;
	const char *verb_label;
	size_t idx;
	char request_id[40];
	/* Last: a caller may zero the call up to parsed.pairs only (what
	 * follows needs none; exec_new saves a 1.2 KB memset per call). */
	struct cam_payload parsed;
};

/*
 * Runs a call on the calling thread. It is answered exactly once, through
 * c->ops: before this returns, or later from another thread when its verb
 * defers; then released. The caller must not touch c after this.
 */
void cam_dispatch_run(cam_dispatch *d, struct cam_dispatch_call *c);
/*
 * A call the transport answers itself without running it (queue full,
 * deadline passed in the queue, cancelled while queued) is still a
 * syscall: counted, traced, logged and recorded here with grpc_status and
 * why, then released (not answered).
 */
void cam_dispatch_refused(cam_dispatch *d, struct cam_dispatch_call *c, int grpc_status,
			  const char *why);

#endif
