/*
 * The store's writer and syncer threads: group commit, in two stages.
 *
 * Jobs queue under one mutex. The writer takes every job queued, runs each
 * one's apply in one write transaction, in order, and commits it. The
 * environment is opened with MDB_NOMETASYNC, so LMDB's commit syncs the
 * transaction's pages (and with them the meta page of the commit before)
 * but writes its own meta page without waiting for it: the database stays
 * whole through any crash, and the commit is durable once the file is
 * synced again. That second sync is the syncer's: it takes every group
 * the writer committed since its last sync, makes them durable with one
 * fdatasync, and only then runs each job's done, in order. While it syncs,
 * the writer is already applying and committing the next group, so a busy
 * store overlaps its two syncs instead of waiting for both in turn, and
 * nothing is answered before it is on stable storage.
 *
 * Readers may see a committed change a moment before the syncer has made
 * it durable (as clients of Redis with appendfsync always may); the change
 * is answered to its writer only after.
 *
 * When LMDB fails under a job's apply (CAM_STORE_BROKEN: the map is full,
 * out of memory), the group is aborted and each of its jobs runs again in
 * a transaction of its own, so only the job that fails fails. When the
 * commit fails (no space, an I/O error) no job of the group happened; each
 * is refused with why, counted, and the next group tries again, so writes
 * resume by themselves once the disk has room. When the syncer's sync
 * fails, the changes it was to make durable are refused (UNAVAILABLE: they
 * may or may not survive a power cut) and the store is marked failing.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "kernel/store/store_int.h"

/* Jobs the writer is done with, for the syncer. */
struct store_group {
	struct cam_store_job *jobs;
	uint64_t changes;      /* jobs committed (rc 0) */
	int64_t t0;            /* CLOCK_MONOTONIC the writer took them */
	struct store_group *next;
};

/* The figures of one commit or sync, good or bad. */
static void record(cam_store *s, int failed_code, const char *why, double seconds,
		   uint64_t changes, bool synced)
{
	pthread_mutex_lock(&s->stats_lock);
	if (!failed_code) {
		if (synced) {
			s->st.syncs++;
			s->st.changes += changes;
			s->st.last_commit_s = seconds;
			s->st.last_commit_changes = changes;
		} else {
			s->st.commits++;
			s->st.syncs++; /* LMDB's own, of the pages */
		}
		s->st.failing = false;
	} else {
		if (failed_code == CAM_ELIMIT)
			s->st.failures_nospace++;
		else
			s->st.failures_io++;
		s->st.failing = true;
		cam_strlcpy(s->st.last_error, why, sizeof(s->st.last_error));
	}
	pthread_mutex_unlock(&s->stats_lock);
}

/* Refuses every job of list that had succeeded with code and why. */
static void refuse_ok(struct cam_store_job *list, int code, const char *why)
{
	for (struct cam_store_job *j = list; j; j = j->next)
		if (j->rc == 0) {
			j->rc = code;
			memcpy(j->why, why, CAM_STORE_WHY);
		}
}

static uint64_t count_ok(const struct cam_store_job *list)
{
	uint64_t n = 0;

	for (; list; list = list->next)
		n += list->rc == 0;
	return n;
}

/* Runs j's apply in txn unless its deadline has passed; j->rc gets the
 * code. Returns CAM_STORE_BROKEN when LMDB failed under it. */
static int apply_one(struct cam_store_job *j, MDB_txn *txn)
{
	if (j->deadline_ns && cam_mono_ns() >= j->deadline_ns) {
		cam_store__say(j->why, "deadline passed before the change was made");
		j->rc = CAM_ETIMEDOUT;
		return 0;
	}
	j->mdb_rc = 0;
	j->rc = j->apply(j, txn);
	return j->rc == CAM_STORE_BROKEN ? CAM_STORE_BROKEN : 0;
}

/* LMDB turns a short write into EIO: on a file system with no room left,
 * that is a full disk, and says so. */
static int full_or(cam_store *s, int rc)
{
	struct statvfs vfs;

	if (rc == EIO && statvfs(s->dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < (1u << 20))
		return ENOSPC;
	return rc;
}

/* Commits txn; on failure every job of list that had succeeded is refused
 * with the commit's reason. */
static void commit(cam_store *s, MDB_txn *txn, struct cam_store_job *list)
{
	char why[CAM_STORE_WHY];
	int rc = full_or(s, mdb_txn_commit(txn)), code = 0;

	if (rc) {
		code = cam_store_fail(rc, s->file, why);
		refuse_ok(list, code, why);
	}
	record(s, code, why, 0, 0, false);
}

/* Each job of list in a transaction of its own. */
static void run_alone(cam_store *s, struct cam_store_job *list)
{
	for (struct cam_store_job *j = list; j; j = j->next) {
		struct cam_store_job *next = j->next;
		MDB_txn *txn;
		int rc = mdb_txn_begin(s->env, NULL, 0, &txn);

		if (rc) {
			j->rc = cam_store_fail(rc, s->file, j->why);
			continue;
		}
		if (apply_one(j, txn) == CAM_STORE_BROKEN) {
			mdb_txn_abort(txn);
			j->rc = cam_store_fail(j->mdb_rc, s->file, j->why);
			continue;
		}
		j->next = NULL; /* commit refuses this job alone */
		commit(s, txn, j);
		j->next = next;
	}
}

/* One group: applied in one transaction and committed. */
static void run_group(cam_store *s, struct cam_store_job *list)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);

	if (rc) {
		char why[CAM_STORE_WHY];
		int code = cam_store_fail(rc, s->file, why);

		for (struct cam_store_job *j = list; j; j = j->next) {
			j->rc = code;
			memcpy(j->why, why, CAM_STORE_WHY);
		}
		record(s, code, why, 0, 0, false);
		return;
	}
	for (struct cam_store_job *j = list; j; j = j->next)
		if (apply_one(j, txn) == CAM_STORE_BROKEN) {
			mdb_txn_abort(txn);
			run_alone(s, list);
			return;
		}
	commit(s, txn, list);
}

