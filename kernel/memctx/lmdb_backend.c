/*
 * The durable memory context backend, the default: the context store in
 * named databases of the kernel's LMDB store (kernel/store/store.h).
 *
 * Reads run on the calling thread in a read transaction (a snapshot of the
 * last commit; no lock, never behind the writer) and complete before
 * cam_memctx_submit returns. Changes become jobs of the store's writer:
 * applied in order in one transaction with the other changes of their
 * group and answered only after that transaction's commit reached stable
 * storage. Every check of a change runs inside the writer's transaction,
 * before anything is written, so a refused change leaves no trace.
 *
 * Layout (CAM_STORE_FORMAT 1; integers little-endian, versions in keys
 * big-endian so a key's versions sort in order):
 *
 *   ctx_meta      "total_bytes"            -> u64 (kept versions + snapshots)
 *   ctx_ns        <ns>                     -> struct ns_rec
 *   ctx_owners    <owner>                  -> u64 bytes (an owner's namespaces)
 *   ctx_keys      <ns> 0 <key>             -> struct key_rec (kept versions)
 *   ctx_vals      <ns> 0 <key> 0 <ver:8>   -> struct val_hdr, then the bytes
 *   ctx_snaps     <id>                     -> struct snap_rec, then the namespace
 *   ctx_snapkeys  <id> <key>               -> struct key_rec
 *   ctx_snapvals  <id> <key> 0 <ver:8>     -> struct val_hdr, then the bytes
 *
 * A namespace's record stays after its keys are deleted, so its version
 * counter never goes back, across restarts too.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xmalloc.h"
#include "kernel/memctx/backend.h"
#include "kernel/store/store.h"

enum { DB_META, DB_NS, DB_OWNERS, DB_KEYS, DB_VALS, DB_SNAPS, DB_SNAPKEYS, DB_SNAPVALS, NDBS };
static const char *const db_names[NDBS] = { "ctx_meta", "ctx_ns",   "ctx_owners",
					    "ctx_keys", "ctx_vals", "ctx_snaps",
					    "ctx_snapkeys", "ctx_snapvals" };
static const char TOTAL_KEY[] = "total_bytes";

struct ns_rec {
	uint64_t seq;   /* last version handed out */
	uint64_t bytes; /* values of the kept versions */
	uint64_t keys;  /* live keys */
	uint32_t snaps;
	uint32_t pad;
};

struct key_rec {
	uint32_t n;
	uint32_t pad;
	uint64_t ver[CAM_MEMCTX_MAX_KEEP]; /* the first n, oldest first */
};

struct val_hdr {
	int64_t time_ms;
	uint64_t size;
};

struct snap_rec {
	uint64_t bytes;
	uint64_t keys;
	int64_t time_ms;
	/* then the namespace's name */
};

struct lm {
	cam_store *store;
	struct cam_memctx_limits l;
	MDB_dbi db[NDBS];
	_Atomic uint64_t total; /* as of the last commit, for the gauge */
};

/* One change on its way through the writer. */
struct lm_job {
	struct cam_store_job job;
	struct lm *b;
	struct cam_memctx_op *op;
	uint64_t total;         /* the store's bytes after this change */
	char why[CAM_STORE_WHY];
};

/* A key of up to two names and a version: "<a>" 0 "<b>" [0 <ver:8>]. */
struct rkey {
	char buf[2 * CAM_MEMCTX_MAX_NAME + 16];
	MDB_val v;
};

static MDB_val *rkey(struct rkey *k, const char *a, const char *b, uint64_t ver, int with_ver)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0, n = la;

	memcpy(k->buf, a, la);
	if (b) {
		k->buf[n++] = '\0';
		memcpy(k->buf + n, b, lb);
		n += lb;
	}
	if (with_ver) {
		k->buf[n++] = '\0';
		for (int i = 7; i >= 0; i--)
			k->buf[n++] = (char)(ver >> (i * 8));
	}
	k->v.mv_size = n;
	k->v.mv_data = k->buf;
	return &k->v;
}

