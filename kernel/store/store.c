/*
 * The kernel's durable state (store.h): opening a store only when it can
 * be read, named databases, each thread's reusable read transaction, and
 * the figures and health the writer keeps.
 *
 * Locks: readers_lock guards the list of read transactions (taken when a
 * thread reads for the first time or ends); stats_lock the writer's
 * figures. Reads themselves take no lock.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/store/store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "common/error.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "kernel/store/store_int.h"

/* A thread's read transaction, reset between reads, ended with the thread
 * or the store. */
struct store_reader {
	cam_store *s;
	MDB_txn *txn;
	struct store_reader *next, **pprev;
};

static const char FORMAT_KEY[] = "format";

void cam_store__say(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, CAM_STORE_WHY, fmt, ap);
	va_end(ap);
}

int cam_store_fail(int mdb_rc, const char *path, char *why)
{
	switch (mdb_rc) {
	case ENOSPC:
	case EDQUOT:
		cam_store__say(why, "no space left on the device of %s", path);
		return CAM_ELIMIT;
	case MDB_MAP_FULL:
		cam_store__say(why, "store %s reached its map size (raise CAM_MEMCTX_MAX_BYTES)",
			 path);
		return CAM_ELIMIT;
	case MDB_TXN_FULL:
		cam_store__say(why, "change too large for one transaction of %s", path);
		return CAM_ELIMIT;
	case EACCES:
	case EPERM:
	case EROFS:
		cam_store__say(why, "cannot write %s: %s", path, mdb_strerror(mdb_rc));
		return CAM_EPERM;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
		cam_store__say(why, "store %s is corrupt: %s", path, mdb_strerror(mdb_rc));
		return CAM_EDATALOSS;
	default:
		cam_store__say(why, "I/O error on %s: %s", path, mdb_strerror(mdb_rc));
		return CAM_EIO;
	}
}

int cam_store__env_open(const char *dir, uint64_t map_bytes, unsigned flags, MDB_env **out,
			char *why)
{
	MDB_env *env;
	int rc;

	if ((rc = mdb_env_create(&env)))
		return cam_store_fail(rc, dir, why);
	mdb_env_set_maxdbs(env, 16);
	mdb_env_set_maxreaders(env, 1024);
	if (map_bytes && (rc = mdb_env_set_mapsize(env, (size_t)map_bytes)))
		goto out_close;
	if ((rc = mdb_env_open(env, dir, flags | MDB_NOTLS, 0600)))
		goto out_close;
	*out = env;
	return 0;
out_close:
	mdb_env_close(env);
	if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
		cam_store__say(why, "%s/data.mdb is not a store this cam-kernel can read (%s); "
			 "nothing was changed: move it away or put a backup in its place", dir,
			 mdb_strerror(rc));
		return CAM_EDATALOSS;
	}
	return cam_store_fail(rc, dir, why);
}

/* Every named database's root can be read: a corrupt tree top is found at
 * start, not by the first call that reaches it. */
static int check_trees(MDB_txn *txn, const char *file, char *why)
{
	MDB_dbi main_db, dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_stat st;
	char name[64];
	int rc;

	if ((rc = mdb_dbi_open(txn, NULL, 0, &main_db)) || (rc = mdb_cursor_open(txn, main_db, &cur)))
		goto out_corrupt;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		if (k.mv_size == 0 || k.mv_size >= sizeof(name))
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if ((rc = mdb_dbi_open(txn, name, 0, &dbi)) || (rc = mdb_stat(txn, dbi, &st)))
			break;
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return 0;
out_corrupt:
	cam_store__say(why, "%s is corrupt (%s); nothing was changed: put a backup in its "
		 "place", file, mdb_strerror(rc));
	return CAM_EDATALOSS;
}

/* The format version in "meta": 0, or CAM_EDATALOSS with why. */
static int check_format(MDB_txn *txn, const char *file, char *why)
{
	MDB_dbi meta;
	MDB_val k = { sizeof(FORMAT_KEY) - 1, (void *)FORMAT_KEY }, v;
	uint32_t f;
	int rc = mdb_dbi_open(txn, "meta", 0, &meta);

	if (rc == 0)
		rc = mdb_get(txn, meta, &k, &v);
	if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size != sizeof(f))) {
		cam_store__say(why, "%s is an LMDB file but holds no cam-os store (no format "
			 "record); nothing was changed", file);
		return CAM_EDATALOSS;
	}
	if (rc)
		return check_trees(txn, file, why) ? CAM_EDATALOSS
						     : cam_store_fail(rc, file, why);
	memcpy(&f, v.mv_data, sizeof(f));
	if (f != CAM_STORE_FORMAT) {
		cam_store__say(why, "%s has store format version %u; this cam-kernel reads "
			 "version %d only; nothing was changed", file, f, CAM_STORE_FORMAT);
		return CAM_EDATALOSS;
	}
	return check_trees(txn, file, why);
}

