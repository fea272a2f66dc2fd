/*
 * What a verb handler sees: one syscall (struct cam_syscall) and the few
 * calls it may make on it. The verb registry (verbs.h) says which handler
 * runs a verb; the dispatcher (dispatch.h) has checked the caller, the
 * verb, the payload keys and the deadline before the handler runs, and
 * counts, times, logs and answers the call after.
 *
 * A handler returns 0 (the call succeeds with sc->result and
 * sc->out_data) or a negative CAM_E* code (common/error.h; sc->error says
 * why in words, else the code's own message is used). The gRPC status the
 * client sees is derived from that code by the dispatcher alone. A
 * handler that would wait returns CAM_SYSCALL_DEFERRED instead (below).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_H
#define CAM_SYSCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "kernel/syscall/payload.h"

struct cam_verb;

struct cam_syscall {
	const struct cam_verb *verb;     /* the row being run (verbs.h) */
	const char *caller_id;           /* as security decided it; "anonymous" when none */
	char caller_buf[128];            /* caller_id's storage */
	unsigned scopes;                 /* enum cam_scope bits (security/auth.h) */
	bool authenticated;              /* caller named by a token or a certificate */
	unsigned identified_by;          /* enum cam_identified_by (security/auth.h) */
	char resource[160];              /* what the policy decided on ("" none) */
	char policy_rule[64];            /* the rule that decided ("" no decision) */
	char policy_name[64];
	uint64_t policy_version;
	/* For the audit trail: why a call was refused, when it was one of a
	 * caller's limits ("rate_limit", "quota"; NULL: none), and what a
	 * change verb changed (change_ns NULL: nothing). */
	const char *refusal;
	bool audited;                    /* a record of the call is in the trail already */
	const char *change_ns, *change_key;
	int64_t change_version, change_size;
	char change_text[160];           /* their storage when not the payload's */
	const struct cam_payload *payload;
	const uint8_t *data;             /* SyscallRequest.data */
	size_t data_len;
	unsigned priority;               /* 0-9 */
	int64_t deadline_ns;             /* CLOCK_MONOTONIC; 0 = none */
	char trace_id[33];               /* from traceparent or payload; "" = none */
	struct cam_result result;        /* payload-grammar result */
	uint8_t *out_data;               /* SyscallResponse.data; malloc'd, freed by dispatch */
	size_t out_len;
	char error[256];                 /* message when the call fails */
};

/* A handler: ctx is the pointer its subsystem registered with the row. */
typedef int (*cam_verb_fn)(void *ctx, struct cam_syscall *sc);

/*
 * A handler that would wait (on a driver helper, say) returns
 * CAM_SYSCALL_DEFERRED and later, from any thread, calls
 * cam_syscall_complete(sc, rc) exactly once with 0 or a CAM_E* code; that
 * counts, logs and answers the call and frees sc. From the moment it hands
 * sc to whoever completes it, the handler must not touch sc again.
 * Positive, so no error code can be taken for it.
 */
#define CAM_SYSCALL_DEFERRED 1
void cam_syscall_complete(struct cam_syscall *sc, int rc);
/* Whether the client has gone (cancelled, disconnected); lock-free, for a
 * deferred verb to skip work nobody waits for. */
bool cam_syscall_cancelled(const struct cam_syscall *sc);

/* Writes a message into sc->error and returns err (for handlers:
 * `return cam_syscall_fail(sc, CAM_EINVAL, "...")`). */
int cam_syscall_fail(struct cam_syscall *sc, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
