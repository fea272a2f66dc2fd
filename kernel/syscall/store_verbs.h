/*
 * The durable store's admin verb:
 *
 *   store_backup  name -> path, bytes   (admin)
 *
 * A consistent copy of the running kernel's store (kernel/store/store.h,
 * cam_store_copy) into <data dir>/backups/<name>/store: what
 * `cam-kernel --backup DIR` does from outside, done by the kernel itself
 * while it serves. name is 1-64 characters of [A-Za-z0-9_.-], so a caller
 * can only name a folder under backups/.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_STORE_VERBS_H
#define CAM_SYSCALL_STORE_VERBS_H

#include "kernel/store/store.h"
#include "kernel/syscall/verbs.h"

typedef struct cam_store_verbs cam_store_verbs;

/* Borrowed pointers: each must outlive the object. */
struct cam_store_verbs_opts {
	cam_verbs *verbs;
	cam_store *store;
	const char *data_dir;
};

int cam_store_verbs_new(const struct cam_store_verbs_opts *o, cam_store_verbs **out);
/* NULL is a no-op. */
void cam_store_verbs_free(cam_store_verbs *v);

#endif
