/*
 * The in-memory memory context backend: the default, for one kernel with
 * no Redis. Namespaces, keys and snapshots live in small string hash maps
 * under one read-write lock (reads share it; a write holds it for a copy
 * of the value). Nothing survives a restart.
 *
 * A namespace, once made, stays (empty) after its keys are deleted, so its
 * version counter never goes back.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xmalloc.h"
#include "kernel/memctx/backend.h"

/* A string-keyed chained hash map; values belong to the user. */
struct entry {
	char *k;
	void *v;
	struct entry *next;
};

struct map {
	struct entry **b;
	size_t cap, n;
};

struct version {
	struct cam_memctx_version meta;
	uint8_t *data;
};

/* A key's kept versions, oldest first. */
struct key {
	size_t n;
	struct version *v; /* keep_versions slots */
};

struct ns {
	uint64_t seq;      /* last version handed out */
	uint64_t bytes;    /* values of the kept versions */
	unsigned nsnaps;
	struct map keys;   /* name -> struct key */
};

struct snap {
	char *ns;
	uint64_t bytes;
	struct map keys;   /* a deep copy of the namespace's keys */
};

struct mem {
	pthread_rwlock_t lock;
	struct cam_memctx_limits l;
	struct map nss;    /* name -> struct ns */
	struct map snaps;  /* id -> struct snap */
	struct map owners; /* owner (a namespace's first segment) -> uint64_t bytes */
	_Atomic uint64_t total;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct entry **map_slot(const struct map *m, const char *k)
{
	struct entry **e;

	if (!m->cap)
		return NULL;
	for (e = &m->b[hash(k) & (m->cap - 1)]; *e; e = &(*e)->next)
		if (strcmp((*e)->k, k) == 0)
			return e;
	return e;
}

static void *map_get(const struct map *m, const char *k)
{
	struct entry **e = map_slot(m, k);

	return e && *e ? (*e)->v : NULL;
}

static void map_grow(struct map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct entry **b = cam_xcalloc(cap, sizeof(*b));

	for (size_t i = 0; i < m->cap; i++)
		for (struct entry *e = m->b[i], *next; e; e = next) {
			size_t j = hash(e->k) & (cap - 1);
			next = e->next;
			e->next = b[j];
			b[j] = e;
		}
	free(m->b);
	m->b = b;
	m->cap = cap;
}

/* Adds k (which must not be there yet). */
static void map_put(struct map *m, const char *k, void *v)
{
	struct entry *e = cam_xmalloc(sizeof(*e));
	size_t j;

	if (m->n + 1 > m->cap / 4 * 3)
		map_grow(m);
	j = hash(k) & (m->cap - 1);
	e->k = cam_xstrdup(k);
	e->v = v;
	e->next = m->b[j];
	m->b[j] = e;
	m->n++;
}

/* Removes k and returns its value (NULL if absent). */
static void *map_del(struct map *m, const char *k)
{
	struct entry **e = map_slot(m, k), *x;
	void *v;

	if (!e || !*e)
		return NULL;
	x = *e;
	v = x->v;
	*e = x->next;
	free(x->k);
	free(x);
	m->n--;
	return v;
}

/* Frees the map, calling fn on each value. */
static void map_clear(struct map *m, void (*fn)(void *v))
{
	for (size_t i = 0; i < m->cap; i++)
		for (struct entry *e = m->b[i], *next; e; e = next) {
			next = e->next;
			fn(e->v);
			free(e->k);
			free(e);
		}
	free(m->b);
	*m = (struct map){ 0 };
}

static void key_free(void *p)
{
	struct key *k = p;

	for (size_t i = 0; i < k->n; i++)
		free(k->v[i].data);
	free(k->v);
	free(k);
}

static uint64_t key_bytes(const struct key *k)
{
	uint64_t b = 0;

	for (size_t i = 0; i < k->n; i++)
		b += k->v[i].meta.size;
	return b;
}

/* A deep copy of a key map (into an empty one). */
static void keys_copy(struct map *dst, const struct map *src, unsigned keep)
{
	for (size_t i = 0; i < src->cap; i++)
		for (struct entry *e = src->b[i]; e; e = e->next) {
			const struct key *from = e->v;
			struct key *to = cam_xcalloc(1, sizeof(*to));

			to->v = cam_xcalloc(keep, sizeof(*to->v));
			for (size_t j = 0; j < from->n && j < keep; j++) {
				to->v[j].meta = from->v[j].meta;
				to->v[j].data = cam_xmalloc(from->v[j].meta.size + 1);
				memcpy(to->v[j].data, from->v[j].data, from->v[j].meta.size + 1);
			}
			to->n = from->n < keep ? from->n : keep;
			map_put(dst, e->k, to);
		}
}

static void ns_free(void *p)
{
	struct ns *n = p;

	map_clear(&n->keys, key_free);
	free(n);
}

static void snap_free(void *p)
{
	struct snap *s = p;

	map_clear(&s->keys, key_free);
	free(s->ns);
	free(s);
}

/* The bytes counter of nsname's owner, made when missing. */
static uint64_t *owner_slot(struct mem *m, const char *nsname)
{
	char owner[CAM_MEMCTX_MAX_NAME + 1];
	size_t n = cam_memctx_owner_len(nsname);
	uint64_t *b;

	memcpy(owner, nsname, n);
	owner[n] = '\0';
	if (!(b = map_get(&m->owners, owner))) {
		b = cam_xcalloc(1, sizeof(*b));
		map_put(&m->owners, owner, b);
	}
	return b;
}

/* Adds delta (may be negative) to the bytes of nsname's owner. */
static void owner_add(struct mem *m, const char *nsname, int64_t delta)
{
	*owner_slot(m, nsname) += (uint64_t)delta;
}

/* CAM_ELIMIT when adding more bytes to nsname's owner passes its quota. */
static int owner_check(struct mem *m, const char *nsname, int64_t more, char *why)
{
	uint64_t used;

	if (!m->l.max_bytes_per_owner || more <= 0)
		return 0;
	used = *owner_slot(m, nsname);
	if (used + (uint64_t)more <= m->l.max_bytes_per_owner)
		return 0;
	return cam_memctx__fail(why, CAM_ELIMIT,
				"quota CAM_MEMCTX_MAX_BYTES_PER_CALLER: owner %.*s holds %llu of "
				"%llu bytes, this needs %lld more",
				(int)cam_memctx_owner_len(nsname), nsname,
				(unsigned long long)used,
				(unsigned long long)m->l.max_bytes_per_owner, (long long)more);
}

int cam_memctx__mem_new(const struct cam_memctx_limits *l, void **out, char *why)
{
	struct mem *m = cam_xcalloc(1, sizeof(*m));

	(void)why;
	pthread_rwlock_init(&m->lock, NULL);
	m->l = *l;
	*out = m;
	return 0;
}

static void mem_free(void *b)
{
	struct mem *m = b;

	map_clear(&m->nss, ns_free);
	map_clear(&m->snaps, snap_free);
	map_clear(&m->owners, free);
	pthread_rwlock_destroy(&m->lock);
	free(m);
}

/* The checks of a write, before anything changes. */
static int write_check(struct mem *m, const char *nsname, const struct ns *n,
		       const struct key *k, size_t len, int64_t expected, uint64_t *current,
		       char *why)
{
	uint64_t latest = k && k->n ? k->v[k->n - 1].meta.version : 0;
	uint64_t freed = k && k->n == m->l.keep_versions ? k->v[0].meta.size : 0;

	*current = latest;
	if (expected != CAM_MEMCTX_ANY && latest != (uint64_t)expected)
		return cam_memctx__fail(why, CAM_MEMCTX_ECONFLICT,
				   "expected version %lld but the latest is %llu",
				   (long long)expected, (unsigned long long)latest);
	if (!k && n && n->keys.n >= m->l.max_keys)
		return cam_memctx__fail(why, CAM_ELIMIT, "namespace is full (%zu keys)", m->l.max_keys);
	if (atomic_load(&m->total) + len - freed > m->l.max_total_bytes)
		return cam_memctx__fail(why, CAM_ELIMIT,
				   "store is full: %llu of %llu bytes used, value needs %zu",
				   (unsigned long long)atomic_load(&m->total),
				   (unsigned long long)m->l.max_total_bytes, len);
	return owner_check(m, nsname, (int64_t)len - (int64_t)freed, why);
}

static int mem_write(void *b, int64_t deadline_ns, const char *nsname, const char *keyname,
		     const void *val, size_t len, int64_t expected, int64_t now_ms,
		     struct cam_memctx_version *out, uint64_t *current, char *why)
{
	struct mem *m = b;
	struct ns *n;
	struct key *k = NULL;
	struct version *v;
	int rc;
	(void)deadline_ns; /* in memory nothing waits */