/* Hands a group the writer is done with to the syncer. */
static void to_syncer(cam_store *s, struct cam_store_job *list, int64_t t0)
{
	struct store_group *g = cam_xmalloc(sizeof(*g));

	*g = (struct store_group){ list, count_ok(list), t0, NULL };
	pthread_mutex_lock(&s->lock);
	*s->sync_tail = g;
	s->sync_tail = &g->next;
	pthread_cond_broadcast(&s->sync_cond);
	pthread_mutex_unlock(&s->lock);
}

static void *writer_main(void *arg)
{
	cam_store *s = arg;
	struct cam_store_job *list;
	int64_t t0;

	pthread_setname_np(pthread_self(), "cam-store");
	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->cond, &s->lock);
		list = s->head;
		s->head = NULL;
		s->tail = &s->head;
		if (!list) { /* stopping, and nothing left */
			s->writer_done = true;
			pthread_cond_broadcast(&s->sync_cond);
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		pthread_mutex_unlock(&s->lock);
		t0 = cam_mono_ns();
		run_group(s, list);
		to_syncer(s, list, t0);
	}
}

/* Makes every group of gs durable with one sync, then answers their jobs
 * in order and frees the groups. */
static void sync_groups(cam_store *s, struct store_group *gs)
{
	char why[CAM_STORE_WHY];
	uint64_t changes = 0;
	int rc = 0, code = 0;

	for (struct store_group *g = gs; g; g = g->next)
		changes += g->changes;
	if (changes && (rc = mdb_env_sync(s->env, 1))) {
		code = cam_store_fail(rc, s->file, why);
		if (code != CAM_EPERM)
			code = CAM_EIO;
		cam_store__say(why, "the change was committed to %s but the sync that makes it "
			       "durable failed (%s): it may not survive a power cut", s->file,
			       mdb_strerror(rc));
		for (struct store_group *g = gs; g; g = g->next)
			refuse_ok(g->jobs, CAM_EUNAVAIL, why);
	}
	if (changes || code)
		record(s, code, why, (double)(cam_mono_ns() - gs->t0) / 1e9, changes, true);
	for (struct store_group *g = gs, *gn; g; g = gn) {
		gn = g->next;
		for (struct cam_store_job *j = g->jobs, *next; j; j = next) {
			next = j->next; /* done may free j */
			j->done(j, j->rc);
		}
		free(g);
	}
}

static void *syncer_main(void *arg)
{
	cam_store *s = arg;
	struct store_group *gs;

	pthread_setname_np(pthread_self(), "cam-store-sync");
	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (!s->sync_head && !s->writer_done)
			pthread_cond_wait(&s->sync_cond, &s->lock);
		gs = s->sync_head;
		s->sync_head = NULL;
		s->sync_tail = &s->sync_head;
		pthread_mutex_unlock(&s->lock);
		if (!gs)
			return NULL; /* the writer has ended, and nothing is left */
		sync_groups(s, gs);
	}
}

int cam_store__writer_start(cam_store *s)
{
	pthread_cond_init(&s->sync_cond, NULL);
	s->sync_tail = &s->sync_head;
	if (pthread_create(&s->syncer, NULL, syncer_main, s))
		goto out_cond;
	s->syncer_started = true;
	if (pthread_create(&s->writer, NULL, writer_main, s))
		goto out_syncer;
	s->writer_started = true;
	return 0;
out_syncer:
	pthread_mutex_lock(&s->lock);
	s->writer_done = true;
	pthread_cond_broadcast(&s->sync_cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->syncer, NULL);
	s->syncer_started = false;
out_cond:
	pthread_cond_destroy(&s->sync_cond);
	return CAM_EIO;
}

void cam_store__writer_stop(cam_store *s)
{
	if (!s->writer_started)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->writer, NULL);
	pthread_join(s->syncer, NULL);
	pthread_cond_destroy(&s->sync_cond);
	s->writer_started = s->syncer_started = false;
}

void cam_store_submit(cam_store *s, struct cam_store_job *j)
{
	bool refused;

	j->next = NULL;
	j->rc = 0;
	pthread_mutex_lock(&s->lock);
	refused = s->stopping;
	if (!refused) {
		*s->tail = j;
		s->tail = &j->next;
		if (s->head == j)
			pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	if (refused) {
		cam_store__say(j->why, "the store is closing");
		j->done(j, CAM_EUNAVAIL);
	}
}

struct store_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int rc;
};

static void wake(struct cam_store_job *j, int rc)
{
	struct store_wait *w = j->wait;

	pthread_mutex_lock(&w->lock);
	w->rc = rc;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int cam_store_run(cam_store *s, struct cam_store_job *j)
{
	struct store_wait w = { .lock = PTHREAD_MUTEX_INITIALIZER,
				.cond = PTHREAD_COND_INITIALIZER };

	j->done = wake;
	j->wait = &w;
	cam_store_submit(s, j);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return w.rc;
}
