/*
 * The memory context store's front: checks names, sizes and limits once,
 * then hands the call to the backend chosen at creation (backend.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/memctx/memctx.h"

#include <errno.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/xmalloc.h"
#include "kernel/memctx/backend.h"

struct cam_memctx {
	const struct cam_memctx__ops *ops;
	void *b;
	struct cam_memctx_limits limits;
};

int cam_memctx__fail(char *why, int err, const char *fmt, ...)
{
	va_list ap;

	if (why) {
		va_start(ap, fmt);
		vsnprintf(why, CAM_MEMCTX_WHY, fmt, ap);
		va_end(ap);
	}
	return err;
}

void cam_memctx_value_free(struct cam_memctx_value *v)
{
	if (!v)
		return;
	free(v->data);
	v->data = NULL;
}

int cam_memctx_name_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-' || c == '/'))
			return 0;
	}
	return n >= 1 && n <= CAM_MEMCTX_MAX_NAME;
}

static int check_limits(const struct cam_memctx_limits *l, char *why)
{
	if (!l->max_value_bytes || !l->max_keys || !l->max_total_bytes || !l->max_snapshots)
		return cam_memctx__fail(why, CAM_EINVAL, "memory context limits must be positive");
	if (l->keep_versions < 1 || l->keep_versions > CAM_MEMCTX_MAX_KEEP)
		return cam_memctx__fail(why, CAM_EINVAL, "versions kept must be 1-%d",
				   CAM_MEMCTX_MAX_KEEP);
	return 0;
}

/* The backend o asks for, or CAM_EINVAL with why. */
static int pick_backend(const struct cam_memctx_opts *o, const struct cam_memctx__ops **out,
			char *why)
{
	bool redis = (o->redis_url && *o->redis_url) || (o->sentinels && *o->sentinels) ||
		     (o->cluster && *o->cluster);
	const char *want = o->backend && *o->backend ? o->backend
			   : redis			  ? "redis"
			   : o->store			  ? "lmdb"
							  : "memory";

	if (strcmp(want, "redis") == 0 && redis)
		*out = &cam_memctx__redis_ops;
	else if (strcmp(want, "lmdb") == 0 && o->store && !redis)
		*out = &cam_memctx__lmdb_ops;
	else if (strcmp(want, "memory") == 0 && !redis)
		*out = &cam_memctx__mem_ops;
	else if (strcmp(want, "redis") && strcmp(want, "lmdb") && strcmp(want, "memory"))
		return cam_memctx__fail(why, CAM_EINVAL,
					"context store backend must be lmdb, memory or redis, not '%.32s'",
					want);
	else if (strcmp(want, "redis") == 0)
		return cam_memctx__fail(why, CAM_EINVAL,
					"the redis backend needs CAM_REDIS_URL, CAM_REDIS_SENTINELS or CAM_REDIS_CLUSTER");
	else if (redis)
		return cam_memctx__fail(why, CAM_EINVAL,
					"backend %s asked for, but Redis is configured too: unset "
					"CAM_REDIS_URL/CAM_REDIS_SENTINELS/CAM_REDIS_CLUSTER or ask for redis", want);
	else
		return cam_memctx__fail(why, CAM_EINVAL, "the lmdb backend needs the kernel's store");
	return 0;
}

int cam_memctx_new(const struct cam_memctx_opts *o, cam_memctx **out, char *why)
{
	const struct cam_memctx__ops *ops = NULL;
	struct cam_memctx *m;
	int rc;

	if ((rc = check_limits(&o->limits, why)) || (rc = pick_backend(o, &ops, why)))
		return rc;
	m = cam_xcalloc(1, sizeof(*m));
	m->limits = o->limits;
	m->ops = ops;
	if (ops == &cam_memctx__redis_ops)
		rc = cam_memctx__redis_new(o, &m->b, why);
	else if (ops == &cam_memctx__lmdb_ops)
		rc = cam_memctx__lmdb_new(o, &m->b, why);
	else
		rc = cam_memctx__mem_new(&o->limits, &m->b, why);
	if (rc) {
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void cam_memctx_free(cam_memctx *m)
{
	if (!m)
		return;
	m->ops->free(m->b);
	free(m);
}

const char *cam_memctx_backend(const cam_memctx *m)
{
	return m->ops->name;
}

static int check_names(const char *ns, const char *key, char *why)
{
	if (!cam_memctx_name_valid(ns))
		return cam_memctx__fail(why, CAM_EINVAL,
				   "namespace must be 1-%d characters of A-Z a-z 0-9 _ . - /",
				   CAM_MEMCTX_MAX_NAME);
	if (key && !cam_memctx_name_valid(key))
		return cam_memctx__fail(why, CAM_EINVAL,
				   "key must be 1-%d characters of A-Z a-z 0-9 _ . - /",
				   CAM_MEMCTX_MAX_NAME);
	return 0;
}

static void new_id(char *id)
{
	unsigned char r[CAM_MEMCTX_ID_LEN / 2];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)(((uint64_t)ts.tv_nsec * 2654435761u) >> (i % 8 * 4)) ^
			       (unsigned char)rand();
	}
	for (size_t i = 0; i < sizeof(r); i++)
		sprintf(id + 2 * i, "%02x", r[i]);
}

