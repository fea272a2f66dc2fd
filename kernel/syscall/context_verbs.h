/*
 * The memory context subsystem's verbs (context_write, context_read,
 * context_versions, context_delete, context_snapshot, context_restore),
 * their metrics and the "Redis Backend" health component.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_CONTEXT_VERBS_H
#define CAM_SYSCALL_CONTEXT_VERBS_H

#include "kernel/memctx/memctx.h"
#include "kernel/syscall/components.h"
#include "kernel/syscall/verbs.h"

typedef struct cam_context_verbs cam_context_verbs;

/* Borrowed pointers: each must outlive the object. */
struct cam_context_verbs_opts {
	cam_verbs *verbs;            /* the rows go here */
	cam_components *components;  /* may be NULL: no health probe */
	cam_memctx *store;           /* required */
};

/* Registers the cam_os_memory_context_* families and their collector,
 * adds the rows (may_block with Redis) and the probe. CAM_EINVAL without
 * a store, or the registry's code; nothing is left behind on failure. */
int cam_context_verbs_new(const struct cam_context_verbs_opts *o, cam_context_verbs **out);
/* Clears the probe, removes the collector and the rows; NULL is a no-op. */
void cam_context_verbs_free(cam_context_verbs *cv);

#endif
