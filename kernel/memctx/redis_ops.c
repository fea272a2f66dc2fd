/*
 * Each memory context operation on Redis as a few steps (redis_store.h),
 * run on its lane: the command a step sends (a script of redis_scripts.h,
 * or a plain HGET), the node it goes to, and what the reply means.
 *
 *   write, delete        the script on the namespace's slot
 *   read, versions       the script, or HGET of the key's version list
 *   snapshot             the script; the id's first 4 hex digits are made
 *                        the namespace's slot, so the id alone finds it
 *   restore,             HGET of the snapshot's namespace (on the id's
 *   snapshot_delete      slot), then the script on that same slot
 *   snapshot_ns          the HGET alone
 * With a per-owner quota on a cluster a change first learns the owner's
 * bytes (when not known lately) and afterwards sends the namespace's new
 * count to the owner's key (redis_scripts.h, SCRIPT_OWNER).
 *
 * A step goes to its slot's master (the lane's map), follows MOVED (the
 * map is fixed, and a refresh asked) and ASK (ASKING, then the command;
 * the map stays), tries again after TRYAGAIN (a slot migrating, the keys
 * split) until the call's deadline, and falls back to EVAL when the node
 * says NOSCRIPT. A change that succeeded waits, with min_replicas_ack, for
 * the WAIT after it (redis_conn.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/xmalloc.h"
#include "kernel/memctx/redis_scripts.h"
#include "kernel/memctx/redis_store.h"

const char *const cam_rs_scripts[RS_NSCRIPTS] = {
	SCRIPT_WRITE, SCRIPT_READ, SCRIPT_DELETE, SCRIPT_SNAPSHOT, SCRIPT_RESTORE,
	SCRIPT_SNAPSHOT_DELETE, SCRIPT_OWNER,
};

enum stage { ST_OWNER, ST_WRITE, ST_READ, ST_VERSIONS, ST_DELETE, ST_SNAPSHOT, ST_SNAP_NS,
	     ST_RESTORE, ST_SNAPSHOT_DELETE, ST_OWNER_SET };

#define ROP_OF_TIMER(p) ((struct rop *)((char *)(p) - offsetof(struct rop, timer)))
#define ROP_OF_RETRY(p) ((struct rop *)((char *)(p) - offsetof(struct rop, retry)))

static void step(struct rop *o, int stage);
static void route(struct rop *o);

/* ---- completing --------------------------------------------------------------- */

static void finish(struct rop *o, int rc)
{
	struct cam_memctx_op *op = o->op;
	cam_rloop *loop = o->lane->loop;

	cam_rloop_timer_cancel(loop, &o->timer);
	cam_rloop_timer_cancel(loop, &o->retry);
	if (o->lprev)
		o->lprev->lnext = o->lnext;
	else if (o->lane->live == o)
		o->lane->live = o->lnext;
	if (o->lnext)
		o->lnext->lprev = o->lprev;
	if (o->acked && rc) {
		/* Only the owner's count failed: it heals with the next change. */
		rc = 0;
		op->why[0] = '\0';
	}
	if (o->queued != RQ_NONE)
		cam_rs_conn_unqueue(o);
	if (o->cmd)
		o->cmd->op = NULL; /* its reply, if any, is dropped */
	op->rc = rc;
	if (rc)
		cam_memctx_value_free(&op->value);
	free(o);
	op->done(op);
}

void cam_rs_op_fail(struct rop *o, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->op->why, CAM_MEMCTX_WHY, fmt, ap);
	va_end(ap);
	finish(o, rc);
}

/* ---- names and numbers into the argument buffer -------------------------------- */

static const char *put(struct rs_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const char *put(struct rs_args *a, const char *fmt, ...)
{
	char *p = a->buf + a->used;
	size_t room = sizeof(a->buf) - a->used;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p, room, fmt, ap);
	va_end(ap);
	a->used += n < 0 ? 0 : (size_t)n + 1 < room ? (size_t)n + 1 : room;
	return p;
}

static int arg(struct rs_args *a, int argc, const char *s, size_t len)
{
	a->argv[argc] = s;
	a->lens[argc] = len;
	return argc + 1;
}

static int arg_s(struct rs_args *a, int argc, const char *s)
{
	return arg(a, argc, s, strlen(s));
}

/* The slot of a namespace's keys (its name is their hash tag). */
static unsigned ns_slot(const char *ns)
{
	return cam_rcluster_crc16(ns, strlen(ns)) & (CAM_RCLUSTER_SLOTS - 1);
}