static int id_valid(const char *id)
{
	size_t n = 0;

	for (; id && id[n]; n++)
		if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f')))
			return 0;
	return n == CAM_MEMCTX_ID_LEN;
}

/* ---- checks, then the backend ------------------------------------------ */

static void op_fail(struct cam_memctx_op *op, int rc)
{
	op->rc = rc;
	op->done(op);
}

/* The checks of every kind, before a backend sees the op; 0 or a code
 * with op->why filled. */
static int op_check(const cam_memctx *m, struct cam_memctx_op *op)
{
	switch (op->kind) {
	case CAM_MEMCTX_OP_WRITE:
		if (op->len > m->limits.max_value_bytes)
			return cam_memctx__fail(op->why, CAM_EINVAL,
						"value of %zu bytes is over the limit of %zu",
						op->len, m->limits.max_value_bytes);
		if (op->expected < CAM_MEMCTX_ANY)
			return cam_memctx__fail(op->why, CAM_EINVAL,
						"expected version must be 0 or more");
		/* fall through */
	case CAM_MEMCTX_OP_READ:
	case CAM_MEMCTX_OP_VERSIONS:
		return check_names(op->ns, op->key ? op->key : "", op->why);
	case CAM_MEMCTX_OP_DELETE:
	case CAM_MEMCTX_OP_SNAPSHOT:
		return check_names(op->ns, op->kind == CAM_MEMCTX_OP_DELETE ? op->key : NULL,
				   op->why);
	case CAM_MEMCTX_OP_RESTORE:
	case CAM_MEMCTX_OP_SNAPSHOT_DELETE:
	case CAM_MEMCTX_OP_SNAPSHOT_NS:
		if (!id_valid(op->id))
			return cam_memctx__fail(op->why, CAM_EINVAL,
						"snapshot id must be %d hex digits",
						CAM_MEMCTX_ID_LEN);
		return 0;
	}
	return cam_memctx__fail(op->why, CAM_EINVAL, "unknown memory context operation");
}

/* A backend without submit: its synchronous operation, here and now. */
static int run_sync(cam_memctx *m, struct cam_memctx_op *op)
{
	const struct cam_memctx__ops *b = m->ops;
	char *why = op->why;
	int64_t dl = op->deadline_ns;

	switch (op->kind) {
	case CAM_MEMCTX_OP_WRITE:
		return b->write(m->b, dl, op->ns, op->key, op->val, op->len, op->expected,
				op->now_ms, &op->value.v, &op->current, why);
	case CAM_MEMCTX_OP_READ:
		return b->read(m->b, dl, op->ns, op->key, op->version, &op->value, why);
	case CAM_MEMCTX_OP_VERSIONS:
		return b->versions(m->b, dl, op->ns, op->key, op->versions, op->max, &op->n, why);
	case CAM_MEMCTX_OP_DELETE:
		return b->del(m->b, dl, op->ns, op->key, &op->n, why);
	case CAM_MEMCTX_OP_SNAPSHOT:
		return b->snapshot(m->b, dl, op->ns, op->snapshot_id, op->now_ms, &op->n, why);
	case CAM_MEMCTX_OP_RESTORE:
		return b->restore(m->b, dl, op->id, op->snapshot_ns, &op->n, why);
	case CAM_MEMCTX_OP_SNAPSHOT_DELETE:
		return b->snapshot_delete(m->b, dl, op->id, why);
	case CAM_MEMCTX_OP_SNAPSHOT_NS:
		return b->snapshot_ns(m->b, dl, op->id, op->snapshot_ns, why);
	}
	return CAM_EINVAL;
}

void cam_memctx_submit(cam_memctx *m, struct cam_memctx_op *op)
{
	int rc;

	op->rc = 0;
	op->why[0] = '\0';
	op->value = (struct cam_memctx_value){ 0 };
	op->current = 0;
	op->n = 0;
	op->snapshot_ns[0] = '\0';
	op->now_ms = cam_real_ms();
	if ((rc = op_check(m, op)))
		return op_fail(op, rc);
	if (op->kind == CAM_MEMCTX_OP_SNAPSHOT)
		new_id(op->snapshot_id);
	if (m->ops->submit)
		return m->ops->submit(m->b, op);
	op_fail(op, run_sync(m, op));
}

int cam_memctx_async(const cam_memctx *m)
{
	return m->ops->submit != NULL;
}

/* ---- the synchronous calls: submit, then wait for done ---------------- */

struct waiter {
	struct cam_memctx_op op;
	sem_t sem;
};

static void wake(struct cam_memctx_op *op)
{
	sem_post(&((struct waiter *)op->arg)->sem);
}

/* Runs w->op and waits for it; returns its code, with why copied out. */
static int wait_op(cam_memctx *m, struct waiter *w, int64_t deadline_ns, char *why)
{
	w->op.deadline_ns = deadline_ns;
	w->op.done = wake;
	w->op.arg = w;
	sem_init(&w->sem, 0, 0);
	cam_memctx_submit(m, &w->op);
	while (sem_wait(&w->sem) && errno == EINTR)
		;
	sem_destroy(&w->sem);
	if (why)
		memcpy(why, w->op.why, CAM_MEMCTX_WHY);
	return w->op.rc;
}

