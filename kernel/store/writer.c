/*
 * The store's writer thread: group commit.
 *
 * Jobs queue under one mutex. The writer takes every job queued, runs each
 * one's apply in one write transaction, in order, and commits it: one
 * sync for the group (LMDB's commit syncs the data and then the meta page).
 * While that sync is on its way to the disk the next group gathers, so a
 * busy store makes few, large commits and an idle one answers a single
 * change after one commit. Only then, after the sync, does each job's done
 * run: nothing is answered before it is on stable storage.
 *
 * When LMDB fails under a job's apply (CAM_STORE_BROKEN: the map is full,
 * out of memory), the group is aborted and each of its jobs runs again in
 * a transaction of its own, so only the job that fails fails. When the
 * commit itself fails (no space, an I/O error) no job of the group
 * happened; each is refused with why, counted, and the next group tries
 * again, so writes resume by themselves once the disk has room.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/str.h"
#include "kernel/store/store_int.h"

/* The figures of one commit, good or bad. */
static void record(cam_store *s, int mdb_rc, int code, const char *why, double seconds,
		   uint64_t changes)
{
	pthread_mutex_lock(&s->stats_lock);
	if (mdb_rc == 0) {
		s->st.commits++;
		s->st.changes += changes;
		s->st.last_commit_s = seconds;
		s->st.last_commit_changes = changes;
		s->st.failing = false;
	} else {
		if (code == CAM_ELIMIT)
			s->st.failures_nospace++;
		else
			s->st.failures_io++;
		s->st.failing = true;
		cam_strlcpy(s->st.last_error, why, sizeof(s->st.last_error));
	}
	pthread_mutex_unlock(&s->stats_lock);
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

/* Commits txn; on failure every job of the list that had succeeded is
 * refused with the commit's reason. Returns how many changes it made
 * durable. */
static uint64_t commit(cam_store *s, MDB_txn *txn, struct cam_store_job *list, int64_t t0)
{
	char why[CAM_STORE_WHY];
	uint64_t changes = 0;
	int rc = mdb_txn_commit(txn), code = 0;

	if (rc)
		code = cam_store_fail(rc, s->file, why);
	for (struct cam_store_job *j = list; j; j = j->next)
		if (j->rc == 0) {
			if (!rc) {
				changes++;
				continue;
			}
			j->rc = code;
			memcpy(j->why, why, CAM_STORE_WHY);
		}
	record(s, rc, code, rc ? why : "", (double)(cam_mono_ns() - t0) / 1e9, changes);
	return changes;
}

/* Each job of list in a transaction of its own. */
static void run_alone(cam_store *s, struct cam_store_job *list)
{
	for (struct cam_store_job *j = list; j; j = j->next) {
		struct cam_store_job *next = j->next;
		int64_t t0 = cam_mono_ns();
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
		commit(s, txn, j, t0);
		j->next = next;
	}
}

/* One group: applied in one transaction, committed with one sync, then
 * answered in order. */
static void run_group(cam_store *s, struct cam_store_job *list)
{
	int64_t t0 = cam_mono_ns();
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);

	if (rc) {
		char why[CAM_STORE_WHY];
		int code = cam_store_fail(rc, s->file, why);

		for (struct cam_store_job *j = list; j; j = j->next) {
			j->rc = code;
			memcpy(j->why, why, CAM_STORE_WHY);
		}
		record(s, rc, code, why, 0, 0);
		goto out_done;
	}
	for (struct cam_store_job *j = list; j; j = j->next)
		if (apply_one(j, txn) == CAM_STORE_BROKEN) {
			mdb_txn_abort(txn);
			run_alone(s, list);
			goto out_done;
		}
	commit(s, txn, list, t0);
out_done:
	for (struct cam_store_job *j = list, *next; j; j = next) {
		next = j->next; /* done may free j */
		j->done(j, j->rc);
	}
}

static void *writer_main(void *arg)
{
	cam_store *s = arg;
	struct cam_store_job *list;

	pthread_setname_np(pthread_self(), "cam-store");
	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->cond, &s->lock);
		list = s->head;
		s->head = NULL;
		s->tail = &s->head;
		pthread_mutex_unlock(&s->lock);
		if (!list)
			return NULL; /* stopping, and nothing left */
		run_group(s, list);
	}
}

int cam_store__writer_start(cam_store *s)
{
	if (pthread_create(&s->writer, NULL, writer_main, s))
		return CAM_EIO;
	s->writer_started = true;
	return 0;
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
	s->writer_started = false;
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