static size_t owner_len(const char *ns)
{
	return cam_memctx_owner_len(ns);
}

/* EVALSHA (EVAL after NOSCRIPT) of script s with nkeys: argc so far. */
static int script_head(struct rop *o, struct rconn *c, struct rs_args *a, enum rs_script s,
		       int nkeys)
{
	int argc = 0;

	argc = arg_s(a, argc, o->eval ? "EVAL" : "EVALSHA");
	argc = arg_s(a, argc, o->eval ? cam_rs_scripts[s] : c->sha[s]);
	return arg_s(a, argc, put(a, "%d", nkeys));
}

/* The namespace's four keys (hash, idx, val, and snaps when with_snaps)
 * and the slot's "used" counter. */
static int ns_keys(struct rs_args *a, int argc, const char *ns, unsigned slot, bool with_snaps)
{
	argc = arg_s(a, argc, put(a, "cam:v2:{%s}", ns));
	argc = arg_s(a, argc, put(a, "cam:v2:{%s}:idx", ns));
	argc = arg_s(a, argc, put(a, "cam:v2:{%s}:val", ns));
	if (with_snaps)
		argc = arg_s(a, argc, put(a, "cam:v2:{%s}:snaps", ns));
	return arg_s(a, argc, put(a, "cam:v2:{%s}:used", cam_rcluster_slot_tag(slot)));
}

static int snap_keys(struct rs_args *a, int argc, unsigned slot, const char *id)
{
	const char *t = cam_rcluster_slot_tag(slot);

	argc = arg_s(a, argc, put(a, "cam:v2:{%s}:snap:%s", t, id));
	argc = arg_s(a, argc, put(a, "cam:v2:{%s}:snap:%s:idx", t, id));
	return arg_s(a, argc, put(a, "cam:v2:{%s}:snap:%s:val", t, id));
}

/* With a quota on a single Redis, the owner's key is one of the script's
 * (exact); on a cluster it is in another slot, and the script gets the
 * owner's bytes as known instead. */
static bool owner_in_script(const struct rop *o)
{
	return o->r->l.max_bytes_per_owner && !o->r->cluster;
}

static int owner_key(struct rs_args *a, int argc, const char *ns)
{
	return arg_s(a, argc, put(a, "cam:v2:owner:{%.*s}", (int)owner_len(ns), ns));
}

/* ARGV quota and owner estimate. */
static int owner_args(const struct rop *o, struct rs_args *a, int argc)
{
	argc = arg_s(a, argc, put(a, "%llu", (unsigned long long)o->r->l.max_bytes_per_owner));
	return arg_s(a, argc, put(a, "%llu", (unsigned long long)o->owner_est));
}

/* SCRIPT_OWNER's gen: the slot's count of changes after the change (it
 * orders the namespace's counts), or 0 to only read. */
static unsigned long long stage_gen(const struct rop *o)
{
	return o->stage == ST_OWNER_SET ? (unsigned long long)o->ngen : 0;
}

/* ---- building a step ------------------------------------------------------------- */

static int build_write(struct rop *o, struct rconn *c, struct rs_args *a)
{
	const struct cam_memctx_op *op = o->op;
	struct redis *r = o->r;
	bool ok = owner_in_script(o);
	int argc = script_head(o, c, a, RS_WRITE, ok ? 5 : 4);

	argc = ns_keys(a, argc, op->ns, o->slot, false);
	if (ok)
		argc = owner_key(a, argc, op->ns);
	argc = arg_s(a, argc, op->key);
	argc = arg(a, argc, op->len ? op->val : "", op->len);
	argc = arg_s(a, argc, put(a, "%lld", (long long)op->expected));
	argc = arg_s(a, argc, put(a, "%u", r->l.keep_versions));
	argc = arg_s(a, argc, put(a, "%zu", r->l.max_keys));
	argc = arg_s(a, argc, put(a, "%lld", (long long)cam_rs_slot_room(r, o->slot)));
	argc = arg_s(a, argc, put(a, "%lld", (long long)op->now_ms));
	argc = arg_s(a, argc, op->ns);
	return owner_args(o, a, argc);
}

static int build_delete(struct rop *o, struct rconn *c, struct rs_args *a)
{
	const struct cam_memctx_op *op = o->op;
	bool ok = owner_in_script(o);
	int argc = script_head(o, c, a, RS_DELETE, ok ? 5 : 4);

	argc = ns_keys(a, argc, op->ns, o->slot, false);
	if (ok)
		argc = owner_key(a, argc, op->ns);
	argc = arg_s(a, argc, op->key ? op->key : "");
	argc = arg_s(a, argc, op->ns);
	return arg_s(a, argc, put(a, "%llu", (unsigned long long)o->r->l.max_bytes_per_owner));
}