int cam_store__validate(const char *dir, bool *is_new, char *why)
{
	char file[PATH_MAX + 16];
	struct stat st;
	MDB_env *env;
	MDB_envinfo info;
	MDB_stat mst;
	MDB_txn *txn;
	MDB_dbi main_db;
	int rc;

	*is_new = false;
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	if (stat(file, &st)) {
		if (errno == ENOENT) {
			*is_new = true;
			return 0;
		}
		return cam_store_fail(errno, file, why);
	}
	if (!S_ISREG(st.st_mode)) {
		cam_store__say(why, "%s is not a regular file", file);
		return CAM_EDATALOSS;
	}
	if (st.st_size == 0) { /* made, never written: nothing to lose */
		*is_new = true;
		return 0;
	}
	if ((rc = cam_store__env_open(dir, 0, MDB_RDONLY | MDB_NOLOCK, &env, why)))
		return rc;
	mdb_env_info(env, &info);
	mdb_env_stat(env, &mst);
	if ((uint64_t)st.st_size < ((uint64_t)info.me_last_pgno + 1) * mst.ms_psize) {
		cam_store__say(why, "%s is cut short: %lld bytes where its last page ends at "
			 "%llu; nothing was changed: put a backup in its place", file,
			 (long long)st.st_size,
			 ((unsigned long long)info.me_last_pgno + 1) * mst.ms_psize);
		rc = CAM_EDATALOSS;
		goto out_close;
	}
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))) {
		rc = cam_store_fail(rc, file, why);
		goto out_close;
	}
	if (mdb_dbi_open(txn, NULL, 0, &main_db) == 0 && mdb_stat(txn, main_db, &mst) == 0 &&
	    mst.ms_entries == 0)
		*is_new = true; /* made, never written: nothing to lose */
	else
		rc = check_format(txn, file, why);
	mdb_txn_abort(txn);
out_close:
	mdb_env_close(env);
	return rc;
}

/* A new store's format record, or nothing for an old one. */
static int write_format(cam_store *s, bool is_new, char *why)
{
	uint32_t f = CAM_STORE_FORMAT;
	MDB_val k = { sizeof(FORMAT_KEY) - 1, (void *)FORMAT_KEY }, v = { sizeof(f), &f };
	MDB_txn *txn;
	MDB_dbi meta;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
		return cam_store_fail(rc, s->file, why);
	rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &meta);
	if (rc == 0 && is_new)
		rc = mdb_put(txn, meta, &k, &v, 0);
	if (rc) {
		mdb_txn_abort(txn);
		return cam_store_fail(rc, s->file, why);
	}
	if ((rc = mdb_txn_commit(txn)) || (rc = mdb_env_sync(s->env, 1)))
		return cam_store_fail(rc, s->file, why);
	return 0;
}

static void reader_gone(void *p)
{
	struct store_reader *r = p;

	pthread_mutex_lock(&r->s->readers_lock);
	if ((*r->pprev = r->next))
		r->next->pprev = r->pprev;
	pthread_mutex_unlock(&r->s->readers_lock);
	mdb_txn_abort(r->txn);
	free(r);
}

