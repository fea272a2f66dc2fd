/*
 * The syscall layer: the verb table and what a verb handler sees.
 *
 * Execute decodes the request, finds the verb, parses the payload, checks
 * its keys, runs the handler on the worker thread, then counts, times and
 * logs the call. A handler returns a gRPC status code (0 = OK) and fills
 * either the result or the error message, or defers (below).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_H
#define CAM_SYSCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/syscall/payload.h"

struct cam_syscall {
	const struct cam_verb *verb;
	const char *caller_id;           /* "anonymous" when none was given */
	char caller_buf[128];            /* caller_id as security decided it */
	unsigned scopes;                 /* enum cam_scope bits (security/auth.h) */
	bool authenticated;              /* caller named by a bearer token */
	const struct cam_payload *payload;
	const uint8_t *data;             /* SyscallRequest.data */
	size_t data_len;
	unsigned priority;               /* 0-9 */
	int64_t deadline_ns;             /* CLOCK_MONOTONIC; 0 = none */
	char trace_id[33];               /* from traceparent or payload; "" = none */
	struct cam_result result;        /* payload-grammar result */
	uint8_t *out_data;               /* SyscallResponse.data; malloc'd, freed by dispatch */
	size_t out_len;
	char error[256];                 /* message when the status is not OK */
};

typedef int (*cam_verb_fn)(struct cam_syscall *sc);

/*
 * A handler that would wait (on a driver helper, say) returns
 * CAM_SYSCALL_DEFERRED instead of a status and later, from any thread,
 * calls cam_syscall_complete(sc, status) exactly once; that counts, logs
 * and answers the call and frees sc. From the moment it hands sc to
 * whoever completes it, the handler must not touch sc again.
 */
#define CAM_SYSCALL_DEFERRED (-1)
void cam_syscall_complete(struct cam_syscall *sc, int status);
/* Whether the client has gone (cancelled, disconnected); lock-free, for a
 * deferred verb to skip work nobody waits for. */
bool cam_syscall_cancelled(const struct cam_syscall *sc);

struct cam_verb {
	const char *name;
	const char *subsystem;
	cam_verb_fn fn;           /* NULL: the subsystem is not built yet */
	const char *const *keys;  /* payload keys accepted; NULL = any */
	const char *scope;        /* scope a caller needs (auth, later) */
	unsigned index;           /* position in the table */
};

/* The verb table, in table order; *n gets its length. */
const struct cam_verb *cam_verbs(size_t *n);
/* A verb by name, or NULL. */
const struct cam_verb *cam_verb_find(const char *name);

/* Writes a message into sc->error and returns status (for handlers). */
int cam_syscall_fail(struct cam_syscall *sc, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Handlers, one file per subsystem. */
int cam_verb_ping(struct cam_syscall *sc);
int cam_verb_observe(struct cam_syscall *sc);
int cam_verb_emit_metric(struct cam_syscall *sc);
int cam_verb_emit_trace(struct cam_syscall *sc);
int cam_verb_think(struct cam_syscall *sc);          /* kernel/scheduler/ */
int cam_verb_explain_action(struct cam_syscall *sc);
int cam_verb_tune_system(struct cam_syscall *sc);
int cam_verb_whoami(struct cam_syscall *sc);
int cam_verb_context_write(struct cam_syscall *sc);
int cam_verb_context_read(struct cam_syscall *sc);
int cam_verb_context_versions(struct cam_syscall *sc);
int cam_verb_context_delete(struct cam_syscall *sc);
int cam_verb_context_snapshot(struct cam_syscall *sc);
int cam_verb_context_restore(struct cam_syscall *sc);

#endif