	pthread_rwlock_wrlock(&m->lock);
	n = map_get(&m->nss, nsname);
	if (n)
		k = map_get(&n->keys, keyname);
	if ((rc = write_check(m, nsname, n, k, len, expected, current, why)))
		goto out_unlock;
	if (!n) {
		n = cam_xcalloc(1, sizeof(*n));
		map_put(&m->nss, nsname, n);
	}
	if (!k) {
		k = cam_xcalloc(1, sizeof(*k));
		k->v = cam_xcalloc(m->l.keep_versions, sizeof(*k->v));
		map_put(&n->keys, keyname, k);
	}
	if (k->n == m->l.keep_versions) {
		n->bytes -= k->v[0].meta.size;
		owner_add(m, nsname, -(int64_t)k->v[0].meta.size);
		atomic_fetch_sub(&m->total, k->v[0].meta.size);
		free(k->v[0].data);
		memmove(&k->v[0], &k->v[1], (k->n - 1) * sizeof(*k->v));
		k->n--;
	}
	v = &k->v[k->n++];
	v->meta = (struct cam_memctx_version){ ++n->seq, now_ms, len };
	v->data = cam_xmalloc(len + 1);
	if (len)
		memcpy(v->data, val, len);
	v->data[len] = '\0';
	n->bytes += len;
	owner_add(m, nsname, (int64_t)len);
	atomic_fetch_add(&m->total, len);
	*out = v->meta;
out_unlock:
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

static struct key *find_key(struct mem *m, const char *nsname, const char *keyname)
{
	struct ns *n = map_get(&m->nss, nsname);

