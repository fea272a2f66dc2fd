/*
 * The private contract between memctx.c and its two backends, in the way
 * redis's ae.c talks to ae_epoll.c: one table of operations per backend.
 *
 * memctx.c has checked every name, the value size and the limits' shape
 * before a backend sees a call; the backend enforces the limits that need
 * its data (keys per namespace, total bytes, snapshots), atomically with
 * the change, and leaves everything unchanged when it refuses. Return
 * codes and `why` are those of memctx.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_MEMCTX_BACKEND_H
#define CAM_MEMCTX_BACKEND_H

#include "kernel/memctx/memctx.h"

/*
 * Every operation gets the call's deadline (memctx.h) first. A backend
 * gives either the synchronous operations (memctx.c runs them on the
 * submitting thread and calls done) or submit, which takes ops whose
 * names memctx.c has checked and must see each one's done called exactly
 * once; a backend with submit may leave the synchronous ones NULL.
 */
struct cam_memctx__ops {
	const char *name;
	void (*submit)(void *b, struct cam_memctx_op *op);
	int (*write)(void *b, int64_t deadline_ns, const char *ns, const char *key,
		     const void *val, size_t len, int64_t expected, int64_t now_ms,
		     struct cam_memctx_version *out, uint64_t *current, char *why);
	int (*read)(void *b, int64_t deadline_ns, const char *ns, const char *key,
		    uint64_t version, struct cam_memctx_value *out, char *why);
	int (*versions)(void *b, int64_t deadline_ns, const char *ns, const char *key,
			struct cam_memctx_version *out, size_t max, size_t *n, char *why);
	int (*del)(void *b, int64_t deadline_ns, const char *ns, const char *key,
		   size_t *removed, char *why);
	int (*snapshot)(void *b, int64_t deadline_ns, const char *ns, const char *id,
			int64_t now_ms, size_t *keys, char *why);
	int (*restore)(void *b, int64_t deadline_ns, const char *id, char *ns, size_t *keys,
		       char *why);
	int (*snapshot_delete)(void *b, int64_t deadline_ns, const char *id, char *why);
	int (*snapshot_ns)(void *b, int64_t deadline_ns, const char *id, char *ns, char *why);
	uint64_t (*size_bytes)(void *b);
	uint64_t (*reconnects)(void *b);
	uint64_t (*master_changes)(void *b); /* NULL: always 0 */
	uint64_t (*unconfirmed)(void *b);    /* NULL: always 0 */
	int (*cluster)(void *b, struct cam_memctx_cluster *out); /* NULL: CAM_ENOENT */
	enum cam_component_status (*health)(void *b, char *msg, size_t len);
	cam_store *(*store)(void *b);        /* NULL: not a durable store */
	void (*free)(void *b);
};

/* Constructors: 0 and *out, or CAM_E* with why filled. */
int cam_memctx__mem_new(const struct cam_memctx_limits *l, void **out, char *why);
int cam_memctx__redis_new(const struct cam_memctx_opts *o, void **out, char *why);
int cam_memctx__lmdb_new(const struct cam_memctx_opts *o, void **out, char *why);
extern const struct cam_memctx__ops cam_memctx__mem_ops;
extern const struct cam_memctx__ops cam_memctx__redis_ops;
extern const struct cam_memctx__ops cam_memctx__lmdb_ops;

/* Fills why (may be NULL) and returns err. */
int cam_memctx__fail(char *why, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