int cam_memctx_write(cam_memctx *m, int64_t deadline_ns, const char *ns, const char *key,
		     const void *val, size_t len, int64_t expected,
		     struct cam_memctx_version *out, uint64_t *current, char *why)
{
	struct waiter w = { .op = { .kind = CAM_MEMCTX_OP_WRITE, .ns = ns, .key = key,
				    .val = val, .len = len, .expected = expected } };
	int rc = wait_op(m, &w, deadline_ns, why);

	if (rc == 0)
		*out = w.op.value.v;
	if (current)
		*current = w.op.current;
	return rc;
}

int cam_memctx_read(cam_memctx *m, int64_t deadline_ns, const char *ns, const char *key,
		    uint64_t version, struct cam_memctx_value *out, char *why)
{
	struct waiter w = { .op = { .kind = CAM_MEMCTX_OP_READ, .ns = ns, .key = key,
				    .version = version } };
	int rc = wait_op(m, &w, deadline_ns, why);

	*out = w.op.value;
	if (rc)
		cam_memctx_value_free(out);
	return rc;
}

int cam_memctx_versions(cam_memctx *m, int64_t deadline_ns, const char *ns, const char *key,
			struct cam_memctx_version *out, size_t max, size_t *n, char *why)
{
	struct waiter w = { .op = { .kind = CAM_MEMCTX_OP_VERSIONS, .ns = ns, .key = key,
				    .versions = out, .max = max } };
	int rc = wait_op(m, &w, deadline_ns, why);

	*n = w.op.n;
	return rc;
}

int cam_memctx_delete(cam_memctx *m, int64_t deadline_ns, const char *ns, const char *key,
		      size_t *removed, char *why)
{
	struct waiter w = { .op = { .kind = CAM_MEMCTX_OP_DELETE, .ns = ns, .key = key } };
	int rc = wait_op(m, &w, deadline_ns, why);

	*removed = w.op.n;
	return rc;
}

int cam_memctx_snapshot(cam_memctx *m, int64_t deadline_ns, const char *ns, char *id,
			size_t *keys, char *why)
{
	struct waiter w = { .op = { .kind = CAM_MEMCTX_OP_SNAPSHOT, .ns = ns } };
	int rc = wait_op(m, &w, deadline_ns, why);

	*keys = w.op.n;
	memcpy(id, w.op.snapshot_id, CAM_MEMCTX_ID_LEN + 1);
	return rc;
}

int cam_memctx_restore(cam_memctx *m, int64_t deadline_ns, const char *id, char *ns,
		       size_t *keys, char *why)
{
	struct waiter w = { .op = { .kind = CAM_MEMCTX_OP_RESTORE, .id = id } };
	int rc = wait_op(m, &w, deadline_ns, why);

	*keys = w.op.n;
	memcpy(ns, w.op.snapshot_ns, CAM_MEMCTX_MAX_NAME + 1);
	return rc;
}

int cam_memctx_snapshot_delete(cam_memctx *m, int64_t deadline_ns, const char *id, char *why)
{
	struct waiter w = { .op = { .kind = CAM_MEMCTX_OP_SNAPSHOT_DELETE, .id = id } };

	return wait_op(m, &w, deadline_ns, why);
}

int cam_memctx_snapshot_ns(cam_memctx *m, int64_t deadline_ns, const char *id, char *ns,
			   char *why)
{
	struct waiter w = { .op = { .kind = CAM_MEMCTX_OP_SNAPSHOT_NS, .id = id } };
	int rc = wait_op(m, &w, deadline_ns, why);

	memcpy(ns, w.op.snapshot_ns, CAM_MEMCTX_MAX_NAME + 1);
	return rc;
}

size_t cam_memctx_owner_len(const char *ns)
{
	const char *slash = strchr(ns, '/');

	return slash ? (size_t)(slash - ns) : strlen(ns);
}

uint64_t cam_memctx_size_bytes(cam_memctx *m)
{
	return m->ops->size_bytes(m->b);
}

uint64_t cam_memctx_reconnects(cam_memctx *m)
{
	return m->ops->reconnects(m->b);
}

uint64_t cam_memctx_master_changes(cam_memctx *m)
{
	return m->ops->master_changes ? m->ops->master_changes(m->b) : 0;
}

uint64_t cam_memctx_unconfirmed(cam_memctx *m)
{
	return m->ops->unconfirmed ? m->ops->unconfirmed(m->b) : 0;
}

int cam_memctx_cluster(cam_memctx *m, struct cam_memctx_cluster *out)
{
	return m->ops->cluster ? m->ops->cluster(m->b, out) : CAM_ENOENT;
}

cam_store *cam_memctx_store(cam_memctx *m)
{
	return m->ops->store ? m->ops->store(m->b) : NULL;
}

enum cam_component_status cam_memctx_health(cam_memctx *m, char *msg, size_t len)
{
	return m->ops->health(m->b, msg, len);
}