/* ---- records ------------------------------------------------------------ */

/* Gets into out (size bytes, zeroed when absent). 0 found, MDB_NOTFOUND,
 * or another LMDB code. */
static int get_rec(MDB_txn *txn, MDB_dbi db, MDB_val *k, void *out, size_t size)
{
	MDB_val v;
	int rc = mdb_get(txn, db, k, &v);

	memset(out, 0, size);
	if (rc == 0)
		memcpy(out, v.mv_data, v.mv_size < size ? v.mv_size : size);
	return rc;
}

static size_t key_rec_size(const struct key_rec *r)
{
	return offsetof(struct key_rec, ver) + r->n * sizeof(r->ver[0]);
}

static int get_u64(MDB_txn *txn, MDB_dbi db, MDB_val *k, uint64_t *out)
{
	int rc = get_rec(txn, db, k, out, sizeof(*out));

	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int put_u64(MDB_txn *txn, MDB_dbi db, MDB_val *k, uint64_t v)
{
	MDB_val val = { sizeof(v), &v };

	return mdb_put(txn, db, k, &val, 0);
}

/* ---- the writer's side: every change ------------------------------------ */

/* What a change needs of its namespace: its record, its owner's bytes and
 * the store's, read in the writer's transaction. */
struct ctx {
	MDB_txn *txn;
	struct lm *b;
	const char *ns;
	struct ns_rec n;
	int ns_found;
	char owner[CAM_MEMCTX_MAX_NAME + 1];
	uint64_t owner_bytes, total;
	char *why;
};

#define BROKEN(j, rc) ((j)->job.mdb_rc = (rc), CAM_STORE_BROKEN)

static int ctx_load(struct ctx *c, struct lm_job *j, MDB_txn *txn, const char *ns)
{
	struct lm *b = j->b;
	struct rkey k;
	size_t n = cam_memctx_owner_len(ns);
	int rc;

	c->txn = txn;
	c->b = b;
	c->ns = ns;
	c->why = j->why;
	memcpy(c->owner, ns, n);
	c->owner[n] = '\0';
	rc = get_rec(txn, b->db[DB_NS], rkey(&k, ns, NULL, 0, 0), &c->n, sizeof(c->n));
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	c->ns_found = rc == 0;
	if ((rc = get_u64(txn, b->db[DB_OWNERS], rkey(&k, c->owner, NULL, 0, 0), &c->owner_bytes)))
		return rc;
	return get_u64(txn, b->db[DB_META],
		       &(MDB_val){ sizeof(TOTAL_KEY) - 1, (void *)TOTAL_KEY }, &c->total);
}

/* CAM_ELIMIT when `more` bytes would pass the store's limit or the owner's
 * quota. */
static int ctx_room(struct ctx *c, int64_t more, const char *what)
{
	const struct cam_memctx_limits *l = &c->b->l;

	if (more <= 0)
		return 0;
	if (c->total + (uint64_t)more > l->max_total_bytes)
		return cam_memctx__fail(c->why, CAM_ELIMIT,
					"store is full: %llu of %llu bytes used, %s needs %lld",
					(unsigned long long)c->total,
					(unsigned long long)l->max_total_bytes, what, (long long)more);
	if (l->max_bytes_per_owner && c->owner_bytes + (uint64_t)more > l->max_bytes_per_owner)
		return cam_memctx__fail(c->why, CAM_ELIMIT,
					"quota CAM_MEMCTX_MAX_BYTES_PER_CALLER: owner %s holds %llu of "
					"%llu bytes, this needs %lld more", c->owner,
					(unsigned long long)c->owner_bytes,
					(unsigned long long)l->max_bytes_per_owner, (long long)more);
	return 0;
}

/* Writes back the namespace's record, the owner's and the store's bytes,
 * delta bytes more than when loaded (of which ns_delta in the namespace's
 * kept versions; the rest is snapshots'). */
static int ctx_save(struct ctx *c, int64_t ns_delta, int64_t delta)
{
	struct lm *b = c->b;
	struct rkey k;
	MDB_val v = { sizeof(c->n), &c->n };
	int rc;

	c->n.bytes += (uint64_t)ns_delta;
	c->owner_bytes += (uint64_t)delta;
	c->total += (uint64_t)delta;
	if ((rc = mdb_put(c->txn, b->db[DB_NS], rkey(&k, c->ns, NULL, 0, 0), &v, 0)) ||
	    (rc = put_u64(c->txn, b->db[DB_OWNERS], rkey(&k, c->owner, NULL, 0, 0),
			  c->owner_bytes)))
		return rc;
	return put_u64(c->txn, b->db[DB_META],
		       &(MDB_val){ sizeof(TOTAL_KEY) - 1, (void *)TOTAL_KEY }, c->total);
}

/* The size of a stored value from its header. */
static int val_size(MDB_txn *txn, MDB_dbi db, MDB_val *k, uint64_t *size)
{
	struct val_hdr h;
	int rc = get_rec(txn, db, k, &h, sizeof(h));

	*size = h.size;
	return rc;
}

static int apply_write(struct lm_job *j, MDB_txn *txn)
{
	struct cam_memctx_op *op = j->op;
	struct lm *b = j->b;
	struct ctx c;
	struct key_rec kr;
	struct val_hdr h;
	struct rkey k;
	MDB_val v;
	uint64_t latest, freed = 0;
	int found, rc;

	if ((rc = ctx_load(&c, j, txn, op->ns)))
		return BROKEN(j, rc);
	rc = get_rec(txn, b->db[DB_KEYS], rkey(&k, op->ns, op->key, 0, 0), &kr, sizeof(kr));
	if (rc && rc != MDB_NOTFOUND)
		return BROKEN(j, rc);
	found = rc == 0 && kr.n;
	latest = found ? kr.ver[kr.n - 1] : 0;
	op->current = latest;
	if (op->expected != CAM_MEMCTX_ANY && latest != (uint64_t)op->expected)
		return cam_memctx__fail(j->why, CAM_MEMCTX_ECONFLICT,
					"expected version %lld but the latest is %llu",
					(long long)op->expected, (unsigned long long)latest);
	if (!found && c.n.keys >= b->l.max_keys)
		return cam_memctx__fail(j->why, CAM_ELIMIT, "namespace is full (%zu keys)",
					b->l.max_keys);
	if (found && kr.n >= b->l.keep_versions &&
	    (rc = val_size(txn, b->db[DB_VALS], rkey(&k, op->ns, op->key, kr.ver[0], 1), &freed)))
		return BROKEN(j, rc);
	if ((rc = ctx_room(&c, (int64_t)op->len - (int64_t)freed, "the value")))
		return rc;
	/* Checked: from here on only LMDB can fail, and the group is redone. */
	while (found && kr.n >= b->l.keep_versions) {
		if ((rc = mdb_del(txn, b->db[DB_VALS], rkey(&k, op->ns, op->key, kr.ver[0], 1), NULL)))
			return BROKEN(j, rc);
		memmove(&kr.ver[0], &kr.ver[1], (kr.n - 1) * sizeof(kr.ver[0]));
		kr.n--;
	}
	if (!found) {
		kr.n = 0;
		c.n.keys++;
	}
	h = (struct val_hdr){ op->now_ms, op->len };
	kr.ver[kr.n++] = ++c.n.seq;
	v.mv_size = sizeof(h) + op->len;
	if ((rc = mdb_put(txn, b->db[DB_VALS], rkey(&k, op->ns, op->key, c.n.seq, 1), &v,
			  MDB_RESERVE)))
		return BROKEN(j, rc);
	memcpy(v.mv_data, &h, sizeof(h));
	if (op->len)
		memcpy((char *)v.mv_data + sizeof(h), op->val, op->len);
	v = (MDB_val){ key_rec_size(&kr), &kr };
	if ((rc = mdb_put(txn, b->db[DB_KEYS], rkey(&k, op->ns, op->key, 0, 0), &v, 0)) ||
	    (rc = ctx_save(&c, (int64_t)op->len - (int64_t)freed,
				  (int64_t)op->len - (int64_t)freed)))
		return BROKEN(j, rc);
	op->value.v = (struct cam_memctx_version){ c.n.seq, op->now_ms, op->len };
	j->total = c.total;
	return 0;
}

/* Deletes one key's versions (kr) from the key and value databases given;
 * *bytes gets their bytes. */
static int drop_key(MDB_txn *txn, MDB_dbi keys, MDB_dbi vals, const char *a, const char *key,
		    const struct key_rec *kr, uint64_t *bytes)
{
	struct rkey k;
	uint64_t size;
	int rc;

	for (uint32_t i = 0; i < kr->n; i++) {
		if ((rc = val_size(txn, vals, rkey(&k, a, key, kr->ver[i], 1), &size)) ||
		    (rc = mdb_del(txn, vals, &k.v, NULL)))
			return rc;
		*bytes += size;
	}
	return mdb_del(txn, keys, rkey(&k, a, key, 0, 0), NULL);
}

/*
 * Calls fn for every key of a namespace or snapshot named a: the records
 * of db whose key starts with "<a>" 0. fn gets the key's name and record
 * and may delete it. Stops at fn's first non-zero code.
 */
static int each_key(MDB_txn *txn, MDB_dbi db, const char *a,
		    int (*fn)(void *arg, const char *key, const struct key_rec *kr), void *arg)
{
	char name[CAM_MEMCTX_MAX_NAME + 1], at[2 * CAM_MEMCTX_MAX_NAME + 16];
	size_t plen = strlen(a) + 1, n;
	MDB_cursor *cur;
	MDB_val k, v;
	struct key_rec kr;
	int rc = mdb_cursor_open(txn, db, &cur);

	if (rc)
		return rc;
	memcpy(at, a, plen); /* "<a>" 0 */
	k = (MDB_val){ plen, at };
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		if (k.mv_size <= plen || memcmp(k.mv_data, a, plen) ||
		    (n = k.mv_size - plen) > CAM_MEMCTX_MAX_NAME)
			break;
		memcpy(name, (char *)k.mv_data + plen, n);
		name[n] = '\0';
		memcpy(at + plen, name, n);
		memset(&kr, 0, sizeof(kr));
		memcpy(&kr, v.mv_data, v.mv_size < sizeof(kr) ? v.mv_size : sizeof(kr));
		if ((rc = fn(arg, name, &kr)))
			break;
		/* fn may have deleted it: find the first key past it again */
		k = (MDB_val){ plen + n, at };
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && k.mv_size == plen + n && !memcmp(k.mv_data, at, plen + n))
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct drop_all {
	MDB_txn *txn;
	MDB_dbi keys, vals;
	const char *a;
	uint64_t bytes;
	size_t versions, nkeys;
};

static int drop_one(void *arg, const char *key, const struct key_rec *kr)
{
	struct drop_all *d = arg;

	d->versions += kr->n;
	d->nkeys++;
	return drop_key(d->txn, d->keys, d->vals, d->a, key, kr, &d->bytes);
}

static int apply_delete(struct lm_job *j, MDB_txn *txn)
{
	struct cam_memctx_op *op = j->op;
	struct lm *b = j->b;
	struct drop_all d = { txn, b->db[DB_KEYS], b->db[DB_VALS], op->ns, 0, 0, 0 };
	struct key_rec kr;
	struct ctx c;
	struct rkey k;
	int rc;

	if ((rc = ctx_load(&c, j, txn, op->ns)))
		return BROKEN(j, rc);
	if (op->key) {
		rc = get_rec(txn, b->db[DB_KEYS], rkey(&k, op->ns, op->key, 0, 0), &kr, sizeof(kr));
		if (rc == MDB_NOTFOUND)
			return cam_memctx__fail(j->why, CAM_ENOENT, "no key %s in namespace %s",
						op->key, op->ns);
		if (rc || (rc = drop_one(&d, op->key, &kr)))
			return BROKEN(j, rc);
	} else {
		if (!c.n.keys)
			return cam_memctx__fail(j->why, CAM_ENOENT, "namespace %s has no keys", op->ns);
		if ((rc = each_key(txn, b->db[DB_KEYS], op->ns, drop_one, &d)))
			return BROKEN(j, rc);
	}
	c.n.keys -= d.nkeys;
	if ((rc = ctx_save(&c, -(int64_t)d.bytes, -(int64_t)d.bytes)))
		return BROKEN(j, rc);
	op->n = d.versions;
	j->total = c.total;
	return 0;
}

/* Copies keys with their versions from (from, key) to (to, key), between
 * a namespace's databases and a snapshot's. */
struct copy_all {
	MDB_txn *txn;
	MDB_dbi from_keys, from_vals, to_keys, to_vals;
	const char *from, *to;
	size_t nkeys;
};

static int copy_one(void *arg, const char *key, const struct key_rec *kr)
{
	struct copy_all *c = arg;
	struct rkey from, to;
	MDB_val v, rec = { key_rec_size(kr), (void *)kr };
	int rc;

	for (uint32_t i = 0; i < kr->n; i++)
		if ((rc = mdb_get(c->txn, c->from_vals, rkey(&from, c->from, key, kr->ver[i], 1), &v)) ||
		    (rc = mdb_put(c->txn, c->to_vals, rkey(&to, c->to, key, kr->ver[i], 1), &v, 0)))
			return rc;
	c->nkeys++;
	return mdb_put(c->txn, c->to_keys, rkey(&to, c->to, key, 0, 0), &rec, 0);
}

static int apply_snapshot(struct lm_job *j, MDB_txn *txn)
{
	struct cam_memctx_op *op = j->op;
	struct lm *b = j->b;
	struct copy_all cp = { txn, b->db[DB_KEYS], b->db[DB_VALS], b->db[DB_SNAPKEYS],
			       b->db[DB_SNAPVALS], op->ns, op->snapshot_id, 0 };
	char rec[sizeof(struct snap_rec) + CAM_MEMCTX_MAX_NAME];
	size_t nslen = strlen(op->ns);
	struct snap_rec s;
	struct ctx c;
	struct rkey k;
	MDB_val v;
	int rc;

	if ((rc = ctx_load(&c, j, txn, op->ns)))
		return BROKEN(j, rc);
	if (!c.n.keys)
		return cam_memctx__fail(j->why, CAM_ENOENT, "namespace %s has no keys", op->ns);
	if (c.n.snaps >= b->l.max_snapshots)
		return cam_memctx__fail(j->why, CAM_ELIMIT,
					"namespace %s already has %u snapshots (the limit)", op->ns,
					c.n.snaps);
	if ((rc = ctx_room(&c, (int64_t)c.n.bytes, "a snapshot")))
		return rc;
	rc = mdb_get(txn, b->db[DB_SNAPS], rkey(&k, op->snapshot_id, NULL, 0, 0), &v);
	if (rc == 0)
		return cam_memctx__fail(j->why, CAM_EINTERNAL, "snapshot id collision; try again");
	if (rc != MDB_NOTFOUND || (rc = each_key(txn, b->db[DB_KEYS], op->ns, copy_one, &cp)))
		return BROKEN(j, rc);
	s = (struct snap_rec){ c.n.bytes, c.n.keys, op->now_ms };
	memcpy(rec, &s, sizeof(s));
	memcpy(rec + sizeof(s), op->ns, nslen);
	v = (MDB_val){ sizeof(s) + nslen, rec };
	if ((rc = mdb_put(txn, b->db[DB_SNAPS], rkey(&k, op->snapshot_id, NULL, 0, 0), &v, 0)))
		return BROKEN(j, rc);
	c.n.snaps++;
	if ((rc = ctx_save(&c, 0, (int64_t)s.bytes)))
		return BROKEN(j, rc);
	op->n = c.n.keys;
	j->total = c.total;
	return 0;
}

/* A snapshot's record and namespace; MDB_NOTFOUND when there is none. */
static int get_snap(MDB_txn *txn, struct lm *b, const char *id, struct snap_rec *s, char *ns)
{
	struct rkey k;
	MDB_val v;
	size_t n;
	int rc = mdb_get(txn, b->db[DB_SNAPS], rkey(&k, id, NULL, 0, 0), &v);

	if (rc)
		return rc;
	if (v.mv_size < sizeof(*s) || v.mv_size - sizeof(*s) > CAM_MEMCTX_MAX_NAME)
		return MDB_CORRUPTED;
	n = v.mv_size - sizeof(*s);
	memcpy(s, v.mv_data, sizeof(*s));
	memcpy(ns, (char *)v.mv_data + sizeof(*s), n);
	ns[n] = '\0';
	return 0;
}

static int apply_restore(struct lm_job *j, MDB_txn *txn)
{
	struct cam_memctx_op *op = j->op;
	struct lm *b = j->b;
	char *ns = op->snapshot_ns;
	struct drop_all d = { txn, b->db[DB_KEYS], b->db[DB_VALS], ns, 0, 0, 0 };
	struct copy_all cp = { txn, b->db[DB_SNAPKEYS], b->db[DB_SNAPVALS], b->db[DB_KEYS],
			       b->db[DB_VALS], op->id, ns, 0 };
	struct snap_rec s;
	struct ctx c;
	int rc = get_snap(txn, b, op->id, &s, ns);

	if (rc == MDB_NOTFOUND)
		return cam_memctx__fail(j->why, CAM_ENOENT, "no snapshot %s", op->id);
	if (rc || (rc = ctx_load(&c, j, txn, ns)))
		return BROKEN(j, rc);
	if ((rc = ctx_room(&c, (int64_t)s.bytes - (int64_t)c.n.bytes, "the restore")))
		return rc;
	if ((rc = each_key(txn, b->db[DB_KEYS], ns, drop_one, &d)) ||
	    (rc = each_key(txn, b->db[DB_SNAPKEYS], op->id, copy_one, &cp)))
		return BROKEN(j, rc);
	c.n.keys = cp.nkeys;
	if ((rc = ctx_save(&c, (int64_t)s.bytes - (int64_t)d.bytes,
			    (int64_t)s.bytes - (int64_t)d.bytes)))
		return BROKEN(j, rc);
	op->n = cp.nkeys;
	j->total = c.total;
	return 0;
}

static int apply_snapshot_delete(struct lm_job *j, MDB_txn *txn)
{
	struct cam_memctx_op *op = j->op;
	struct lm *b = j->b;
	char ns[CAM_MEMCTX_MAX_NAME + 1];
	struct drop_all d = { txn, b->db[DB_SNAPKEYS], b->db[DB_SNAPVALS], op->id, 0, 0, 0 };
	struct snap_rec s;
	struct ctx c;
	struct rkey k;
	int rc = get_snap(txn, b, op->id, &s, ns);

	if (rc == MDB_NOTFOUND)
		return cam_memctx__fail(j->why, CAM_ENOENT, "no snapshot %s", op->id);
	if (rc || (rc = ctx_load(&c, j, txn, ns)) ||
	    (rc = each_key(txn, b->db[DB_SNAPKEYS], op->id, drop_one, &d)) ||
	    (rc = mdb_del(txn, b->db[DB_SNAPS], rkey(&k, op->id, NULL, 0, 0), NULL)))
		return BROKEN(j, rc);
	c.n.snaps--;
	if ((rc = ctx_save(&c, 0, -(int64_t)s.bytes)))
		return BROKEN(j, rc);
	j->total = c.total;
	return 0;
}

static int apply(struct cam_store_job *job, MDB_txn *txn)
{
	struct lm_job *j = (struct lm_job *)job;

	switch (j->op->kind) {
	case CAM_MEMCTX_OP_WRITE:
		return apply_write(j, txn);
	case CAM_MEMCTX_OP_DELETE:
		return apply_delete(j, txn);
	case CAM_MEMCTX_OP_SNAPSHOT:
		return apply_snapshot(j, txn);
	case CAM_MEMCTX_OP_RESTORE:
		return apply_restore(j, txn);
	case CAM_MEMCTX_OP_SNAPSHOT_DELETE:
		return apply_snapshot_delete(j, txn);
	default:
		return cam_memctx__fail(j->why, CAM_EINVAL, "not a change");
	}
}

/* After the commit: the op's answer, on the writer thread. */
static void job_done(struct cam_store_job *job, int rc)
{
	struct lm_job *j = (struct lm_job *)job;
	struct cam_memctx_op *op = j->op;

	if (rc == 0)
		atomic_store(&j->b->total, j->total);
	else
		cam_memctx__fail(op->why, rc, "%s", j->why);
	op->rc = rc;
	free(j);
	op->done(op);
}

/* ---- the reader's side: on the calling thread ---------------------------- */

static int read_value(struct lm *b, MDB_txn *txn, struct cam_memctx_op *op)
{
	struct key_rec kr;
	struct val_hdr h;
	struct rkey k;
	uint64_t ver = 0;
	MDB_val v;
	int rc = get_rec(txn, b->db[DB_KEYS], rkey(&k, op->ns, op->key, 0, 0), &kr, sizeof(kr));

	if (rc == MDB_NOTFOUND)
		return cam_memctx__fail(op->why, CAM_ENOENT, "no key %s in namespace %s", op->key,
					op->ns);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < kr.n && !ver; i++)
		if (!op->version || kr.ver[i] == op->version)
			ver = op->version ? op->version : kr.ver[kr.n - 1];
	if (!ver)
		return cam_memctx__fail(op->why, CAM_ENOENT,
					"key %s has no version %llu (kept: %llu-%llu)", op->key,
					(unsigned long long)op->version,
					(unsigned long long)kr.ver[0],
					(unsigned long long)kr.ver[kr.n - 1]);
	if ((rc = mdb_get(txn, b->db[DB_VALS], rkey(&k, op->ns, op->key, ver, 1), &v)))
		return rc;
	if (v.mv_size < sizeof(h))
		return MDB_CORRUPTED;
	memcpy(&h, v.mv_data, sizeof(h));
	if (h.size != v.mv_size - sizeof(h))
		return MDB_CORRUPTED;
	op->value.v = (struct cam_memctx_version){ ver, h.time_ms, h.size };
	op->value.data = cam_xmalloc(h.size + 1);
	memcpy(op->value.data, (char *)v.mv_data + sizeof(h), h.size);
	op->value.data[h.size] = '\0';
	return 0;
}

