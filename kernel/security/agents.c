/*
 * Registered agents (agents.h): an open-addressing hash table of token
 * digests in memory, the "agents" database of the store on disk.
 *
 * A second table indexes the grants by agent name, for a client
 * certificate's caller (cam_agents_find_name), so that costs a few probes
 * and one clock read whatever the number of registered agents.
 *
 * Locks: one rwlock over both tables. Lookups take the read side for a few
 * probes; register and revoke take the write side only to change the
 * table, after their change is committed to the store (which they wait
 * for without holding the lock).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/security/agents.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/sha.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/str.h"
#include "common/xmalloc.h"

#define MAX_TOKENS (1u << 20)

/* What the store keeps per token (key: the token's SHA-256). */
struct record {
	char name[CAM_AGENT_NAME_MAX + 1];
	uint32_t scopes, pad;
	double rate, burst;
	int64_t created_ms, expires_ms;
};

struct slot {
	unsigned char digest[32];
	bool used, gone;  /* gone: a tombstone, so probing goes on past it */
	struct cam_agent g;
};

/* One agent name's grants, one per token (an agent has a few). */
struct name_grant {
	unsigned char digest[32];
	struct cam_agent g;
};

struct name_slot {
	uint64_t h;
	struct name_grant *g; /* NULL: free; n == 0: a tombstone */
	size_t n, cap;
};

struct cam_agents {
	cam_store *store;
	MDB_dbi db;
	pthread_rwlock_t lock;
	struct slot *slots;
	size_t cap, n, tombs;
	struct name_slot *names;
	size_t ncap, nn, ntombs;
	int64_t next_expiry_ms; /* the soonest expiry among the tokens; 0: none */
	uint64_t seed; /* names are chosen by callers: a hash they cannot aim */
};

static uint64_t slot_hash(const unsigned char *d)
{
	uint64_t h;

	memcpy(&h, d, sizeof(h)); /* a SHA-256: already uniform */
	return h;
}

/* The slot holding digest, or the free one it would go in (NULL: full). */
static struct slot *probe(const struct cam_agents *a, const unsigned char *d, bool for_insert)
{
	struct slot *tomb = NULL;

	for (size_t i = 0, j = slot_hash(d) & (a->cap - 1); i < a->cap; i++, j = (j + 1) & (a->cap - 1)) {
		struct slot *s = &a->slots[j];

		if (!s->used)
			return for_insert && tomb ? tomb : (for_insert ? s : NULL);
		if (s->gone) {
			if (!tomb)
				tomb = s;
			continue;
		}
		if (memcmp(s->digest, d, 32) == 0)
			return s;
	}
	return for_insert ? tomb : NULL;
}

static void put(struct cam_agents *a, const unsigned char *d, const struct cam_agent *g);

/* Doubles the table (write lock held, or before any reader). */
static void grow(struct cam_agents *a)
{
	struct slot *old = a->slots;
	size_t cap = a->cap;

	a->cap = cap ? cap * 2 : 1024;
	a->slots = cam_xcalloc(a->cap, sizeof(*a->slots));
	a->n = a->tombs = 0;
	for (size_t i = 0; i < cap; i++)
		if (old[i].used && !old[i].gone)
			put(a, old[i].digest, &old[i].g);
	free(old);
}

static void put(struct cam_agents *a, const unsigned char *d, const struct cam_agent *g)
{
	struct slot *s;

	if ((a->n + a->tombs + 1) * 4 > a->cap * 3)
		grow(a);
	if (g->expires_ms && (!a->next_expiry_ms || g->expires_ms < a->next_expiry_ms))
		a->next_expiry_ms = g->expires_ms;
	s = probe(a, d, true);
	if (s->used && !s->gone) {
		s->g = *g;
		return;
	}
	if (s->gone)
		a->tombs--;
	memcpy(s->digest, d, 32);
	s->used = true;
	s->gone = false;
	s->g = *g;
	a->n++;
}

static uint64_t name_hash(const struct cam_agents *a, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ a->seed; /* FNV-1a, seeded */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return h ^ (h >> 29);
}

/* The slot of name, or the free one it would go in (NULL: not there). */
static struct name_slot *name_probe(const struct cam_agents *a, const char *name, uint64_t h,
				    bool for_insert)
{
	struct name_slot *tomb = NULL;

	for (size_t i = 0, j = h & (a->ncap - 1); i < a->ncap; i++, j = (j + 1) & (a->ncap - 1)) {
		struct name_slot *s = &a->names[j];

		if (!s->g)
			return for_insert ? (tomb ? tomb : s) : NULL;
		if (!s->n) {
			if (!tomb)
				tomb = s;
			continue;
		}
		if (s->h == h && strcmp(s->g[0].g.name, name) == 0)
			return s;
	}
	return for_insert ? tomb : NULL;
}