/* Snapshot, restore and snapshot delete: the same eight (nine) keys. */
static int snap_script(struct rop *o, struct rconn *c, struct rs_args *a, enum rs_script s,
		       const char *ns, const char *id)
{
	bool ok = owner_in_script(o);
	int argc = script_head(o, c, a, s, ok ? 9 : 8);

	argc = ns_keys(a, argc, ns, o->slot, true);
	argc = snap_keys(a, argc, o->slot, id);
	return ok ? owner_key(a, argc, ns) : argc;
}

static int build_snapshot(struct rop *o, struct rconn *c, struct rs_args *a)
{
	const struct cam_memctx_op *op = o->op;
	struct redis *r = o->r;
	int argc = snap_script(o, c, a, RS_SNAPSHOT, op->ns, op->snapshot_id);

	argc = arg_s(a, argc, put(a, "%u", r->l.max_snapshots));
	argc = arg_s(a, argc, put(a, "%lld", (long long)cam_rs_slot_room(r, o->slot)));
	argc = arg_s(a, argc, put(a, "%lld", (long long)op->now_ms));
	argc = arg_s(a, argc, op->ns);
	argc = arg_s(a, argc, op->snapshot_id);
	return owner_args(o, a, argc);
}

static int build_restore(struct rop *o, struct rconn *c, struct rs_args *a)
{
	int argc = snap_script(o, c, a, RS_RESTORE, o->ns, o->op->id);

	argc = arg_s(a, argc, put(a, "%lld", (long long)cam_rs_slot_room(o->r, o->slot)));
	argc = arg_s(a, argc, o->ns);
	return owner_args(o, a, argc);
}

static int build_snapshot_delete(struct rop *o, struct rconn *c, struct rs_args *a)
{
	int argc = snap_script(o, c, a, RS_SNAPSHOT_DELETE, o->ns, o->op->id);

	argc = arg_s(a, argc, o->ns);
	argc = arg_s(a, argc, o->op->id);
	return arg_s(a, argc, put(a, "%llu", (unsigned long long)o->r->l.max_bytes_per_owner));
}

int cam_rs_op_build(struct rop *o, struct rconn *c, struct rs_args *a, bool *change)
{
	const struct cam_memctx_op *op = o->op;
	int argc = 0;

	*change = false;
	switch (o->stage) {
	case ST_OWNER:
	case ST_OWNER_SET:
		argc = script_head(o, c, a, RS_OWNER, 1);
		argc = owner_key(a, argc, o->ns);
		argc = arg_s(a, argc, o->ns);
		argc = arg_s(a, argc, put(a, "%llu", (unsigned long long)o->nt));
		return arg_s(a, argc, put(a, "%llu", stage_gen(o)));
	case ST_WRITE:
		*change = true;
		return build_write(o, c, a);
	case ST_READ:
		argc = script_head(o, c, a, RS_READ, 2);
		argc = arg_s(a, argc, put(a, "cam:v2:{%s}:idx", op->ns));
		argc = arg_s(a, argc, put(a, "cam:v2:{%s}:val", op->ns));
		argc = arg_s(a, argc, op->key);
		return arg_s(a, argc, put(a, "%llu", (unsigned long long)op->version));
	case ST_VERSIONS:
		argc = arg_s(a, argc, "HGET");
		argc = arg_s(a, argc, put(a, "cam:v2:{%s}:idx", op->ns));
		return arg_s(a, argc, op->key);
	case ST_DELETE:
		*change = true;
		return build_delete(o, c, a);
	case ST_SNAPSHOT:
		*change = true;
		return build_snapshot(o, c, a);
	case ST_SNAP_NS:
		argc = arg_s(a, argc, "HGET");
		argc = arg_s(a, argc, put(a, "cam:v2:{%s}:snap:%s", cam_rcluster_slot_tag(o->slot),
					  op->id));
		return arg_s(a, argc, "ns");
	case ST_RESTORE:
		*change = true;
		return build_restore(o, c, a);
	case ST_SNAPSHOT_DELETE:
		*change = true;
		return build_snapshot_delete(o, c, a);
	}
	return 0;
}

/* ---- replies ------------------------------------------------------------------------ */

static long long el_int(const redisReply *rep, size_t i)
{
	const redisReply *e;

	if (rep->type != REDIS_REPLY_ARRAY || i >= rep->elements)
		return 0;
	e = rep->element[i];
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer;
	if (e->type == REDIS_REPLY_STRING)
		return strtoll(e->str, NULL, 10);
	return 0;
}