	return n ? map_get(&n->keys, keyname) : NULL;
}

static int mem_read(void *b, int64_t deadline_ns, const char *nsname, const char *keyname,
		    uint64_t version, struct cam_memctx_value *out, char *why)
{
	struct mem *m = b;
	struct key *k;
	const struct version *v = NULL;
	int rc = 0;
	(void)deadline_ns; /* in memory nothing waits */

	pthread_rwlock_rdlock(&m->lock);
	k = find_key(m, nsname, keyname);
	if (k && k->n) {
		v = version ? NULL : &k->v[k->n - 1];
		for (size_t i = 0; !v && i < k->n; i++)
			if (k->v[i].meta.version == version)
				v = &k->v[i];
	}
	if (!k)
		rc = cam_memctx__fail(why, CAM_ENOENT, "no key %s in namespace %s", keyname, nsname);
	else if (!v)
		rc = cam_memctx__fail(why, CAM_ENOENT, "key %s has no version %llu (kept: %llu-%llu)",
				 keyname, (unsigned long long)version,
				 (unsigned long long)k->v[0].meta.version,
				 (unsigned long long)k->v[k->n - 1].meta.version);
	else {
		out->v = v->meta;
		out->data = cam_xmalloc(v->meta.size + 1);
		memcpy(out->data, v->data, v->meta.size + 1);
	}
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

static int mem_versions(void *b, int64_t deadline_ns, const char *nsname, const char *keyname,
			struct cam_memctx_version *out, size_t max, size_t *n, char *why)
{
	struct mem *m = b;
	struct key *k;
	int rc = 0;
	(void)deadline_ns; /* in memory nothing waits */

	pthread_rwlock_rdlock(&m->lock);
	k = find_key(m, nsname, keyname);
	if (!k)
		rc = cam_memctx__fail(why, CAM_ENOENT, "no key %s in namespace %s", keyname, nsname);
	for (size_t i = 0; k && i < k->n && *n < max; i++)
		out[(*n)++] = k->v[i].meta;
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

static void drop_key(struct mem *m, const char *nsname, struct ns *n, const char *keyname,
		     size_t *removed)
{
	struct key *k = map_del(&n->keys, keyname);
	uint64_t bytes = key_bytes(k);

	*removed += k->n;
	n->bytes -= bytes;
	owner_add(m, nsname, -(int64_t)bytes);
	atomic_fetch_sub(&m->total, bytes);
	key_free(k);
}

static int mem_del(void *b, int64_t deadline_ns, const char *nsname, const char *keyname,
		   size_t *removed, char *why)
{
	struct mem *m = b;
	struct ns *n;
	int rc = 0;
	(void)deadline_ns; /* in memory nothing waits */

	pthread_rwlock_wrlock(&m->lock);
	n = map_get(&m->nss, nsname);
	if (keyname) {
		if (n && map_get(&n->keys, keyname))
			drop_key(m, nsname, n, keyname, removed);
		else
			rc = cam_memctx__fail(why, CAM_ENOENT, "no key %s in namespace %s", keyname,
					 nsname);
	} else if (!n || !n->keys.n) {
		rc = cam_memctx__fail(why, CAM_ENOENT, "namespace %s has no keys", nsname);
	} else {
		atomic_fetch_sub(&m->total, n->bytes);
		owner_add(m, nsname, -(int64_t)n->bytes);
		for (size_t i = 0; i < n->keys.cap; i++)
			for (struct entry *e = n->keys.b[i]; e; e = e->next)
				*removed += ((struct key *)e->v)->n;
		map_clear(&n->keys, key_free);
		n->bytes = 0;
	}
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

static int mem_snapshot(void *b, int64_t deadline_ns, const char *nsname, const char *id,
			int64_t now_ms, size_t *keys, char *why)
{
	struct mem *m = b;
	struct ns *n;
	struct snap *s;
	int rc = 0;
	(void)deadline_ns; /* in memory nothing waits */

	(void)now_ms;
	pthread_rwlock_wrlock(&m->lock);
	n = map_get(&m->nss, nsname);
	if (!n || !n->keys.n)
		rc = cam_memctx__fail(why, CAM_ENOENT, "namespace %s has no keys", nsname);
	else if (n->nsnaps >= m->l.max_snapshots)
		rc = cam_memctx__fail(why, CAM_ELIMIT, "namespace %s already has %u snapshots (the limit)",
				 nsname, n->nsnaps);
	else if (atomic_load(&m->total) + n->bytes > m->l.max_total_bytes)
		rc = cam_memctx__fail(why, CAM_ELIMIT, "store is full: a snapshot of %s needs %llu bytes",
				 nsname, (unsigned long long)n->bytes);
	else if (map_get(&m->snaps, id))
		rc = cam_memctx__fail(why, CAM_EINTERNAL, "snapshot id collision; try again");
	else
		rc = owner_check(m, nsname, (int64_t)n->bytes, why);
	if (rc)
		goto out_unlock;
	s = cam_xcalloc(1, sizeof(*s));
	s->ns = cam_xstrdup(nsname);
	s->bytes = n->bytes;
	keys_copy(&s->keys, &n->keys, m->l.keep_versions);
	map_put(&m->snaps, id, s);
	n->nsnaps++;
	owner_add(m, nsname, (int64_t)s->bytes);
	atomic_fetch_add(&m->total, s->bytes);
	*keys = s->keys.n;
out_unlock:
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

static int mem_restore(void *b, int64_t deadline_ns, const char *id, char *nsname,
		       size_t *keys, char *why)
{
	struct mem *m = b;
	struct snap *s;
	struct ns *n;
	int rc = 0;
	(void)deadline_ns; /* in memory nothing waits */

	pthread_rwlock_wrlock(&m->lock);
	s = map_get(&m->snaps, id);
	if (!s) {
		rc = cam_memctx__fail(why, CAM_ENOENT, "no snapshot %s", id);
		goto out_unlock;
	}
	n = map_get(&m->nss, s->ns);
	if (atomic_load(&m->total) - n->bytes + s->bytes > m->l.max_total_bytes) {
		rc = cam_memctx__fail(why, CAM_ELIMIT, "store is full: restoring needs %llu bytes",
				 (unsigned long long)s->bytes);
		goto out_unlock;
	}
	if ((rc = owner_check(m, s->ns, (int64_t)s->bytes - (int64_t)n->bytes, why)))
		goto out_unlock;
	owner_add(m, s->ns, (int64_t)s->bytes - (int64_t)n->bytes);
	atomic_fetch_sub(&m->total, n->bytes);
	map_clear(&n->keys, key_free);
	keys_copy(&n->keys, &s->keys, m->l.keep_versions);
	n->bytes = s->bytes;
	atomic_fetch_add(&m->total, n->bytes);
	strcpy(nsname, s->ns);
	*keys = n->keys.n;
out_unlock:
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

static int mem_snapshot_delete(void *b, int64_t deadline_ns, const char *id, char *why)
{
	struct mem *m = b;
	struct snap *s;
	struct ns *n;
	int rc = 0;
	(void)deadline_ns; /* in memory nothing waits */

	pthread_rwlock_wrlock(&m->lock);
	s = map_del(&m->snaps, id);
	if (!s) {
		rc = cam_memctx__fail(why, CAM_ENOENT, "no snapshot %s", id);
	} else {
		n = map_get(&m->nss, s->ns);
		n->nsnaps--;
		owner_add(m, s->ns, -(int64_t)s->bytes);
		atomic_fetch_sub(&m->total, s->bytes);
		snap_free(s);
	}
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

static int mem_snapshot_ns(void *b, int64_t deadline_ns, const char *id, char *nsname,
			   char *why)
{
	struct mem *m = b;
	struct snap *s;
	int rc = 0;
	(void)deadline_ns; /* in memory nothing waits */

	pthread_rwlock_rdlock(&m->lock);
	if ((s = map_get(&m->snaps, id)))
		strcpy(nsname, s->ns);
	else
		rc = cam_memctx__fail(why, CAM_ENOENT, "no snapshot %s", id);
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

static uint64_t mem_size_bytes(void *b)
{
	struct mem *m = b;

	return atomic_load(&m->total);
}

static uint64_t mem_reconnects(void *b)
{
	(void)b;
	return 0;
}

static enum cam_component_status mem_health(void *b, char *msg, size_t len)
{
	(void)b;
	snprintf(msg, len, "in-memory context store (CAM_MEMCTX_BACKEND=memory): volatile, every "
		 "restart forgets it");
	return CAM_COMPONENT_HEALTHY;
}

const struct cam_memctx__ops cam_memctx__mem_ops = {
	.name = "memory",
	.write = mem_write,
	.read = mem_read,
	.versions = mem_versions,
	.del = mem_del,
	.snapshot = mem_snapshot,
	.restore = mem_restore,
	.snapshot_delete = mem_snapshot_delete,
	.snapshot_ns = mem_snapshot_ns,
	.size_bytes = mem_size_bytes,
	.reconnects = mem_reconnects,
	.health = mem_health,
	.free = mem_free,
};