static int read_versions(struct lm *b, MDB_txn *txn, struct cam_memctx_op *op)
{
	struct key_rec kr;
	struct val_hdr h;
	struct rkey k;
	int rc = get_rec(txn, b->db[DB_KEYS], rkey(&k, op->ns, op->key, 0, 0), &kr, sizeof(kr));

	if (rc == MDB_NOTFOUND)
		return cam_memctx__fail(op->why, CAM_ENOENT, "no key %s in namespace %s", op->key,
					op->ns);
	for (uint32_t i = 0; rc == 0 && i < kr.n && op->n < op->max; i++) {
		if ((rc = get_rec(txn, b->db[DB_VALS], rkey(&k, op->ns, op->key, kr.ver[i], 1), &h,
				  sizeof(h))))
			break;
		op->versions[op->n++] = (struct cam_memctx_version){ kr.ver[i], h.time_ms, h.size };
	}
	return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
}

static int read_snapshot_ns(struct lm *b, MDB_txn *txn, struct cam_memctx_op *op)
{
	struct snap_rec s;
	int rc = get_snap(txn, b, op->id, &s, op->snapshot_ns);

	if (rc == MDB_NOTFOUND)
		return cam_memctx__fail(op->why, CAM_ENOENT, "no snapshot %s", op->id);
	return rc;
}