static const redisReply *el_str(const redisReply *rep, size_t i)
{
	if (rep->type != REDIS_REPLY_ARRAY || i >= rep->elements ||
	    rep->element[i]->type != REDIS_REPLY_STRING)
		return NULL;
	return rep->element[i];
}

static void used_seen(struct rop *o, const redisReply *rep, size_t at)
{
	long long b = el_int(rep, at), g = el_int(rep, at + 1);

	if (b >= 0 && g >= 0)
		cam_rs_used_seen(o->r, o->slot, (uint64_t)b, (uint64_t)g);
}

static void quota_refused(struct rop *o, const char *ns, const redisReply *rep)
{
	cam_rs_op_fail(o, CAM_ELIMIT,
		       "quota CAM_MEMCTX_MAX_BYTES_PER_CALLER: owner %.*s holds %lld of %llu bytes, "
		       "this needs %lld more",
		       (int)owner_len(ns), ns, el_int(rep, 1),
		       (unsigned long long)o->r->l.max_bytes_per_owner, el_int(rep, 2));
}

static void done_ok(struct rop *o)
{
	finish(o, 0);
}

/* The change is acknowledged. With a quota on a cluster, the namespace's
 * new count goes to its owner's key first (in another slot), so the next
 * call of this owner sees it; whatever becomes of that, the call
 * succeeds. */
static void acked(struct rop *o)
{
	struct redis *r = o->r;

	if (!(r->cluster && r->l.max_bytes_per_owner))
		return done_ok(o);
	o->acked = true;
	step(o, ST_OWNER_SET);
}

/* A change succeeded on c: counts kept (the reply's slot count at
 * used_at, then its gen, then the namespace's bytes), then confirmed by
 * WAIT or done. */
static void change_done(struct rop *o, struct rconn *c, const redisReply *rep, size_t used_at,
			const char *ns, const char *what)
{
	struct redis *r = o->r;

	used_seen(o, rep, used_at);
	o->ngen = (uint64_t)el_int(rep, used_at + 1);
	o->nt = (uint64_t)el_int(rep, used_at + 2);
	snprintf(o->what, sizeof(o->what), "%s", what);
	(void)ns;
	if (!r->min_acks)
		return acked(o);
	/* WAIT, sent after the change, answers after it. */
	o->on = c;
	o->queued = RQ_AWAIT;
	o->next = NULL;
	o->prev = c->await_tail;
	if (c->await_tail)
		c->await_tail->next = o;
	else
		c->await_head = o;
	c->await_tail = o;
}

void cam_rs_op_confirmed(struct rop *o, long long n)
{
	struct redis *r = o->r;

	if (n >= (long long)r->min_acks)
		return acked(o);
	atomic_fetch_add(&r->unconfirmed, 1);
	cam_rs_op_fail(o, CAM_EUNAVAIL,
		       "%s reached the Redis master but only %lld of %u replicas confirmed it in "
		       "time (CAM_REDIS_MIN_REPLICAS_ACK): not acknowledged",
		       o->what, n < 0 ? 0 : n, r->min_acks);
}

static void reply_write(struct rop *o, struct rconn *c, const redisReply *rep)
{
	struct cam_memctx_op *op = o->op;
	char what[64];

	switch (el_int(rep, 0)) {
	case 1:
		op->value.v = (struct cam_memctx_version){ (uint64_t)el_int(rep, 1), op->now_ms,
							   op->len };
		snprintf(what, sizeof(what), "the write (version %llu)",
			 (unsigned long long)op->value.v.version);
		return change_done(o, c, rep, 2, op->ns, what);
	case -1:
		op->current = (uint64_t)el_int(rep, 1);
		return cam_rs_op_fail(o, CAM_MEMCTX_ECONFLICT,
				      "expected version %lld but the latest is %llu",
				      (long long)op->expected, (unsigned long long)op->current);
	case -2:
		return cam_rs_op_fail(o, CAM_ELIMIT, "namespace is full (%zu keys)",
				      o->r->l.max_keys);
	case -3:
		used_seen(o, rep, 1);
		return cam_rs_op_fail(o, CAM_ELIMIT,
				      "store is full: %llu of %llu bytes used, value needs %zu",
				      (unsigned long long)atomic_load(&o->r->total),
				      (unsigned long long)o->r->l.max_total_bytes, op->len);
	case -5:
		return quota_refused(o, op->ns, rep);
	}
	cam_rs_op_fail(o, CAM_EINTERNAL, "Redis script gave an unexpected reply");
}

