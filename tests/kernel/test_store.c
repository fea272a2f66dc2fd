/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kernel/store/: a store is opened only when it can be read
 * (and a refused one is left byte for byte as it was), jobs commit in
 * groups and are answered after their commit, a refused job changes
 * nothing, and a copy taken while jobs run holds every change committed
 * before it. */
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "kernel/store/store.h"

static char dir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cam-test-store-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static cam_store *open_at(const char *d)
{
	struct cam_store_opts o = { .dir = d, .map_bytes = 32 << 20 };
	char why[CAM_STORE_WHY];
	cam_store *s;

	if (cam_store_open(&o, &s, why))
		fail_msg("cam_store_open %s: %s", d, why);
	return s;
}

/* A job that puts key -> value in the "t" database. */
struct put_job {
	struct cam_store_job job;
	MDB_dbi db;
	char key[32], val[32];
	bool refuse;
	int rc;
	char why[CAM_STORE_WHY];
};

static int put_apply(struct cam_store_job *job, MDB_txn *txn)
{
	struct put_job *p = (struct put_job *)job;
	MDB_val k = { strlen(p->key), p->key }, v = { strlen(p->val), p->val };
	int rc;

	if (p->refuse)
		return CAM_EINVAL;
	if ((rc = mdb_put(txn, p->db, &k, &v, 0))) {
		job->mdb_rc = rc;
		return CAM_STORE_BROKEN;
	}
	return 0;
}

static int put(cam_store *s, MDB_dbi db, const char *key, const char *val, bool refuse)
{
	struct put_job p = { .job = { .apply = put_apply }, .db = db, .refuse = refuse };

	p.job.why = p.why;
	snprintf(p.key, sizeof(p.key), "%s", key);
	snprintf(p.val, sizeof(p.val), "%s", val);
	return cam_store_run(s, &p.job);
}

/* The value of key in db as of the last commit, or NULL. */
static char *get(cam_store *s, MDB_dbi db, const char *key, char *buf)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	MDB_txn *txn;
	int rc;

	assert_int_equal(cam_store_read_begin(s, &txn), 0);
	rc = mdb_get(txn, db, &k, &v);
	if (rc == 0) {
		memcpy(buf, v.mv_data, v.mv_size);
		buf[v.mv_size] = '\0';
	}
	cam_store_read_end(s, txn);
	return rc ? NULL : buf;
}

static void test_put_reopen(void **state)
{
	char sub[128], buf[64];
	cam_store *s;
	MDB_dbi db;
	char why[CAM_STORE_WHY];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/a", dir);
	s = open_at(sub);
	assert_int_equal(cam_store_dbi(s, "t", &db, why), 0);
	assert_int_equal(put(s, db, "k", "v1", false), 0);
	assert_int_equal(put(s, db, "k", "v2", true), CAM_EINVAL); /* refused: nothing changes */
	assert_string_equal(get(s, db, "k", buf), "v1");
	cam_store_close(s);
	s = open_at(sub);
	assert_int_equal(cam_store_dbi(s, "t", &db, why), 0);
	assert_string_equal(get(s, db, "k", buf), "v1");
	cam_store_close(s);
}

/* Jobs submitted from many threads at once share commits. */
#define THREADS 8
#define PER_THREAD 200
struct writer_arg {
	cam_store *s;
	MDB_dbi db;
	int id;
};

static void *writer(void *p)
{
	struct writer_arg *a = p;
	char k[32];

	for (int i = 0; i < PER_THREAD; i++) {
		snprintf(k, sizeof(k), "w%d-%d", a->id, i);
		if (put(a->s, a->db, k, "x", false))
			return (void *)1;
	}
	return NULL;
}

