/*
 * The verb registry: which handler runs each verb, with the context its
 * subsystem gave, the payload keys it accepts, the scope a caller needs,
 * and whether the handler may block.
 *
 * Each subsystem's verb file (kernel/syscall/<subsystem>_verbs.c, emit_*.c)
 * adds its own rows when it is made and removes them when it is freed;
 * kernel/main.c makes them in one order, before the dispatcher
 * (dispatch.h) that reads the registry. Rows are added and removed only
 * while no call runs (before the gRPC server starts, after it has shut
 * down); in between, lookups from any thread need no lock.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_VERBS_H
#define CAM_SYSCALL_VERBS_H

#include <stdbool.h>
#include <stddef.h>

#include "kernel/syscall/syscall.h"

/* The most rows a registry holds; the verb label set is bounded by it. */
#define CAM_VERBS_MAX 64

typedef struct cam_verbs cam_verbs;

/*
 * One verb. The subsystem fills the first five fields; strings and the key
 * list are borrowed and must outlive the registry (static storage).
 */
struct cam_verb {
	const char *name;           /* [a-z_][a-z0-9_]*, at most 31 bytes */
	cam_verb_fn fn;
	const char *const *keys;    /* payload keys accepted, NULL-terminated
				     * (the scheduling factors are always
				     * accepted, factors.h); NULL: any */
	unsigned scope;             /* enum cam_scope (security/auth.h) a caller needs */
	/* The handler may wait: on I/O (Redis, a TPM, the file system), a
	 * sleep, or a lock held for long. Such a verb must run on a worker
	 * thread; one that may not block could run on the I/O thread. A
	 * subsystem sets it from its configuration when it adds its rows. */
	bool may_block;
	/* A payload key that makes one call of a verb that does not block
	 * block after all (ping's delay_ms sleeps); NULL: none. */
	const char *blocks_with;
	/* The resource a call acts on, for the policy (security/policy.h):
	 * "namespace:<ns>", "driver:<name>" or "metric:<name>" into buf (len
	 * bytes), or "" for none; 0, or a CAM_E* code (with sc->error) that
	 * ends the call. Runs after the payload is checked, on the call's
	 * thread; it may block only if the row may. NULL: the verb has no
	 * resource. */
	int (*resource)(void *ctx, struct cam_syscall *sc, char *buf, size_t len);
	/* Set by the registry. */
	void *ctx;                  /* handed to fn */
	const char *subsystem;      /* "memory context", ... */
	unsigned index;             /* position, 0 .. cam_verbs_count() - 1 */
};

int cam_verbs_new(cam_verbs **out);
/* NULL is a no-op. */
void cam_verbs_free(cam_verbs *v);

/*
 * Adds n rows (copied) of a subsystem, each run with ctx. All or none:
 * CAM_EINVAL for a row without a name, a valid name or a handler,
 * CAM_EEXIST for a name already there (or twice in rows), CAM_ELIMIT past
 * CAM_VERBS_MAX.
 */
int cam_verbs_add(cam_verbs *v, const char *subsystem, const struct cam_verb *rows,
		  size_t n, void *ctx);
/* Removes the rows with these rows' names (those not there are skipped);
 * the others keep their order and get new indexes. */
void cam_verbs_remove(cam_verbs *v, const struct cam_verb *rows, size_t n);

/* The row of a verb, or NULL. */
const struct cam_verb *cam_verbs_find(const cam_verbs *v, const char *name);
size_t cam_verbs_count(const cam_verbs *v);
/* Row i (0 <= i < cam_verbs_count), in the order they were added. */
const struct cam_verb *cam_verbs_at(const cam_verbs *v, size_t i);

#endif