static void reply_read(struct rop *o, const redisReply *rep)
{
	struct cam_memctx_op *op = o->op;
	const redisReply *v;

	switch (el_int(rep, 0)) {
	case 1:
		if (!(v = el_str(rep, 3)))
			break;
		op->value.v = (struct cam_memctx_version){ (uint64_t)el_int(rep, 1),
							   el_int(rep, 2), v->len };
		op->value.data = cam_xmalloc(v->len + 1);
		memcpy(op->value.data, v->str, v->len);
		op->value.data[v->len] = '\0';
		return done_ok(o);
	case 0:
		return cam_rs_op_fail(o, CAM_ENOENT, "no key %s in namespace %s", op->key, op->ns);
	case -1:
		return cam_rs_op_fail(o, CAM_ENOENT,
				      "key %s has no version %llu (it may have been pruned)",
				      op->key, (unsigned long long)op->version);
	}
	cam_rs_op_fail(o, CAM_EINTERNAL, "Redis script gave an unexpected reply");
}

static void reply_versions(struct rop *o, const redisReply *rep)
{
	struct cam_memctx_op *op = o->op;
	const char *p;

	size_t all = 1, skip;

	if (rep->type != REDIS_REPLY_STRING)
		return cam_rs_op_fail(o, CAM_ENOENT, "no key %s in namespace %s", op->key, op->ns);
	/* Newest first in Redis, oldest first out; the oldest go past max. */
	for (p = rep->str; *p; p++)
		all += *p == ';';
	skip = all > op->max ? all - op->max : 0;
	for (p = rep->str; *p && op->n < op->max;) {
		unsigned long long v, ms, sz;
		int used = 0;

		if (sscanf(p, "%llu:%llu:%llu%n", &v, &ms, &sz, &used) != 3)
			break;
		p += used;
		if (*p == ';')
			p++;
		if (skip) {
			skip--;
			continue;
		}
		op->versions[op->n++] = (struct cam_memctx_version){ v, (int64_t)ms, (size_t)sz };
	}
	for (size_t i = 0; i < op->n / 2; i++) {
		struct cam_memctx_version t = op->versions[i];

		op->versions[i] = op->versions[op->n - 1 - i];
		op->versions[op->n - 1 - i] = t;
	}
	done_ok(o);
}

static void reply_delete(struct rop *o, struct rconn *c, const redisReply *rep)
{
	struct cam_memctx_op *op = o->op;

	op->n = (size_t)el_int(rep, 0);
	if (op->n)
		return change_done(o, c, rep, 1, op->ns, "the delete");
	if (op->key)
		return cam_rs_op_fail(o, CAM_ENOENT, "no key %s in namespace %s", op->key, op->ns);
	cam_rs_op_fail(o, CAM_ENOENT, "namespace %s has no keys", op->ns);
}

static void reply_snapshot(struct rop *o, struct rconn *c, const redisReply *rep)
{
	struct cam_memctx_op *op = o->op;

	switch (el_int(rep, 0)) {
	case 1:
		op->n = (size_t)el_int(rep, 1);
		return change_done(o, c, rep, 2, op->ns, "the snapshot");
	case 0:
		return cam_rs_op_fail(o, CAM_ENOENT, "namespace %s has no keys", op->ns);
	case -2:
		return cam_rs_op_fail(o, CAM_ELIMIT,
				      "namespace %s already has %u snapshots (the limit)", op->ns,
				      o->r->l.max_snapshots);
	case -3:
		used_seen(o, rep, 1);
		return cam_rs_op_fail(o, CAM_ELIMIT, "store is full: no room for a snapshot of %s",
				      op->ns);
	case -4:
		return cam_rs_op_fail(o, CAM_EINTERNAL, "snapshot id collision; try again");
	case -5:
		return quota_refused(o, op->ns, rep);
	}
	cam_rs_op_fail(o, CAM_EINTERNAL, "Redis script gave an unexpected reply");
}

/* The change a kind makes after the owner's bytes are known. */
static int change_stage(const struct rop *o)
{
	switch (o->op->kind) {
	case CAM_MEMCTX_OP_WRITE:
		return ST_WRITE;
	case CAM_MEMCTX_OP_SNAPSHOT:
		return ST_SNAPSHOT;
	default:
		return ST_RESTORE;
	}
}

/* Before a change that may add bytes to an owner: on a cluster with a
 * quota, learn the owner's bytes first unless known lately. */
