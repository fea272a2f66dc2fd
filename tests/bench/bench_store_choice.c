/*
 * Which embedded store should hold the durable context store (issue 25)?
 * LMDB, SQLite in WAL mode and RocksDB (Debian 12's packages, default
 * options but for what durability needs) measured side by side in one run
 * on the kernel's workload: versioned values by namespace and key, the key
 * "ns\0key\0" + 8-byte big-endian version, the value a 16-byte header
 * (version, time) + 100 bytes; 64 namespaces of 1000 keys.
 *
 *  1. durable group commit: batches of 1, 16, 128 writes to random keys
 *     (and 128 to one key), one synced transaction each: writes/s, fsync+fdatasync calls/s, CPU
 *     µs and bytes handed to write calls per write (syncs and bytes are
 *     counted by wrapping libc's functions);
 *  2. reads of a random key's latest version from a warm store, 1 and 2
 *     threads (and of an exact key, its version known): reads/s, CPU µs per
 *     read; read latency p99 alone and while a writer thread commits
 *     batches of 16;
 *  3. a store of BENCH_STORE_GB (default 1) GB of values, written as the
 *     kernel would (each key's versions interleaved with its neighbours'):
 *     cold open time (files evicted from the page cache, open + first read)
 *     and RssAnon after 10k random reads, each in a fresh process;
 *  4. that store's size on disk.
 * Each figure is the median of 3 rounds, the engines interleaved in each
 * round. Prints one table with the ratios to LMDB and writes it as
 * markdown to MARKDOWN_FILE. tests/bench/store_choice.sh runs it.
 *
 * usage: bench_store_choice DIR MARKDOWN_FILE
 *        (BENCH_STORE_GB: size of the store of part 3;
 *         BENCH_STORE_SECS: length of each timed window, default 1)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
/* pkg-config's flags set 64-bit file offsets, which would make pwrite an
 * alias of pwrite64: this file wraps both (amd64's off_t is 64 bits anyway). */
#undef _FILE_OFFSET_BITS
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <rocksdb/c.h>
#include <sqlite3.h>

#define NS 64
#define KEYS_PER_NS 1000
#define NKEYS (NS * KEYS_PER_NS)
#define HDR 16
#define VALUE_BYTES 100
#define VAL_LEN (HDR + VALUE_BYTES)
#define KEY_MAX 48
#define ROUNDS 3
#define NRUNS 4           /* write runs, below */
#define NENG 3
#define GROUP 64          /* keys whose versions one load transaction interleaves */
#define PROBE_READS 10000
#define LAT_CAP (4u << 20)

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench_store_choice: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* ---- syncs and bytes written, counted: the three libraries call these
 * libc functions (nm -D), and a definition in the executable comes first. */

static atomic_long nsyncs, nwritten;

static void *real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f)
		die("no %s in libc", name);
	return f;
}

static ssize_t counted(ssize_t n)
{
	if (n > 0)
		atomic_fetch_add_explicit(&nwritten, n, memory_order_relaxed);
	return n;
}

/* Each wrapper looks its libc function up on first use. */
#define REAL(type, name)  \
	static type *f;   \
	if (!f)           \
		f = (type *)real(#name)
_Static_assert(sizeof(off_t) == 8, "pwrite and pwrite64 differ here");
typedef int sync_fn(int);
typedef ssize_t write_fn(int, const void *, size_t);
typedef ssize_t pwrite_fn(int, const void *, size_t, off_t);
typedef ssize_t pwrite64_fn(int, const void *, size_t, off64_t);
typedef ssize_t writev_fn(int, const struct iovec *, int);

int fsync(int fd)
{
	REAL(sync_fn, fsync);
	atomic_fetch_add_explicit(&nsyncs, 1, memory_order_relaxed);
	return f(fd);
}

int fdatasync(int fd)
{
	REAL(sync_fn, fdatasync);
	atomic_fetch_add_explicit(&nsyncs, 1, memory_order_relaxed);
	return f(fd);
}

ssize_t write(int fd, const void *b, size_t n)
{
	REAL(write_fn, write);
	return counted(f(fd, b, n));
}

ssize_t pwrite(int fd, const void *b, size_t n, off_t o)
{
	REAL(pwrite_fn, pwrite);
	return counted(f(fd, b, n, o));
}

ssize_t pwrite64(int fd, const void *b, size_t n, off64_t o)
{
	REAL(pwrite64_fn, pwrite64);
	return counted(f(fd, b, n, o));
}

ssize_t writev(int fd, const struct iovec *v, int n)
{
	REAL(writev_fn, writev);
	return counted(f(fd, v, n));
}

/* ---- the workload */

struct rec {
	uint8_t key[KEY_MAX];
	size_t klen;
	uint8_t val[VAL_LEN];
};

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull); /* splitmix64 */

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* "agent-NN\0key-NNNN\0": the key without its version. */
static size_t key_prefix(uint8_t *b, unsigned id)
{
	int n = snprintf((char *)b, KEY_MAX, "agent-%02u", id / KEYS_PER_NS % 100);

	n += 1 + snprintf((char *)b + n + 1, KEY_MAX - (size_t)n - 1, "key-%04u",
			  id % KEYS_PER_NS % 10000);
	return (size_t)n + 1;
}