/* A read, here and now: 0 or a code, LMDB's turned into ours. */
static int read_op(struct lm *b, struct cam_memctx_op *op)
{
	char why[CAM_STORE_WHY];
	MDB_txn *txn;
	int rc = cam_store_read_begin(b->store, &txn);

	if (rc == 0) {
		if (op->kind == CAM_MEMCTX_OP_READ)
			rc = read_value(b, txn, op);
		else if (op->kind == CAM_MEMCTX_OP_VERSIONS)
			rc = read_versions(b, txn, op);
		else
			rc = read_snapshot_ns(b, txn, op);
		cam_store_read_end(b->store, txn);
	}
	if (rc > 0) { /* LMDB's */
		rc = cam_store_fail(rc, cam_store_path(b->store), why);
		cam_memctx__fail(op->why, rc, "%s", why);
	}
	return rc;
}

static void lm_submit(void *p, struct cam_memctx_op *op)
{
	struct lm *b = p;
	struct lm_job *j;

	if (op->kind == CAM_MEMCTX_OP_READ || op->kind == CAM_MEMCTX_OP_VERSIONS ||
	    op->kind == CAM_MEMCTX_OP_SNAPSHOT_NS) {
		op->rc = read_op(b, op);
		op->done(op);
		return;
	}
	j = cam_xcalloc(1, sizeof(*j));
	j->job.apply = apply;
	j->job.done = job_done;
	j->job.deadline_ns = op->deadline_ns;
	j->job.why = j->why;
	j->b = b;
	j->op = op;
	cam_store_submit(b->store, &j->job);
}