static void to_change(struct rop *o)
{
	struct redis *r = o->r;

	if (r->cluster && r->l.max_bytes_per_owner) {
		char owner[CAM_MEMCTX_MAX_NAME + 1];

		snprintf(owner, sizeof(owner), "%.*s", (int)owner_len(o->ns), o->ns);
		if (!cam_rs_owner_get(r, owner, &o->owner_est))
			return step(o, ST_OWNER);
	}
	step(o, change_stage(o));
}

static void reply_owner(struct rop *o, const redisReply *rep)
{
	char owner[CAM_MEMCTX_MAX_NAME + 1];

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 1)
		return cam_rs_op_fail(o, CAM_EINTERNAL, "Redis script gave an unexpected reply");
	o->owner_est = (uint64_t)el_int(rep, 0);
	snprintf(owner, sizeof(owner), "%.*s", (int)owner_len(o->ns), o->ns);
	cam_rs_owner_seen(o->r, owner, o->owner_est);
	step(o, change_stage(o));
}

static void reply_owner_set(struct rop *o, const redisReply *rep)
{
	char owner[CAM_MEMCTX_MAX_NAME + 1];

	snprintf(owner, sizeof(owner), "%.*s", (int)owner_len(o->ns), o->ns);
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 && el_int(rep, 0) >= 0)
		cam_rs_owner_seen(o->r, owner, (uint64_t)el_int(rep, 0));
	done_ok(o);
}

static void reply_snap_ns(struct rop *o, const redisReply *rep)
{
	struct cam_memctx_op *op = o->op;

	if (rep->type != REDIS_REPLY_STRING)
		return cam_rs_op_fail(o, CAM_ENOENT, "no snapshot %s", op->id);
	if (rep->len > CAM_MEMCTX_MAX_NAME || !cam_memctx_name_valid(rep->str))
		return cam_rs_op_fail(o, CAM_EINTERNAL, "snapshot %s names no valid namespace",
				      op->id);
	memcpy(o->ns, rep->str, rep->len + 1);
	if (ns_slot(o->ns) != o->slot)
		return cam_rs_op_fail(o, CAM_ENOENT, "no snapshot %s", op->id);
	switch (op->kind) {
	case CAM_MEMCTX_OP_SNAPSHOT_NS:
		memcpy(op->snapshot_ns, o->ns, rep->len + 1);
		return done_ok(o);
	case CAM_MEMCTX_OP_RESTORE:
		return to_change(o);
	default:
		return step(o, ST_SNAPSHOT_DELETE);
	}
}

static void reply_restore(struct rop *o, struct rconn *c, const redisReply *rep)
{
	struct cam_memctx_op *op = o->op;

	switch (el_int(rep, 0)) {
	case 1:
		op->n = (size_t)el_int(rep, 1);
		memcpy(op->snapshot_ns, o->ns, sizeof(o->ns));
		return change_done(o, c, rep, 2, o->ns, "the restore");
	case -3:
		used_seen(o, rep, 1);
		return cam_rs_op_fail(o, CAM_ELIMIT, "store is full: no room to restore %s", op->id);
	case -5:
		return quota_refused(o, o->ns, rep);
	case 0:
	case -6:
		return cam_rs_op_fail(o, CAM_ENOENT, "no snapshot %s", op->id);
	}
	cam_rs_op_fail(o, CAM_EINTERNAL, "Redis script gave an unexpected reply");
}

static void reply_snapshot_delete(struct rop *o, struct rconn *c, const redisReply *rep)
{
	if (el_int(rep, 0) == 1)
		return change_done(o, c, rep, 1, o->ns, "the snapshot delete");
	cam_rs_op_fail(o, CAM_ENOENT, "no snapshot %s", o->op->id);
}

/* ---- errors: redirections, retries, and the rest --------------------------------- */

static void on_retry(struct cam_rloop_timer *t)
{
	route(ROP_OF_RETRY(t));
}