static void make_rec(struct rec *r, unsigned id, uint64_t version, uint64_t *rng)
{
	r->klen = key_prefix(r->key, id) + 8;
	be64_put(r->key + r->klen - 8, version);
	be64_put(r->val, version);
	be64_put(r->val + 8, (uint64_t)time(NULL) * 1000);
	for (int i = HDR; i < VAL_LEN; i += 8) {
		uint64_t x = rnd(rng); /* incompressible, so no engine gains by compressing */

		memcpy(r->val + i, &x, VAL_LEN - i < 8 ? (size_t)(VAL_LEN - i) : 8);
	}
}

/* ---- the three engines behind one interface */

struct engine {
	const char *name;
	void *(*open)(const char *dir, int probe);
	void (*close)(void *db);
	void (*put)(void *db, const struct rec *r, int n); /* one durable transaction */
	void *(*reader)(void *db);                         /* one per thread */
	void (*reader_free)(void *rd);
	/* The latest version of the key that starts with prefix; 0 or -1. */
	int (*get)(void *rd, const uint8_t *prefix, size_t plen, uint8_t *val);
	/* The value of exactly that key (its version known); 0 or -1. */
	int (*get_exact)(void *rd, const uint8_t *key, size_t klen, uint8_t *val);
	void (*settle)(void *db); /* waits for background work, if any */
};

static void bounds(uint8_t *lo, uint8_t *hi, const uint8_t *prefix, size_t plen)
{
	if (lo) {
		memcpy(lo, prefix, plen);
		memset(lo + plen, 0, 8);
	}
	memcpy(hi, prefix, plen);
	memset(hi + plen, 0xff, 8);
}

/* LMDB: default flags (a commit fdatasync()s the data, then writes the meta
 * page through an O_DSYNC descriptor); readers reset and renew a read-only
 * transaction per read. */
struct lm {
	MDB_env *env;
	MDB_dbi dbi;
};
struct lm_rd {
	MDB_txn *t;
	MDB_cursor *c;
};

static void lm_ok(int rc, const char *what)
{
	if (rc)
		die("lmdb: %s: %s", what, mdb_strerror(rc));
}

static void *lm_open(const char *dir, int probe)
{
	struct lm *d = calloc(1, sizeof(*d));
	MDB_txn *t;

	(void)probe;
	lm_ok(mdb_env_create(&d->env), "create");
	lm_ok(mdb_env_set_mapsize(d->env, (size_t)64 << 30), "mapsize");
	lm_ok(mdb_env_open(d->env, dir, 0, 0600), dir);
	lm_ok(mdb_txn_begin(d->env, NULL, MDB_RDONLY, &t), "begin");
	lm_ok(mdb_dbi_open(t, NULL, 0, &d->dbi), "dbi");
	lm_ok(mdb_txn_commit(t), "commit");
	return d;
}

static void lm_close(void *p)
{
	struct lm *d = p;

	mdb_env_close(d->env);
	free(d);
}

static void lm_put(void *p, const struct rec *r, int n)
{
	struct lm *d = p;
	MDB_txn *t;

	lm_ok(mdb_txn_begin(d->env, NULL, 0, &t), "begin");
	for (int i = 0; i < n; i++) {
		MDB_val k = { r[i].klen, (void *)r[i].key }, v = { VAL_LEN, (void *)r[i].val };

		lm_ok(mdb_put(t, d->dbi, &k, &v, 0), "put");
	}
	lm_ok(mdb_txn_commit(t), "commit");
}

static void *lm_reader(void *p)
{
	struct lm *d = p;
	struct lm_rd *r = calloc(1, sizeof(*r));

	lm_ok(mdb_txn_begin(d->env, NULL, MDB_RDONLY, &r->t), "begin");
	lm_ok(mdb_cursor_open(r->t, d->dbi, &r->c), "cursor");
	mdb_txn_reset(r->t);
	return r;
}

static void lm_reader_free(void *p)
{
	struct lm_rd *r = p;

	mdb_cursor_close(r->c);
	mdb_txn_abort(r->t);
	free(r);
}