/* ---- the store ----------------------------------------------------------- */

int cam_memctx__lmdb_new(const struct cam_memctx_opts *o, void **out, char *why)
{
	struct lm *b = cam_xcalloc(1, sizeof(*b));
	char w[CAM_STORE_WHY];
	MDB_txn *txn;
	uint64_t total = 0;
	int rc;

	b->store = o->store;
	b->l = o->limits;
	for (int i = 0; i < NDBS; i++)
		if ((rc = cam_store_dbi(b->store, db_names[i], &b->db[i], w)))
			goto out_fail;
	if ((rc = cam_store_read_begin(b->store, &txn))) {
		rc = cam_store_fail(rc, cam_store_path(b->store), w);
		goto out_fail;
	}
	rc = get_u64(txn, b->db[DB_META], &(MDB_val){ sizeof(TOTAL_KEY) - 1, (void *)TOTAL_KEY },
		     &total);
	cam_store_read_end(b->store, txn);
	if (rc) {
		rc = cam_store_fail(rc, cam_store_path(b->store), w);
		goto out_fail;
	}
	atomic_init(&b->total, total);
	*out = b;
	return 0;
out_fail:
	free(b);
	return cam_memctx__fail(why, rc, "%s", w);
}

static void lm_free(void *p)
{
	free(p);
}

static uint64_t lm_size_bytes(void *p)
{
	struct lm *b = p;

	return atomic_load(&b->total);
}

static uint64_t lm_reconnects(void *p)
{
	(void)p;
	return 0;
}

static enum cam_component_status lm_health(void *p, char *msg, size_t len)
{
	struct lm *b = p;

	return cam_store_health(b->store, msg, len);
}

static cam_store *lm_store(void *p)
{
	struct lm *b = p;

	return b->store;
}

const struct cam_memctx__ops cam_memctx__lmdb_ops = {
	.store = lm_store,
	.name = "lmdb",
	.submit = lm_submit,
	.size_bytes = lm_size_bytes,
	.reconnects = lm_reconnects,
	.health = lm_health,
	.free = lm_free,
};