static bool prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static void reply_error(struct rop *o, struct rconn *c, const redisReply *rep)
{
	struct redis *r = o->r;
	char addr[CAM_RCLUSTER_ADDR];
	unsigned slot;

	switch (cam_rcluster_redirect(rep->str, c->where, &slot, addr)) {
	case CAM_RCLUSTER_MOVED:
		if (++o->redirects > RS_MAX_REDIRECTS)
			break;
		cam_rs_slot_moved(o->lane, slot, addr);
		return route(o);
	case CAM_RCLUSTER_ASK:
		if (++o->redirects > RS_MAX_REDIRECTS)
			break;
		o->asking = true;
		snprintf(o->ask_addr, sizeof(o->ask_addr), "%s", addr);
		return route(o);
	case CAM_RCLUSTER_NONE:
		if (prefix(rep->str, "NOSCRIPT") && !o->eval) {
			o->eval = true;
			return route(o);
		}
		if (prefix(rep->str, "TRYAGAIN")) {
			/* A slot migrating with this call's keys split: again soon. */
			cam_rloop_timer_set(o->lane->loop, &o->retry,
					    cam_mono_ns() + (int64_t)RS_TRYAGAIN_MS * 1000000);
			return;
		}
		if (prefix(rep->str, "READONLY") || prefix(rep->str, "MASTERDOWN") ||
		    prefix(rep->str, "NOREPLICAS")) {
			/* Not (or no longer) a master that takes writes. */
			if (!prefix(rep->str, "NOREPLICAS") && r->sentinel)
				cam_sentinel_suspect(r->sentinel);
			if (r->cluster)
				cam_rs_refresh_map(r);
			cam_rs_conn_close(c, "Redis is unavailable: the node stopped taking writes");
			return cam_rs_op_fail(o, CAM_EUNAVAIL, "Redis cannot serve now: %.100s",
					      rep->str);
		}
		if (prefix(rep->str, "CLUSTERDOWN"))
			cam_rs_refresh_map(r);
		if (prefix(rep->str, "LOADING") || prefix(rep->str, "BUSY") ||
		    prefix(rep->str, "CLUSTERDOWN") || prefix(rep->str, "NOAUTH") ||
		    prefix(rep->str, "TRYAGAIN"))
			return cam_rs_op_fail(o, CAM_EUNAVAIL, "Redis cannot serve now: %.100s",
					      rep->str);
		if (prefix(rep->str, "OOM"))
			return cam_rs_op_fail(o, CAM_ELIMIT, "Redis is out of memory (maxmemory)");
		return cam_rs_op_fail(o, CAM_EINTERNAL, "Redis error: %.120s", rep->str);
	}
	cam_rs_op_fail(o, CAM_EUNAVAIL,
		       "Redis Cluster redirected the call more than %d times (slots moving); try again",
		       RS_MAX_REDIRECTS);
}

void cam_rs_op_reply(struct rop *o, struct rconn *c, redisReply *rep, const char *why)
{
	if (!rep)
		return cam_rs_op_fail(o, CAM_EUNAVAIL, "Redis is unavailable: %s", why);
	if (rep->type == REDIS_REPLY_ERROR)
		return reply_error(o, c, rep);
	if (o->stage != ST_VERSIONS && o->stage != ST_SNAP_NS &&
	    (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
	     rep->element[0]->type != REDIS_REPLY_INTEGER))
		return cam_rs_op_fail(o, CAM_EINTERNAL, "Redis script gave an unexpected reply");
	switch (o->stage) {
	case ST_OWNER:
		return reply_owner(o, rep);
	case ST_WRITE:
		return reply_write(o, c, rep);
	case ST_READ:
		return reply_read(o, rep);
	case ST_VERSIONS:
		return reply_versions(o, rep);
	case ST_DELETE:
		return reply_delete(o, c, rep);
	case ST_SNAPSHOT:
		return reply_snapshot(o, c, rep);
	case ST_SNAP_NS:
		return reply_snap_ns(o, rep);
	case ST_RESTORE:
		return reply_restore(o, c, rep);
	case ST_SNAPSHOT_DELETE:
		return reply_snapshot_delete(o, c, rep);
	case ST_OWNER_SET:
		return reply_owner_set(o, rep);
	}
}

/* ---- routing ------------------------------------------------------------------------ */

static void route(struct rop *o)
{
	struct redis *r = o->r;
	struct rnode *n;
	struct rconn *c;
	int rc;

	if (o->asking)
		n = cam_rs_node(r, o->ask_addr);
	else if (!r->cluster)
		n = cam_rs_master(r);
	else
		n = cam_rs_slot_node(o->lane, o->slot);
	if (!n) {
		if (r->cluster)
			cam_rs_refresh_map(r);
		return cam_rs_op_fail(o, CAM_EUNAVAIL,
				      "Redis is unavailable: no cluster node serves slot %u now "
				      "(cluster_state fail, or the map is being read)",
				      o->slot);
	}
	if (!(c = cam_rs_conn_get(o->lane, n, &rc, o->op->why)))
		return finish(o, rc);
	cam_rs_conn_send(c, o);
}

void cam_rs_op_reroute(struct rop *o)
{
	route(o);
}