static int lm_get(void *p, const uint8_t *prefix, size_t plen, uint8_t *val)
{
	struct lm_rd *r = p;
	uint8_t hi[KEY_MAX];
	MDB_val k = { plen + 8, hi }, v;
	int rc, found;

	bounds(NULL, hi, prefix, plen);
	lm_ok(mdb_txn_renew(r->t), "renew");
	lm_ok(mdb_cursor_renew(r->t, r->c), "cursor renew");
	rc = mdb_cursor_get(r->c, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(r->c, &k, &v, MDB_LAST);
	else if (rc == 0 && (k.mv_size != plen + 8 || memcmp(k.mv_data, hi, plen + 8)))
		rc = mdb_cursor_get(r->c, &k, &v, MDB_PREV);
	found = rc == 0 && k.mv_size == plen + 8 && !memcmp(k.mv_data, prefix, plen) &&
		v.mv_size == VAL_LEN;
	if (found)
		memcpy(val, v.mv_data, VAL_LEN);
	mdb_txn_reset(r->t);
	return found ? 0 : -1;
}

static int lm_get_exact(void *p, const uint8_t *key, size_t klen, uint8_t *val)
{
	struct lm_rd *r = p;
	MDB_val k = { klen, (void *)key }, v;
	int found;

	lm_ok(mdb_txn_renew(r->t), "renew");
	found = !mdb_get(r->t, mdb_cursor_dbi(r->c), &k, &v) && v.mv_size == VAL_LEN;
	if (found)
		memcpy(val, v.mv_data, VAL_LEN);
	mdb_txn_reset(r->t);
	return found ? 0 : -1;
}

static void no_settle(void *db)
{
	(void)db;
}

/* SQLite: WAL, synchronous=FULL, one table kv(k BLOB PRIMARY KEY, v) WITHOUT
 * ROWID; one connection writes (BEGIN IMMEDIATE ... COMMIT, prepared), each
 * reader thread has a connection of its own. */
struct sq {
	char path[PATH_MAX];
	sqlite3 *w;
	sqlite3_stmt *begin, *ins, *commit;
};
struct sq_rd {
	sqlite3 *c;
	sqlite3_stmt *sel, *exact;
};

static void sq_ok(sqlite3 *c, int rc, int want, const char *what)
{
	if (rc != want)
		die("sqlite: %s: %s", what, sqlite3_errmsg(c));
}

static sqlite3 *sq_conn(const char *path)
{
	sqlite3 *c = NULL;
	int rc = sqlite3_open_v2(path, &c,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);

	sq_ok(c, rc, SQLITE_OK, path);
	sqlite3_busy_timeout(c, 10000);
	sq_ok(c, sqlite3_exec(c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", NULL, NULL, NULL),
	      SQLITE_OK, "pragmas");
	return c;
}

static sqlite3_stmt *sq_prep(sqlite3 *c, const char *sql)
{
	sqlite3_stmt *s = NULL;

	sq_ok(c, sqlite3_prepare_v2(c, sql, -1, &s, NULL), SQLITE_OK, sql);
	return s;
}

static void *sq_open(const char *dir, int probe)
{
	struct sq *d = calloc(1, sizeof(*d));

	(void)probe;
	snprintf(d->path, sizeof(d->path), "%s/store.db", dir);
	d->w = sq_conn(d->path);
	sq_ok(d->w, sqlite3_exec(d->w, "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB NOT NULL) "
			      "WITHOUT ROWID", NULL, NULL, NULL), SQLITE_OK, "create");
	d->begin = sq_prep(d->w, "BEGIN IMMEDIATE");
	d->ins = sq_prep(d->w, "INSERT INTO kv(k, v) VALUES (?1, ?2)");
	d->commit = sq_prep(d->w, "COMMIT");
	return d;
}

static void sq_close(void *p)
{
	struct sq *d = p;

	sqlite3_finalize(d->begin);
	sqlite3_finalize(d->ins);
	sqlite3_finalize(d->commit);
	sq_ok(d->w, sqlite3_close(d->w), SQLITE_OK, "close");
	free(d);
}

static void sq_step(sqlite3 *c, sqlite3_stmt *s, const char *what)
{
	sq_ok(c, sqlite3_step(s), SQLITE_DONE, what);
	sqlite3_reset(s);
}

static void sq_put(void *p, const struct rec *r, int n)
{
	struct sq *d = p;

	sq_step(d->w, d->begin, "begin");
	for (int i = 0; i < n; i++) {
		sqlite3_bind_blob(d->ins, 1, r[i].key, (int)r[i].klen, SQLITE_STATIC);
		sqlite3_bind_blob(d->ins, 2, r[i].val, VAL_LEN, SQLITE_STATIC);
		sq_step(d->w, d->ins, "insert");
	}
	sq_step(d->w, d->commit, "commit");
}

static void *sq_reader(void *p)
{
	struct sq *d = p;
	struct sq_rd *r = calloc(1, sizeof(*r));

	r->c = sq_conn(d->path);
	r->sel = sq_prep(r->c, "SELECT v FROM kv WHERE k BETWEEN ?1 AND ?2 ORDER BY k DESC LIMIT 1");
	r->exact = sq_prep(r->c, "SELECT v FROM kv WHERE k = ?1");
	return r;
}

static void sq_reader_free(void *p)
{
	struct sq_rd *r = p;

	sqlite3_finalize(r->sel);
	sqlite3_finalize(r->exact);
	sqlite3_close(r->c);
	free(r);
}

/* Steps a bound SELECT of one value. */
static int sq_value(sqlite3 *c, sqlite3_stmt *s, uint8_t *val)
{
	int rc = sqlite3_step(s), found = 0;

	if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == VAL_LEN) {
		memcpy(val, sqlite3_column_blob(s, 0), VAL_LEN);
		found = 1;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		die("sqlite: select: %s", sqlite3_errmsg(c));
	}
	sqlite3_reset(s);
	return found ? 0 : -1;
}

static int sq_get(void *p, const uint8_t *prefix, size_t plen, uint8_t *val)
{
	struct sq_rd *r = p;
	uint8_t lo[KEY_MAX], hi[KEY_MAX];

	bounds(lo, hi, prefix, plen);
	sqlite3_bind_blob(r->sel, 1, lo, (int)plen + 8, SQLITE_STATIC);
	sqlite3_bind_blob(r->sel, 2, hi, (int)plen + 8, SQLITE_STATIC);
	return sq_value(r->c, r->sel, val);
}

static int sq_get_exact(void *p, const uint8_t *key, size_t klen, uint8_t *val)
{
	struct sq_rd *r = p;

	sqlite3_bind_blob(r->exact, 1, key, (int)klen, SQLITE_STATIC);
	return sq_value(r->c, r->exact, val);
}

/* RocksDB: default options; a WriteBatch per transaction written with
 * sync=true; a read is an iterator's SeekForPrev to the key's last
 * possible version, bounded below by the key. */
struct rk {
	rocksdb_t *db;
	rocksdb_options_t *o;
	rocksdb_writeoptions_t *wo;
	rocksdb_writebatch_t *b;
};
struct rk_rd {
	rocksdb_t *db;
	rocksdb_readoptions_t *ro;
};

static void rk_ok(char *err, const char *what)
{
	if (err)
		die("rocksdb: %s: %s", what, err);
}

static void *rk_open(const char *dir, int probe)
{
	struct rk *d = calloc(1, sizeof(*d));
	char *err = NULL;

	d->o = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(d->o, 1);
	if (probe) {
		/* Keep the WAL it replays, so that each probe replays the same. */
		rocksdb_options_t *p = rocksdb_options_create();

		rocksdb_get_options_from_string(d->o, "avoid_flush_during_recovery=true", p, &err);
		rk_ok(err, "options");
		rocksdb_options_destroy(d->o);
		d->o = p;
	}
	d->db = rocksdb_open(d->o, dir, &err);
	rk_ok(err, dir);
	d->wo = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(d->wo, 1);
	d->b = rocksdb_writebatch_create();
	return d;
}

static void rk_close(void *p)
{
	struct rk *d = p;

	rocksdb_close(d->db);
	rocksdb_writebatch_destroy(d->b);
	rocksdb_writeoptions_destroy(d->wo);
	rocksdb_options_destroy(d->o);
	free(d);
}

static void rk_put(void *p, const struct rec *r, int n)
{
	struct rk *d = p;
	char *err = NULL;

	rocksdb_writebatch_clear(d->b);
	for (int i = 0; i < n; i++)
		rocksdb_writebatch_put(d->b, (const char *)r[i].key, r[i].klen,
				       (const char *)r[i].val, VAL_LEN);
	rocksdb_write(d->db, d->wo, d->b, &err);
	rk_ok(err, "write");
}

static void *rk_reader(void *p)
{
	struct rk_rd *r = calloc(1, sizeof(*r));

	r->db = ((struct rk *)p)->db;
	r->ro = rocksdb_readoptions_create();
	return r;
}

static void rk_reader_free(void *p)
{
	struct rk_rd *r = p;

	rocksdb_readoptions_destroy(r->ro);
	free(r);
}

static int rk_get(void *p, const uint8_t *prefix, size_t plen, uint8_t *val)
{
	struct rk_rd *r = p;
	uint8_t hi[KEY_MAX];
	rocksdb_iterator_t *it;
	const char *k, *v;
	size_t kl = 0, vl = 0;
	char *err = NULL;
	int found = 0;

	bounds(NULL, hi, prefix, plen);
	rocksdb_readoptions_set_iterate_lower_bound(r->ro, (const char *)prefix, plen);
	it = rocksdb_create_iterator(r->db, r->ro);
	rocksdb_iter_seek_for_prev(it, (const char *)hi, plen + 8);
	if (rocksdb_iter_valid(it)) {
		k = rocksdb_iter_key(it, &kl);
		v = rocksdb_iter_value(it, &vl);
		if (kl == plen + 8 && !memcmp(k, prefix, plen) && vl == VAL_LEN) {
			memcpy(val, v, VAL_LEN);
			found = 1;
		}
	}
	rocksdb_iter_get_error(it, &err);
	rk_ok(err, "iterator");
	rocksdb_iter_destroy(it);
	return found ? 0 : -1;
}

static int rk_get_exact(void *p, const uint8_t *key, size_t klen, uint8_t *val)
{
	struct rk_rd *r = p;
	size_t vl = 0;
	char *err = NULL, *v;

	v = rocksdb_get(r->db, r->ro, (const char *)key, klen, &vl, &err);
	rk_ok(err, "get");
	if (v && vl == VAL_LEN)
		memcpy(val, v, VAL_LEN);
	rocksdb_free(v);
	return v && vl == VAL_LEN ? 0 : -1;
}

static int rk_prop_zero(rocksdb_t *db, const char *name)
{
	char *v = rocksdb_property_value(db, name);
	int zero = v && !strcmp(v, "0");

	rocksdb_free(v);
	return zero;
}

/* Until flushes and compactions are done (2 minutes at most): the state a
 * kernel reaches once a burst of writes is over. */
static void rk_settle(void *p)
{
	struct rk *d = p;
	struct timespec ms100 = { 0, 100000000 };

	for (int i = 0; i < 1200; i++) {
		if (rk_prop_zero(d->db, "rocksdb.compaction-pending") &&
		    rk_prop_zero(d->db, "rocksdb.num-running-compactions") &&
		    rk_prop_zero(d->db, "rocksdb.num-running-flushes") &&
		    rk_prop_zero(d->db, "rocksdb.mem-table-flush-pending"))
			return;
		nanosleep(&ms100, NULL);
	}
}

static const struct engine engines[NENG] = {
	{ "LMDB", lm_open, lm_close, lm_put, lm_reader, lm_reader_free, lm_get, lm_get_exact,
	  no_settle },
	{ "SQLite WAL", sq_open, sq_close, sq_put, sq_reader, sq_reader_free, sq_get, sq_get_exact,
	  no_settle },
	{ "RocksDB", rk_open, rk_close, rk_put, rk_reader, rk_reader_free, rk_get, rk_get_exact,
	  rk_settle },
};

/* ---- measuring */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t proc_field(const char *file, const char *name)
{
	char line[256];
	size_t n = strlen(name);
	uint64_t v = 0;
	FILE *f = fopen(file, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n)) {
			v = strtoull(line + n, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

struct snap {
	double wall, cpu;
	long syncs, wbytes;
};

static void take(struct snap *s)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	s->wall = now();
	s->cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	s->syncs = atomic_load(&nsyncs);
	s->wbytes = atomic_load(&nwritten);
}

struct store {
	const struct engine *e;
	void *db;
	uint32_t *ver;     /* latest version of each key */
	uint64_t rng;
	struct rec *batch;
	char dir[PATH_MAX];
	atomic_int stop;   /* the writer thread: stop, and writes it made */
	long written;
};

/* n random keys (or n times key 0), each its next version, in one durable
 * transaction. */
static void write_batch(struct store *s, int n, int one_key)
{
	for (int i = 0; i < n; i++) {
		unsigned id = one_key ? 0 : (unsigned)(rnd(&s->rng) % NKEYS);

		make_rec(&s->batch[i], id, ++s->ver[id], &s->rng);
	}
	s->e->put(s->db, s->batch, n);
}

struct reads {
	struct store *s;
	double secs;
	int check;          /* compare each version read with s->ver */
	int exact;          /* get_exact of the version in s->ver (check must be set) */
	uint32_t *lat;      /* when set: each read's latency, ns */
	size_t nlat;
	long n, bad;
	uint64_t rng;
};

static void *read_loop(void *p)
{
	struct reads *a = p;
	void *rd = a->s->e->reader(a->s->db);
	uint8_t pre[KEY_MAX], val[VAL_LEN];
	double end = now() + a->secs, t = 0;

	for (a->n = 0; (a->n & 255) || now() < end; a->n++) {
		unsigned id = (unsigned)(rnd(&a->rng) % NKEYS);
		size_t plen = key_prefix(pre, id);
		int rc;

		if (a->exact)
			be64_put(pre + plen, a->s->ver[id]);
		if (a->lat)
			t = now();
		rc = a->exact ? a->s->e->get_exact(rd, pre, plen + 8, val) : a->s->e->get(rd, pre, plen, val);
		if (rc || (a->check && be64(val) != a->s->ver[id]))
			a->bad++;
		if (a->lat && a->nlat < LAT_CAP)
			a->lat[a->nlat++] = (uint32_t)((now() - t) * 1e9);
	}
	a->s->e->reader_free(rd);
	return NULL;
}

static void *write_loop(void *p)
{
	struct store *s = p;

	while (!atomic_load(&s->stop)) {
		write_batch(s, 16, 0);
		s->written += 16;
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static double pct(uint32_t *v, size_t n, double q)
{
	qsort(v, n, sizeof(*v), cmp_u32);
	return n ? v[(size_t)(q * (double)(n - 1))] / 1e3 : 0; /* µs */
}

/* ---- the figures: res[metric][engine][round], medians at the end */

enum {
	M_WRATE, M_WSYNC = M_WRATE + NRUNS, M_WCPU = M_WSYNC + NRUNS, M_WKB = M_WCPU + NRUNS,
	M_R1 = M_WKB + NRUNS, M_R1CPU, M_RX, M_RXCPU, M_R2, M_R2CPU, M_P99, M_P99W, M_P999W, M_WDURING,
	M_LOAD, M_LOADCPU, M_LOADWA, M_SIZE, M_SIZEX, M_WAL, M_OPEN, M_PROBE, M_RSS, M_NMETRIC
};
static double res[M_NMETRIC][NENG][ROUNDS];
/* The write runs: batch size, and whether every write goes to one key (as
 * in tests/bench/memctx.sh, where h2load repeats one context_write). */
static const struct {
	int n, one_key;
} runs[NRUNS] = { { 1, 0 }, { 16, 0 }, { 128, 0 }, { 128, 1 } };

static void set_all(int m, int e, double v)
{
	for (int r = 0; r < ROUNDS; r++)
		res[m][e][r] = v;
}

static void bench_writes(struct store *s, int bi, int round, double secs)
{
	struct snap a, b;
	long w = 0;

	take(&a);
	do {
		write_batch(s, runs[bi].n, runs[bi].one_key);
		w += runs[bi].n;
	} while (now() - a.wall < secs);
	take(&b);
	res[M_WRATE + bi][s->e - engines][round] = (double)w / (b.wall - a.wall);
	res[M_WSYNC + bi][s->e - engines][round] = (double)(b.syncs - a.syncs) / (b.wall - a.wall);
	res[M_WCPU + bi][s->e - engines][round] = (b.cpu - a.cpu) * 1e6 / (double)w;
	res[M_WKB + bi][s->e - engines][round] = (double)(b.wbytes - a.wbytes) / 1024 / (double)w;
}

static void bench_reads(struct store *s, int round, double secs, uint32_t *lat)
{
	int e = (int)(s->e - engines);
	struct reads r[2];
	struct snap a, b;
	pthread_t th[2], wt;
	long bad = 0;

	/* latest version, 1 then 2 threads; then the exact key, 1 thread */
	for (int run = 0; run < 3; run++) {
		int threads = run == 1 ? 2 : 1, m = run == 0 ? M_R1 : run == 1 ? M_R2 : M_RX;
		long n = 0;

		take(&a);
		for (int i = 0; i < threads; i++) {
			r[i] = (struct reads){ .s = s, .secs = secs, .check = 1, .exact = run == 2,
					       .rng = (uint64_t)i * 7 + round };
			pthread_create(&th[i], NULL, read_loop, &r[i]);
		}
		for (int i = 0; i < threads; i++) {
			pthread_join(th[i], NULL);
			n += r[i].n;
			bad += r[i].bad;
		}
		take(&b);
		res[m][e][round] = (double)n / (b.wall - a.wall);
		res[m + 1][e][round] = (b.cpu - a.cpu) * 1e6 / (double)n;
	}
	/* latency alone, then while a writer commits batches of 16 */
	r[0] = (struct reads){ .s = s, .secs = secs, .lat = lat, .rng = 99u + round };
	read_loop(&r[0]);
	res[M_P99][e][round] = pct(lat, r[0].nlat, 0.99);
	bad += r[0].bad;
	s->written = 0;
	atomic_store(&s->stop, 0);
	pthread_create(&wt, NULL, write_loop, s);
	r[0] = (struct reads){ .s = s, .secs = secs, .lat = lat, .rng = 199u + round };
	read_loop(&r[0]);
	atomic_store(&s->stop, 1);
	pthread_join(wt, NULL);
	bad += r[0].bad;
	res[M_P99W][e][round] = pct(lat, r[0].nlat, 0.99);
	res[M_P999W][e][round] = pct(lat, r[0].nlat, 0.999);
	res[M_WDURING][e][round] = (double)s->written / secs;
	if (bad)
		die("%s: %ld reads did not find the latest version", s->e->name, bad);
}

/* ---- files */

/* Bytes allocated to the regular files in dir, and to those named *suffix. */
static uint64_t dir_bytes(const char *dir, const char *suffix, uint64_t *matching)
{
	char path[PATH_MAX + 256];
	uint64_t total = 0;
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);

	if (!d)
		die("%s: %s", dir, strerror(errno));
	*matching = 0;
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		total += (uint64_t)st.st_blocks * 512;
		size_t n = strlen(de->d_name), k = strlen(suffix);

		if (n >= k && !strcmp(de->d_name + n - k, suffix))
			*matching += (uint64_t)st.st_blocks * 512;
	}
	closedir(d);
	return total;
}

/* Drops dir's files from the page cache: the next open reads the disk. */
static void evict(const char *dir)
{
	char path[PATH_MAX + 256];
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		int fd = open(path, O_RDONLY);

		if (fd < 0)
			continue;
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	if (d)
		closedir(d);
}

/* --probe ENGINE DIR VERSIONS, in a fresh process: "open_ms reads_ms
 * rss_kib wal_bytes". ENGINE -1 opens nothing (the process's own RssAnon). */
static int probe(int e, const char *dir, uint64_t versions)
{
	uint8_t pre[KEY_MAX], val[VAL_LEN];
	uint64_t wal = 0, rng = 42;
	double t0, t1, t2;
	void *db = NULL, *rd = NULL;

	if (e >= 0) {
		dir_bytes(dir, ".log", &wal);
		evict(dir);
	}
	t0 = now();
	if (e >= 0) {
		db = engines[e].open(dir, 1);
		rd = engines[e].reader(db);
		if (engines[e].get(rd, pre, key_prefix(pre, 0), val) || be64(val) != versions)
			die("%s: first read failed", engines[e].name);
	}
	t1 = now();
	for (int i = 0; e >= 0 && i < PROBE_READS; i++) {
		unsigned id = (unsigned)(rnd(&rng) % NKEYS);

		if (engines[e].get(rd, pre, key_prefix(pre, id), val) || be64(val) != versions)
			die("%s: read of key %u failed", engines[e].name, id);
	}
	t2 = now();
	printf("%.3f %.3f %llu %llu\n", (t1 - t0) * 1e3, (t2 - t1) * 1e3,
	       (unsigned long long)proc_field("/proc/self/status", "RssAnon:"),
	       (unsigned long long)wal);
	if (e >= 0) {
		engines[e].reader_free(rd);
		engines[e].close(db);
	}
	return 0;
}

static void run_probe(int e, const char *dir, uint64_t versions, double out[4])
{
	char exe[PATH_MAX] = "", cmd[3 * PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FILE *p;

	if (n <= 0)
		die("readlink /proc/self/exe");
	exe[n] = '\0';
	snprintf(cmd, sizeof(cmd), "'%s' --probe %d '%s' %llu", exe, e, dir, (unsigned long long)versions);
	p = popen(cmd, "r");
	if (!p || fscanf(p, "%lf %lf %lf %lf", &out[0], &out[1], &out[2], &out[3]) != 4)
		die("probe failed: %s", cmd);
	if (pclose(p))
		die("probe exited with an error: %s", cmd);
}

/* Part 3: the store holding versions × NKEYS values, one transaction per
 * GROUP keys, their versions interleaved (version-major) as the kernel
 * would write them, until background work is done; *a and *b before and
 * after. */
static void load(struct store *s, uint64_t versions, struct snap *a, struct snap *z)
{
	size_t cap = (size_t)GROUP * versions;
	struct rec *b = malloc(cap * sizeof(*b));

	if (!b)
		die("out of memory");
	take(a);
	for (unsigned g = 0; g < NKEYS / GROUP; g++) {
		size_t n = 0;

		for (uint64_t v = 1; v <= versions; v++)
			for (unsigned k = 0; k < GROUP; k++)
				make_rec(&b[n++], g * GROUP + k, v, &s->rng);
		s->e->put(s->db, b, (int)n);
	}
	s->e->settle(s->db);
	take(z);
	free(b);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v)
{
	double c[ROUNDS];

	memcpy(c, v, sizeof(c));
	qsort(c, ROUNDS, sizeof(c[0]), cmp_double);
	return c[ROUNDS / 2];
}

/* Prints s left-aligned in width columns (s may hold UTF-8). */
static void cell(FILE *f, const char *s, int width)
{
	int chars = 0;

	for (const char *p = s; *p; p++)
		chars += ((unsigned char)*p & 0xc0) != 0x80;
	fprintf(f, "%s%*s", s, width > chars ? width - chars : 0, "");
}

static const char *fs_name(long type)
{
	switch (type) {
	case EXT4_SUPER_MAGIC: return "ext4 (a disk)";
	case XFS_SUPER_MAGIC: return "xfs (a disk)";
	case BTRFS_SUPER_MAGIC: return "btrfs (a disk)";
	case TMPFS_MAGIC: return "tmpfs (memory, NOT a disk: syncs cost nothing)";
	case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
	default: return "unknown";
	}
}

static void table(FILE *f, int md, const char *fs, uint64_t versions, double gb)
{
	static const struct {
		int m;
		const char *label;
		int prec;
	} rows[] = {
		{ M_WRATE, "durable writes/s, batches of 1", 0 },
		{ M_WRATE + 1, "durable writes/s, batches of 16", 0 },
		{ M_WRATE + 2, "durable writes/s, batches of 128", 0 },
		{ M_WSYNC, "fsync+fdatasync calls/s, batches of 1", 0 },
		{ M_WSYNC + 1, "fsync+fdatasync calls/s, batches of 16", 0 },
		{ M_WSYNC + 2, "fsync+fdatasync calls/s, batches of 128", 0 },
		{ M_WCPU, "CPU µs per write, batches of 1", 1 },
		{ M_WCPU + 1, "CPU µs per write, batches of 16", 1 },
		{ M_WCPU + 2, "CPU µs per write, batches of 128", 1 },
		{ M_WKB, "KiB written per write, batches of 1", 1 },
		{ M_WKB + 1, "KiB written per write, batches of 16", 1 },
		{ M_WKB + 2, "KiB written per write, batches of 128", 1 },
		{ M_WRATE + 3, "durable writes/s, batches of 128, one key", 0 },
		{ M_WCPU + 3, "CPU µs per write, batches of 128, one key", 1 },
		{ M_WKB + 3, "KiB written per write, batches of 128, one key", 1 },
		{ M_R1, "reads/s, 1 thread", 0 },
		{ M_R1CPU, "CPU µs per read, 1 thread", 2 },
		{ M_R2, "reads/s, 2 threads", 0 },
		{ M_R2CPU, "CPU µs per read, 2 threads", 2 },
		{ M_RX, "reads/s of an exact key (version known), 1 thread", 0 },
		{ M_RXCPU, "CPU µs per exact-key read, 1 thread", 2 },
		{ M_P99, "read p99 µs, alone", 1 },
		{ M_P99W, "read p99 µs, writer committing", 1 },
		{ M_P999W, "read p99.9 µs, writer committing", 1 },
		{ M_WDURING, "that writer's writes/s (batches of 16)", 0 },
		{ M_LOAD, "big store: time to write it, s (one run)", 1 },
		{ M_LOADCPU, "big store: CPU s to write it (one run)", 1 },
		{ M_LOADWA, "big store: bytes written ÷ bytes stored", 2 },
		{ M_SIZE, "big store on disk, MiB", 0 },
		{ M_SIZEX, "on disk ÷ bytes of keys and values", 2 },
		{ M_WAL, "of which WAL replayed at open, MiB", 1 },
		{ M_OPEN, "cold open + first read, ms", 1 },
		{ M_PROBE, "then 10k random reads (cold), ms", 1 },
		{ M_RSS, "RssAnon after open + 10k reads, MiB", 1 },
	};
	const char *head[] = { "figure", engines[0].name, engines[1].name, engines[2].name,
			       "SQLite ÷ LMDB", "RocksDB ÷ LMDB" };

	if (md)
		fprintf(f, "Filesystem: %s. Big store: %.2f GB of values, %llu versions of each of %d keys. "
			   "Medians of %d rounds.\n\n", fs, gb, (unsigned long long)versions, NKEYS, ROUNDS);
	for (size_t i = 0; i <= sizeof(rows) / sizeof(rows[0]); i++) {
		char buf[NENG + 2][32];
		const char *c[6];
		double m[NENG];

		for (int k = 0; k < 6; k++)
			c[k] = i ? buf[k - 1] : head[k];
		if (i) {
			c[0] = rows[i - 1].label;
			for (int e = 0; e < NENG; e++) {
				m[e] = median(res[rows[i - 1].m][e]);
				snprintf(buf[e], sizeof(buf[e]), "%.*f", rows[i - 1].prec, m[e]);
			}
			for (int e = 1; e < NENG; e++) {
				if (m[0] > 0)
					snprintf(buf[NENG + e - 1], sizeof(buf[0]), "%.2f", m[e] / m[0]);
				else
					snprintf(buf[NENG + e - 1], sizeof(buf[0]), "–");
			}
		}
		for (int k = 0; k < 6; k++) {
			if (md)
				fprintf(f, "| %s ", c[k]);
			else if (k < 5)
				cell(f, c[k], k ? 15 : 52);
			else
				fputs(c[k], f);
		}
		fputs(md ? "|\n" : "\n", f);
		if (md && !i)
			fputs("|---|---:|---:|---:|---:|---:|\n", f);
	}
}

int main(int argc, char **argv)
{
	struct store st[NENG];
	const char *env_gb = getenv("BENCH_STORE_GB"), *env_secs = getenv("BENCH_STORE_SECS");
	double gb = env_gb ? atof(env_gb) : 1.0, secs = env_secs ? atof(env_secs) : 1.0;
	uint64_t versions;
	struct statfs sf;
	double base[4];
	uint32_t *lat;
	FILE *md;

	if (argc == 5 && !strcmp(argv[1], "--probe"))
		return probe(atoi(argv[2]), argv[3], strtoull(argv[4], NULL, 10));
	if (argc != 3 || gb <= 0 || secs <= 0)
		die("usage: bench_store_choice DIR MARKDOWN_FILE (BENCH_STORE_GB, BENCH_STORE_SECS)");
	versions = (uint64_t)(gb * 1e9 / VALUE_BYTES / NKEYS + 0.5);
	if (versions < 1)
		versions = 1;
	if (statfs(argv[1], &sf))
		die("%s: %s", argv[1], strerror(errno));
	lat = malloc(LAT_CAP * sizeof(*lat));
	if (!lat)
		die("out of memory");
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("directory %s on %s; %.1f s windows, %d rounds\n", argv[1], fs_name((long)sf.f_type),
	       secs, ROUNDS);

	/* parts 1 and 2: a warm store of NKEYS keys, one version each */
	for (int e = 0; e < NENG; e++) {
		struct store *s = &st[e];

		*s = (struct store){ .e = &engines[e], .rng = 1 };
		snprintf(s->dir, sizeof(s->dir), "%s/warm-%d", argv[1], e);
		if (mkdir(s->dir, 0700))
			die("%s: %s", s->dir, strerror(errno));
		s->db = s->e->open(s->dir, 0);
		s->ver = calloc(NKEYS, sizeof(*s->ver));
		s->batch = calloc(KEYS_PER_NS, sizeof(*s->batch));
		if (!s->ver || !s->batch)
			die("out of memory");
		for (unsigned n = 0; n < NS; n++) {
			for (unsigned k = 0; k < KEYS_PER_NS; k++)
				make_rec(&s->batch[k], n * KEYS_PER_NS + k, ++s->ver[n * KEYS_PER_NS + k], &s->rng);
			s->e->put(s->db, s->batch, KEYS_PER_NS);
		}
	}
	printf("-- durable writes (each round: batches of 1, 16, 128, 128 to one key; engines in turn)\n");
	for (int r = 0; r < ROUNDS; r++)
		for (int bi = 0; bi < NRUNS; bi++)
			for (int i = 0; i < NENG; i++)
				bench_writes(&st[(i + r) % NENG], bi, r, secs);
	printf("-- reads (1 thread, 2 threads, latency alone and beside a writer)\n");
	for (int e = 0; e < NENG; e++)
		st[e].e->settle(st[e].db); /* no flush or compaction left running */
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < NENG; i++)
			bench_reads(&st[(i + r) % NENG], r, secs, lat);
	for (int e = 0; e < NENG; e++) {
		st[e].e->close(st[e].db);
		free(st[e].batch);
		free(st[e].ver);
	}

	/* parts 3 and 4: the big store */
	for (int e = 0; e < NENG; e++) {
		struct store *s = &st[e];
		uint64_t wal, bytes, logical = (uint64_t)NKEYS * versions * (18 + 8 + VAL_LEN);
		struct snap a, b;

		printf("-- writing %.2f GB of values into %s\n", gb, s->e->name);
		snprintf(s->dir, sizeof(s->dir), "%s/big-%d", argv[1], e);
		if (mkdir(s->dir, 0700))
			die("%s: %s", s->dir, strerror(errno));
		s->db = s->e->open(s->dir, 0);
		load(s, versions, &a, &b);
		set_all(M_LOAD, e, b.wall - a.wall);
		set_all(M_LOADCPU, e, b.cpu - a.cpu);
		set_all(M_LOADWA, e, (double)(b.wbytes - a.wbytes) / (double)logical);
		s->e->close(s->db);
		bytes = dir_bytes(s->dir, ".log", &wal);
		set_all(M_SIZE, e, (double)bytes / (1 << 20));
		set_all(M_SIZEX, e, (double)bytes / (double)logical);
		set_all(M_WAL, e, (double)wal / (1 << 20));
	}
	printf("-- opening it cold in a fresh process, then 10k random reads\n");
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < NENG; i++) {
			int e = (i + r) % NENG;
			double o[4];

			run_probe(e, st[e].dir, versions, o);
			printf("   %-10s open %8.1f ms, 10k reads %8.1f ms, RssAnon %6.1f MiB, WAL %.1f MiB\n",
			       engines[e].name, o[0], o[1], o[2] / 1024, o[3] / (1 << 20));
			res[M_OPEN][e][r] = o[0];
			res[M_PROBE][e][r] = o[1];
			res[M_RSS][e][r] = o[2] / 1024;
		}
	run_probe(-1, argv[1], versions, base);

	putchar('\n');
	table(stdout, 0, fs_name((long)sf.f_type), versions, gb);
	printf("(RssAnon of the same process opening no store: %.1f MiB)\n", base[2] / 1024);
	md = fopen(argv[2], "w");
	if (!md)
		die("%s: %s", argv[2], strerror(errno));
	table(md, 1, fs_name((long)sf.f_type), versions, gb);
	fprintf(md, "\nRssAnon of the same process opening no store: %.1f MiB.\n", base[2] / 1024);
	fclose(md);
	free(lat);
	return 0;
}