static void name_grow(struct cam_agents *a)
{
	struct name_slot *old = a->names;
	size_t cap = a->ncap;

	a->ncap = cap ? cap * 2 : 256;
	a->names = cam_xcalloc(a->ncap, sizeof(*a->names));
	a->ntombs = 0;
	for (size_t i = 0; i < cap; i++) {
		if (old[i].g && old[i].n)
			*name_probe(a, old[i].g[0].g.name, old[i].h, true) = old[i];
		else
			free(old[i].g);
	}
	free(old);
}

/* Adds a token's grant to its name's (write lock held, or before any reader). */
static void name_add(struct cam_agents *a, const unsigned char *d, const struct cam_agent *g)
{
	uint64_t h = name_hash(a, g->name);
	struct name_slot *s = name_probe(a, g->name, h, false);

	if (!s) {
		if ((a->nn + a->ntombs + 1) * 4 > a->ncap * 3)
			name_grow(a);
		s = name_probe(a, g->name, h, true);
		if (s->g) /* a tombstone */
			a->ntombs--;
		a->nn++;
		s->h = h;
		s->n = 0;
	}
	if (s->n == s->cap || !s->g) {
		s->cap = s->n == s->cap ? (s->cap ? s->cap * 2 : 2) : s->cap;
		s->g = cam_xrealloc(s->g, s->cap * sizeof(*s->g));
	}
	memcpy(s->g[s->n].digest, d, 32);
	s->g[s->n++].g = *g;
}

/* Drops the grant of token d from name's (write lock held). */
static void name_remove(struct cam_agents *a, const char *name, const unsigned char *d)
{
	struct name_slot *s = name_probe(a, name, name_hash(a, name), false);

	for (size_t i = 0; s && i < s->n; i++)
		if (memcmp(s->g[i].digest, d, 32) == 0) {
			s->g[i] = s->g[--s->n];
			break;
		}
	if (s && !s->n) { /* keeps g allocated: a tombstone */
		a->nn--;
		a->ntombs++;
	}
}

static void to_record(const struct cam_agent *g, struct record *r)
{
	memset(r, 0, sizeof(*r));
	cam_strlcpy(r->name, g->name, sizeof(r->name));
	r->scopes = g->scopes;
	r->rate = g->rate;
	r->burst = g->burst;
	r->created_ms = g->created_ms;
	r->expires_ms = g->expires_ms;
}

static void from_record(const struct record *r, struct cam_agent *g)
{
	memcpy(g->name, r->name, sizeof(g->name));
	g->name[CAM_AGENT_NAME_MAX] = '\0';
	g->scopes = r->scopes;
	g->rate = r->rate;
	g->burst = r->burst;
	g->created_ms = r->created_ms;
	g->expires_ms = r->expires_ms;
}

static int load(struct cam_agents *a, char *why)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = cam_store_read_begin(a->store, &txn);

	if (rc)
		return cam_store_fail(rc, cam_store_path(a->store), why);
	if ((rc = mdb_cursor_open(txn, a->db, &cur)))
		goto out_end;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		struct record r;
		struct cam_agent g;

		if (k.mv_size != 32 || v.mv_size != sizeof(r)) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(&r, v.mv_data, sizeof(r));
		from_record(&r, &g);
		put(a, k.mv_data, &g);
		name_add(a, k.mv_data, &g);
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
out_end:
	cam_store_read_end(a->store, txn);
	return rc ? cam_store_fail(rc, cam_store_path(a->store), why) : 0;
}

static int purge_expired(cam_agents *a, char *why);

int cam_agents_new(cam_store *store, cam_agents **out, char *why)
{
	struct cam_agents *a = cam_xcalloc(1, sizeof(*a));
	int rc;

	a->store = store;
	pthread_rwlock_init(&a->lock, NULL);
	if (getrandom(&a->seed, sizeof(a->seed), 0) != sizeof(a->seed))
		a->seed = (uint64_t)cam_mono_ns();
	grow(a);
	name_grow(a);
	if ((rc = cam_store_dbi(store, "agents", &a->db, why)) || (rc = load(a, why)) ||
	    (rc = purge_expired(a, why))) {
		cam_agents_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void cam_agents_free(cam_agents *a)
{
	if (!a)
		return;
	free(a->slots);
	for (size_t i = 0; i < a->ncap; i++)
		free(a->names[i].g);
	free(a->names);
	pthread_rwlock_destroy(&a->lock);
	free(a);
}

static bool live(const struct cam_agent *g)
{
	return !g->expires_ms || g->expires_ms > cam_real_ms();
}

bool cam_agents_find(cam_agents *a, const unsigned char digest[32], struct cam_agent *out)
{
	const struct slot *s;
	bool found;

	pthread_rwlock_rdlock(&a->lock);
	s = probe(a, digest, false);
	found = s && live(&s->g);
	if (found)
		*out = s->g;
	pthread_rwlock_unlock(&a->lock);
	return found;
}

bool cam_agents_find_name(cam_agents *a, const char *name, struct cam_agent *out)
{
	const struct name_slot *s;
	bool found = false;
	int64_t now = cam_real_ms();

	pthread_rwlock_rdlock(&a->lock);
	s = name_probe(a, name, name_hash(a, name), false);
	for (size_t i = 0; s && i < s->n; i++) {
		const struct cam_agent *g = &s->g[i].g;

		if ((!g->expires_ms || g->expires_ms > now) &&
		    (!found || g->created_ms > out->created_ms)) {
			*out = *g;
			found = true;
		}
	}
	pthread_rwlock_unlock(&a->lock);
	return found;
}

static int name_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-' || c == '@' || c == '/'))
			return 0;
	}
	return n >= 1 && n <= CAM_AGENT_NAME_MAX;
}