static void test_group_commit(void **state)
{
	struct writer_arg a[THREADS];
	pthread_t t[THREADS];
	struct cam_store_stats st;
	char sub[128], why[CAM_STORE_WHY], buf[64];
	cam_store *s;
	MDB_dbi db;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/g", dir);
	s = open_at(sub);
	assert_int_equal(cam_store_dbi(s, "t", &db, why), 0);
	for (int i = 0; i < THREADS; i++) {
		a[i] = (struct writer_arg){ s, db, i };
		pthread_create(&t[i], NULL, writer, &a[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		void *rc;
		pthread_join(t[i], &rc);
		assert_null(rc);
	}
	cam_store_stats(s, &st);
	assert_int_equal(st.changes, THREADS * PER_THREAD);
	/* 8 threads each waiting for its commit: most commits carry several */
	assert_true(st.commits < st.changes);
	assert_string_equal(get(s, db, "w7-199", buf), "x");
	cam_store_close(s);
}

/* A file's bytes, to compare whole. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Opening is refused with the path named, and the directory's files are
 * exactly as they were. */
static void assert_refused(const char *sub, const char *words)
{
	struct cam_store_opts o = { .dir = sub, .map_bytes = 32 << 20 };
	char why[CAM_STORE_WHY], file[160], lock[160];
	size_t before_len, after_len;
	char *before, *after;
	cam_store *s;

	snprintf(file, sizeof(file), "%s/data.mdb", sub);
	snprintf(lock, sizeof(lock), "%s/lock.mdb", sub);
	unlink(lock);
	before = slurp(file, &before_len);
	assert_int_equal(cam_store_open(&o, &s, why), CAM_EDATALOSS);
	assert_non_null(strstr(why, file));
	if (!strstr(why, words))
		fail_msg("'%s' does not say '%s'", why, words);
	after = slurp(file, &after_len);
	assert_int_equal(before_len, after_len);
	assert_memory_equal(before, after, before_len);
	assert_int_equal(access(lock, F_OK), -1); /* not even a lock file made */
	free(before);
	free(after);
}

static void make_store(const char *sub)
{
	char why[CAM_STORE_WHY];
	cam_store *s = open_at(sub);
	MDB_dbi db;

	assert_int_equal(cam_store_dbi(s, "t", &db, why), 0);
	for (int i = 0; i < 50; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		assert_int_equal(put(s, db, k, "value", false), 0);
	}
	cam_store_close(s);
}

static void overwrite(const char *file, off_t at, const char *bytes, size_t n)
{
	int fd = open(file, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, n, at), (ssize_t)n);
	close(fd);
}

static void test_refuses_corrupt_header(void **state)
{
	char sub[128], file[160], junk[64];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/corrupt", dir);
	make_store(sub);
	snprintf(file, sizeof(file), "%s/data.mdb", sub);
	memset(junk, 0x5a, sizeof(junk));
	overwrite(file, 0, junk, sizeof(junk));       /* both meta pages' magic */
	overwrite(file, 4096, junk, sizeof(junk));
	assert_refused(sub, "not a store");
}

static void test_refuses_cut_short(void **state)
{
	char sub[128], file[160];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/short", dir);
	make_store(sub);
	snprintf(file, sizeof(file), "%s/data.mdb", sub);
	assert_int_equal(truncate(file, 3 * 4096), 0);
	assert_refused(sub, "cut short");
}

/* Another layout version, or an LMDB file of somebody else's. */
static void test_refuses_other_format(void **state)
{
	char sub[128], why[CAM_STORE_WHY];
	uint32_t f = CAM_STORE_FORMAT + 1;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	MDB_val k = { 6, "format" }, v = { sizeof(f), &f };

	(void)state;
	snprintf(sub, sizeof(sub), "%s/future", dir);
	make_store(sub);
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 4);
	assert_int_equal(mdb_env_open(env, sub, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_refused(sub, "format version 2");

	snprintf(sub, sizeof(sub), "%s/foreign", dir);
	mkdir(sub, 0700);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, sub, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &meta), 0);
	assert_int_equal(mdb_put(txn, meta, &(MDB_val){ 1, "a" }, &(MDB_val){ 1, "b" }, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_refused(sub, "no cam-os store");
	(void)why;
}

/* A copy taken while a writer runs holds everything committed before it
 * began, opens as a store, and a second copy into it is refused. */
struct bg {
	cam_store *s;
	MDB_dbi db;
	atomic_int stop;
	atomic_int n;
};

static void *bg_writer(void *p)
{
	struct bg *b = p;
	char k[32];

	while (!atomic_load(&b->stop)) {
		snprintf(k, sizeof(k), "bg%d", atomic_load(&b->n));
		if (put(b->s, b->db, k, "y", false))
			return (void *)1;
		atomic_fetch_add(&b->n, 1);
	}
	return NULL;
}

static void test_copy_while_writing(void **state)
{
	char sub[128], dest[128], why[CAM_STORE_WHY], buf[64];
	struct bg b = { 0 };
	uint64_t bytes;
	pthread_t t;
	cam_store *s, *c;
	MDB_dbi db;
	int before;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/live", dir);
	snprintf(dest, sizeof(dest), "%s/backups/one", dir);
	s = open_at(sub);
	assert_int_equal(cam_store_dbi(s, "t", &db, why), 0);
	b.s = s;
	b.db = db;
	pthread_create(&t, NULL, bg_writer, &b);
	while (atomic_load(&b.n) < 100)
		usleep(1000);
	before = atomic_load(&b.n);
	assert_int_equal(cam_store_copy(s, dest, &bytes, why), 0);
	assert_true(bytes > 0);
	assert_int_equal(cam_store_copy(s, dest, &bytes, why), CAM_EEXIST);
	atomic_store(&b.stop, 1);
	pthread_join(t, NULL);
	cam_store_close(s);
	c = open_at(dest);
	assert_int_equal(cam_store_dbi(c, "t", &db, why), 0);
	for (int i = 0; i < before; i++) {
		char k[32];
		snprintf(k, sizeof(k), "bg%d", i);
		assert_non_null(get(c, db, k, buf));
	}
	cam_store_close(c);

	/* the same from outside, as cam-kernel --backup does */
	snprintf(dest, sizeof(dest), "%s/backups/two", dir);
	assert_int_equal(cam_store_backup(sub, dest, &bytes, why), 0);
	c = open_at(dest);
	assert_int_equal(cam_store_dbi(c, "t", &db, why), 0);
	assert_non_null(get(c, db, "bg0", buf));
	cam_store_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_reopen),
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_refuses_corrupt_header),
		cmocka_unit_test(test_refuses_cut_short),
		cmocka_unit_test(test_refuses_other_format),
		cmocka_unit_test(test_copy_while_writing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