static void on_timer(struct cam_rloop_timer *t)
{
	struct rop *o = ROP_OF_TIMER(t);
	struct redis *r = o->r;

	if (o->queued == RQ_AWAIT)
		return cam_rs_op_confirmed(o, -1);
	if (o->caller_deadline)
		return cam_rs_op_fail(o, CAM_ETIMEDOUT,
				      "the call's deadline passed before Redis answered");
	cam_rs_op_fail(o, CAM_EUNAVAIL, "Redis is unavailable: no answer within %d ms",
		       2 * r->timeout_ms);
}

/* A snapshot id's slot (its first 4 hex digits), or -1 when it cannot be one
 * of this store's. */
static int id_slot(const char *id)
{
	char hex[5];
	unsigned long s;

	memcpy(hex, id, 4);
	hex[4] = '\0';
	s = strtoul(hex, NULL, 16);
	return s < CAM_RCLUSTER_SLOTS ? (int)s : -1;
}

static unsigned step_slot(const struct rop *o, int stage)
{
	char owner[CAM_MEMCTX_MAX_NAME + 1];

	switch (stage) {
	case ST_OWNER:
	case ST_OWNER_SET:
		snprintf(owner, sizeof(owner), "%.*s", (int)owner_len(o->ns), o->ns);
		return ns_slot(owner);
	case ST_SNAP_NS:
		return (unsigned)id_slot(o->op->id);
	case ST_RESTORE:
	case ST_SNAPSHOT_DELETE:
		return ns_slot(o->ns); /* the snapshot's namespace: the id's slot too */
	default:
		return ns_slot(o->op->ns);
	}
}

static void step(struct rop *o, int stage)
{
	struct redis *r = o->r;
	int64_t now = cam_mono_ns();

	o->stage = stage;
	o->stage_ns = now;
	o->redirects = 0;
	o->asking = false;
	o->slot = step_slot(o, stage);
	if (!o->caller_deadline)
		cam_rloop_timer_set(o->lane->loop, &o->timer,
				    now + (int64_t)(2 + (r->min_acks ? 1 : 0)) * r->timeout_ms *
						  1000000);
	route(o);
}

void cam_rs_op_start(struct rlane *ln, struct rop *o)
{
	static const char hex[] = "0123456789abcdef";
	struct cam_memctx_op *op = o->op;
	int64_t now = cam_mono_ns();
	int s;

	o->lane = ln;
	o->timer.fn = on_timer;
	o->retry.fn = on_retry;
	o->lnext = ln->live;
	if (ln->live)
		ln->live->lprev = o;
	ln->live = o;
	if (ln->stopping)
		return cam_rs_op_fail(o, CAM_EUNAVAIL, "the memory context store is closing");
	if (op->deadline_ns) {
		if (op->deadline_ns <= now)
			return cam_rs_op_fail(o, CAM_ETIMEDOUT,
					      "the call's deadline passed before Redis answered");
		o->caller_deadline = true;
		cam_rloop_timer_set(ln->loop, &o->timer, op->deadline_ns);
	}
	switch (op->kind) {
	case CAM_MEMCTX_OP_WRITE:
		snprintf(o->ns, sizeof(o->ns), "%s", op->ns);
		return to_change(o);
	case CAM_MEMCTX_OP_READ:
		return step(o, ST_READ);
	case CAM_MEMCTX_OP_VERSIONS:
		return step(o, ST_VERSIONS);
	case CAM_MEMCTX_OP_DELETE:
		snprintf(o->ns, sizeof(o->ns), "%s", op->ns);
		return step(o, ST_DELETE);
	case CAM_MEMCTX_OP_SNAPSHOT:
		s = (int)ns_slot(op->ns);
		for (int i = 0; i < 4; i++)
			op->snapshot_id[i] = hex[(s >> (12 - 4 * i)) & 15];
		snprintf(o->ns, sizeof(o->ns), "%s", op->ns);
		return to_change(o);
	case CAM_MEMCTX_OP_RESTORE:
	case CAM_MEMCTX_OP_SNAPSHOT_DELETE:
	case CAM_MEMCTX_OP_SNAPSHOT_NS:
		if (id_slot(op->id) < 0)
			return cam_rs_op_fail(o, CAM_ENOENT, "no snapshot %s", op->id);
		return step(o, ST_SNAP_NS);
	}
	cam_rs_op_fail(o, CAM_EINVAL, "unknown memory context operation");
}

void cam_rs_ops_abandon(struct rlane *ln)
{
	while (ln->live)
		cam_rs_op_fail(ln->live, CAM_EUNAVAIL, "the memory context store is closing");
}