/* "cam_" and the base64url of 32 random bytes, no padding. */
static int new_token(char *token)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char r[33] = { 0 };
	size_t o = 4;

	if (getrandom(r, 32, 0) != 32)
		return CAM_EIO;
	memcpy(token, "cam_", 4);
	for (size_t i = 0; i < 33; i += 3) {
		uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];

		for (int k = 3; k >= 0 && o < CAM_AGENT_TOKEN_LEN; k--)
			token[o++] = b64[(v >> (6 * k)) & 63];
	}
	token[o] = '\0';
	return 0;
}

/* A change of the "agents" database for the store's writer: puts or
 * deletes the records of n digests. */
struct agents_job {
	struct cam_store_job job;
	MDB_dbi db;
	const unsigned char (*digests)[32];
	size_t n;
	const struct record *rec; /* NULL: delete */
	char why[CAM_STORE_WHY];
};

static int agents_apply(struct cam_store_job *job, MDB_txn *txn)
{
	struct agents_job *j = (struct agents_job *)job;
	int rc = 0;

	for (size_t i = 0; i < j->n && !rc; i++) {
		MDB_val k = { 32, (void *)j->digests[i] };

		if (j->rec) {
			MDB_val v = { sizeof(*j->rec), (void *)j->rec };
			rc = mdb_put(txn, j->db, &k, &v, MDB_NOOVERWRITE);
		} else {
			rc = mdb_del(txn, j->db, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		}
	}
	if (rc == MDB_KEYEXIST) { /* two tokens with one digest: 2^-256 */
		snprintf(j->why, CAM_STORE_WHY, "token collision; try again");
		return CAM_EINTERNAL;
	}
	if (rc) {
		job->mdb_rc = rc;
		return CAM_STORE_BROKEN;
	}
	return 0;
}

static int run(cam_agents *a, const unsigned char (*digests)[32], size_t n,
	       const struct record *rec, char *why)
{
	struct agents_job j = { .job = { .apply = agents_apply }, .db = a->db,
				.digests = digests, .n = n, .rec = rec };
	int rc;

	j.job.why = j.why;
	rc = cam_store_run(a->store, &j.job);
	if (rc)
		cam_strlcpy(why, j.why, CAM_STORE_WHY);
	return rc;
}

static int run(cam_agents *a, const unsigned char (*digests)[32], size_t n,
	       const struct record *rec, char *why);

/*
 * Drops the tokens whose ttl ran out, from the store and the tables, once
 * the soonest expiry has passed (so that expired tokens neither fill the
 * store nor count toward the limit). Runs where changes are made
 * (register, and at load), never on a lookup.
 */
static int purge_expired(cam_agents *a, char *why)
{
	int64_t now = cam_real_ms(), next = 0;
	unsigned char (*d)[32];
	char (*names)[CAM_AGENT_NAME_MAX + 1];
	size_t n = 0;
	int rc;

	pthread_rwlock_rdlock(&a->lock);
	if (!a->next_expiry_ms || a->next_expiry_ms > now) {
		pthread_rwlock_unlock(&a->lock);
		return 0;
	}
	d = cam_xmalloc((a->n ? a->n : 1) * sizeof(*d));
	names = cam_xmalloc((a->n ? a->n : 1) * sizeof(*names));
	for (size_t i = 0; i < a->cap; i++) {
		const struct slot *s = &a->slots[i];

		if (!s->used || s->gone || !s->g.expires_ms)
			continue;
		if (s->g.expires_ms <= now) {
			memcpy(d[n], s->digest, 32);
			memcpy(names[n++], s->g.name, sizeof(*names));
		} else if (!next || s->g.expires_ms < next) {
			next = s->g.expires_ms;
		}
	}
	pthread_rwlock_unlock(&a->lock);
	rc = n ? run(a, (const unsigned char (*)[32])d, n, NULL, why) : 0;
	pthread_rwlock_wrlock(&a->lock);
	for (size_t i = 0; !rc && i < n; i++) {
		struct slot *s = probe(a, d[i], false);

		if (s) {
			s->gone = true;
			a->n--;
			a->tombs++;
			name_remove(a, names[i], d[i]);
		}
	}
	if (!rc && (a->next_expiry_ms <= now || (next && next < a->next_expiry_ms)))
		a->next_expiry_ms = next; /* a register meanwhile may have set a sooner one */
	pthread_rwlock_unlock(&a->lock);
	free(names);
	free(d);
	return rc;
}

int cam_agents_register(cam_agents *a, const struct cam_agent *g, char *token, char *why)
{
	unsigned char digest[32];
	struct record r;
	int rc;

	if (!name_valid(g->name)) {
		snprintf(why, CAM_STORE_WHY, "agent must be 1-%d characters of A-Z a-z 0-9 _ . - @ /",
			 CAM_AGENT_NAME_MAX);
		return CAM_EINVAL;
	}
	if ((rc = purge_expired(a, why)))
		return rc;
	if (cam_agents_count(a) >= MAX_TOKENS) {
		snprintf(why, CAM_STORE_WHY, "%u registered tokens already (the limit)", MAX_TOKENS);
		return CAM_ELIMIT;
	}
	if ((rc = new_token(token))) {
		snprintf(why, CAM_STORE_WHY, "no randomness for a token");
		return rc;
	}
	SHA256((const unsigned char *)token, strlen(token), digest);
	to_record(g, &r);
	if ((rc = run(a, (const unsigned char (*)[32])digest, 1, &r, why))) {
		explicit_bzero(token, CAM_AGENT_TOKEN_LEN + 1);
		return rc;
	}
	pthread_rwlock_wrlock(&a->lock);
	put(a, digest, g);
	name_add(a, digest, g);
	pthread_rwlock_unlock(&a->lock);
	return 0;
}

int cam_agents_revoke(cam_agents *a, const char *name, size_t *revoked, char *why)
{
	unsigned char (*d)[32];
	size_t n = 0;
	int rc;

	*revoked = 0;
	pthread_rwlock_rdlock(&a->lock);
	d = cam_xmalloc((a->n ? a->n : 1) * sizeof(*d));
	for (size_t i = 0; i < a->cap; i++)
		if (a->slots[i].used && !a->slots[i].gone && strcmp(a->slots[i].g.name, name) == 0)
			memcpy(d[n++], a->slots[i].digest, 32);
	pthread_rwlock_unlock(&a->lock);
	if (!n) {
		free(d);
		snprintf(why, CAM_STORE_WHY, "agent %s has no registered token", name);
		return CAM_ENOENT;
	}
	if ((rc = run(a, (const unsigned char (*)[32])d, n, NULL, why))) {
		free(d);
		return rc;
	}
	pthread_rwlock_wrlock(&a->lock);
	for (size_t i = 0; i < n; i++) {
		struct slot *s = probe(a, d[i], false);

		if (s) {
			s->gone = true;
			a->n--;
			a->tombs++;
			name_remove(a, name, d[i]);
		}
	}
	pthread_rwlock_unlock(&a->lock);
	free(d);
	*revoked = n;
	return 0;
}

static int by_name(const void *x, const void *y)
{
	return strcmp(((const struct cam_agent *)x)->name, ((const struct cam_agent *)y)->name);
}

size_t cam_agents_list(cam_agents *a, struct cam_agent *out, size_t *ntokens, size_t max)
{
	struct cam_agent *all;
	size_t n = 0, k = 0;

	pthread_rwlock_rdlock(&a->lock);
	all = cam_xmalloc((a->n ? a->n : 1) * sizeof(*all));
	for (size_t i = 0; i < a->cap; i++)
		if (a->slots[i].used && !a->slots[i].gone && live(&a->slots[i].g))
			all[n++] = a->slots[i].g;
	pthread_rwlock_unlock(&a->lock);
	qsort(all, n, sizeof(*all), by_name);
	for (size_t i = 0; i < n && k <= max; i++) {
		if (k && strcmp(out[k - 1].name, all[i].name) == 0) {
			ntokens[k - 1]++;
			if (all[i].created_ms > out[k - 1].created_ms)
				out[k - 1] = all[i];
			continue;
		}
		if (k == max)
			break;
		out[k] = all[i];
		ntokens[k++] = 1;
	}
	free(all);
	return k;
}

size_t cam_agents_count(cam_agents *a)
{
	size_t n;

	pthread_rwlock_rdlock(&a->lock);
	n = a->n;
	pthread_rwlock_unlock(&a->lock);
	return n;
}