int cam_store_open(const struct cam_store_opts *o, cam_store **out, char *why)
{
	cam_store *s;
	bool is_new;
	int dead, rc;

	if (strlen(o->dir) >= PATH_MAX) {
		cam_store__say(why, "store path too long");
		return CAM_EINVAL;
	}
	if (mkdir(o->dir, 0700) && errno != EEXIST)
		return cam_store_fail(errno, o->dir, why);
	if ((rc = cam_store__validate(o->dir, &is_new, why)))
		return rc;
	s = cam_xcalloc(1, sizeof(*s));
	cam_strlcpy(s->dir, o->dir, sizeof(s->dir));
	snprintf(s->file, sizeof(s->file), "%s/data.mdb", o->dir);
	/* MDB_NOMETASYNC: a commit's meta page is made durable by the next
	 * sync, the syncer's (writer.c); what opening itself commits is synced
	 * here before anything depends on it. */
	if ((rc = cam_store__env_open(o->dir, o->map_bytes, MDB_NOMETASYNC, &s->env, why)))
		goto out_free;
	mdb_reader_check(s->env, &dead); /* slots of a kernel killed while reading */
	if ((rc = write_format(s, is_new, why)))
		goto out_close;
	pthread_key_create(&s->reader_key, reader_gone);
	pthread_mutex_init(&s->readers_lock, NULL);
	pthread_mutex_init(&s->stats_lock, NULL);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->tail = &s->head;
	if ((rc = cam_store__writer_start(s))) {
		cam_store__say(why, "cannot start the store's writer thread");
		goto out_destroy;
	}
	*out = s;
	return 0;
out_destroy:
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->stats_lock);
	pthread_mutex_destroy(&s->readers_lock);
	pthread_key_delete(s->reader_key);
out_close:
	mdb_env_close(s->env);
out_free:
	free(s);
	return rc;
}

void cam_store_close(cam_store *s)
{
	if (!s)
		return;
	cam_store__writer_stop(s);
	pthread_key_delete(s->reader_key);
	pthread_mutex_lock(&s->readers_lock);
	for (struct store_reader *r = s->readers, *next; r; r = next) {
		next = r->next;
		mdb_txn_abort(r->txn);
		free(r);
	}
	pthread_mutex_unlock(&s->readers_lock);
	mdb_env_close(s->env);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->stats_lock);
	pthread_mutex_destroy(&s->readers_lock);
	free(s);
}

const char *cam_store_path(const cam_store *s)
{
	return s->file;
}

int cam_store_dbi(cam_store *s, const char *name, MDB_dbi *out, char *why)
{
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
		return cam_store_fail(rc, s->file, why);
	if ((rc = mdb_dbi_open(txn, name, MDB_CREATE, out))) {
		mdb_txn_abort(txn);
		return cam_store_fail(rc, s->file, why);
	}
	if ((rc = mdb_txn_commit(txn)) || (rc = mdb_env_sync(s->env, 1)))
		return cam_store_fail(rc, s->file, why);
	return 0;
}

int cam_store_read_begin(cam_store *s, MDB_txn **txn)
{
	struct store_reader *r = pthread_getspecific(s->reader_key);
	int rc;

	if (r) {
		if ((rc = mdb_txn_renew(r->txn)))
			return rc;
		*txn = r->txn;
		return 0;
	}
	r = cam_xcalloc(1, sizeof(*r));
	r->s = s;
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn))) {
		free(r);
		return rc;
	}
	pthread_mutex_lock(&s->readers_lock);
	if ((r->next = s->readers))
		r->next->pprev = &r->next;
	s->readers = r;
	r->pprev = &s->readers;
	pthread_mutex_unlock(&s->readers_lock);
	pthread_setspecific(s->reader_key, r);
	*txn = r->txn;
	return 0;
}

void cam_store_read_end(cam_store *s, MDB_txn *txn)
{
	(void)s;
	mdb_txn_reset(txn);
}

void cam_store_stats(cam_store *s, struct cam_store_stats *out)
{
	struct statvfs vfs;
	struct stat st;

	pthread_mutex_lock(&s->stats_lock);
	*out = s->st;
	pthread_mutex_unlock(&s->stats_lock);
	out->file_bytes = stat(s->file, &st) == 0 ? (uint64_t)st.st_size : 0;
	out->free_bytes = statvfs(s->dir, &vfs) == 0 ? (uint64_t)vfs.f_bavail * vfs.f_frsize : 0;
}

enum cam_component_status cam_store_health(cam_store *s, char *msg, size_t len)
{
	struct cam_store_stats st;

	cam_store_stats(s, &st);
	if (st.failing) {
		snprintf(msg, len, "lmdb %s: changes refused, the last commit failed: %s; %.1f MiB free",
			 s->file, st.last_error, (double)st.free_bytes / (1 << 20));
		return CAM_COMPONENT_DEGRADED;
	}
	snprintf(msg, len, "lmdb %s: %.1f MiB stored, %.1f MiB free, last commit durable in "
		 "%.3f ms (%llu changes)", s->file, (double)st.file_bytes / (1 << 20),
		 (double)st.free_bytes / (1 << 20), st.last_commit_s * 1e3,
		 (unsigned long long)st.last_commit_changes);
	return CAM_COMPONENT_HEALTHY;
}
