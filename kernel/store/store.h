/*
 * The kernel's durable state: one LMDB environment in <data dir>/store
 * (data.mdb, lock.mdb), shared by the subsystems that must keep something
 * across restarts (the context store's named databases, registered
 * agents). LMDB is a copy-on-write B+tree in one memory-mapped file: a
 * committed transaction survives a crash or a power cut, a reader sees a
 * snapshot and never waits for the writer, and nothing is replayed at
 * start.
 *
 * Writes go through one writer thread that commits in groups, and a syncer
 * thread that makes them durable (writer.c): every job submitted while the
 * previous group was on its way to the disk shares the next transaction
 * and its syncs, and each job's done runs (on the syncer) only once its
 * change is on stable storage, or has failed.
 *
 * Opening never changes a store it cannot read: a file that is not an
 * LMDB environment, is cut short, or holds another format version than
 * CAM_STORE_FORMAT is refused with a message naming it, and nothing in the
 * directory is touched. The data directory's lock (kernel/datadir.h) keeps
 * a second kernel out; `cam-kernel --backup` (cam_store_backup) may open
 * the store beside a running kernel, read-only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_KERNEL_STORE_H
#define CAM_KERNEL_STORE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/component.h"

typedef struct cam_store cam_store;

/* The layout version written in the "meta" database; bump on any change
 * of a database's key or value format. */
#define CAM_STORE_FORMAT 1
#define CAM_STORE_WHY 320

struct cam_store_opts {
	const char *dir;     /* <data dir>/store; made (0700) when missing */
	uint64_t map_bytes;  /* the map: the most the file may grow to */
};

/* Opens (or makes) the store. CAM_EDATALOSS with why naming the path for
 * a store it cannot read (corrupt, cut short, another format), CAM_EIO /
 * CAM_EPERM for the file system. */
int cam_store_open(const struct cam_store_opts *o, cam_store **out, char *why);
/* Stops the writer (jobs queued still run) and closes. NULL is fine. */
void cam_store_close(cam_store *s);
const char *cam_store_path(const cam_store *s);

/* A named database, made when missing (open once, at start: dbi handles
 * are shared by every thread). */
int cam_store_dbi(cam_store *s, const char *name, MDB_dbi *out, char *why);

/*
 * A read-only transaction for the calling thread: a snapshot of the last
 * commit, taken without a lock (LMDB reuses the thread's reader slot).
 * End it with cam_store_read_end on the same thread before its next
 * begin.
 */
int cam_store_read_begin(cam_store *s, MDB_txn **txn);
void cam_store_read_end(cam_store *s, MDB_txn *txn);

/*
 * A change for the writer. apply runs in the writer's transaction, after
 * the jobs queued before it (it sees their changes): it returns 0 (its
 * changes stay), a CAM_E* code when it refuses, having changed nothing,
 * or CAM_STORE_BROKEN when LMDB failed under it (the writer then aborts
 * and runs every job of the group alone, so only the one that fails
 * fails). done runs once, on the writer thread, after the commit: rc is
 * apply's code, the commit's failure (CAM_ELIMIT with "no space left" for
 * ENOSPC, CAM_EIO for an I/O error) when apply succeeded but the commit
 * did not, CAM_EUNAVAIL when the sync after the commit failed (the change
 * may or may not survive a power cut), or CAM_ETIMEDOUT when the deadline
 * passed before apply ran. done runs on the syncer thread.
 * why (CAM_STORE_WHY bytes) is for apply's and the writer's messages.
 */
#define CAM_STORE_BROKEN 2
struct cam_store_job {
	int (*apply)(struct cam_store_job *j, MDB_txn *txn);
	void (*done)(struct cam_store_job *j, int rc);
	int64_t deadline_ns;     /* CLOCK_MONOTONIC; 0: none */
	char *why;               /* at least CAM_STORE_WHY bytes */
	int mdb_rc;              /* apply's LMDB code with CAM_STORE_BROKEN */
	/* the writer's */
	struct cam_store_job *next;
	int rc;
	struct store_wait *wait;
};
/* Queues j; never waits. After cam_store_close began, done(CAM_EUNAVAIL). */
void cam_store_submit(cam_store *s, struct cam_store_job *j);
/* Submits j and waits for it (not on a thread that must not wait): returns
 * the code done would get. Sets j->done itself. */
int cam_store_run(cam_store *s, struct cam_store_job *j);

/* The CAM_E* code for an LMDB or errno code met on path, with words in
 * why (CAM_STORE_WHY bytes): CAM_ELIMIT for no space or a full map,
 * CAM_EDATALOSS for corruption, CAM_EPERM, else CAM_EIO. */
int cam_store_fail(int mdb_rc, const char *path, char *why);

/* The writer's figures, for metrics and health. */
struct cam_store_stats {
	uint64_t commits;        /* transactions committed */
	uint64_t syncs;          /* fdatasyncs of the file: each commit's, the syncer's */
	uint64_t changes;        /* jobs whose change was made durable */
	uint64_t failures_nospace, failures_io;
	double last_commit_s;    /* seconds from taking the last group to its being durable */
	uint64_t last_commit_changes;
	uint64_t file_bytes;     /* data.mdb's size */
	uint64_t free_bytes;     /* free space of the file system it is on */
	bool failing;            /* the last commit failed */
	char last_error[160];
};
void cam_store_stats(cam_store *s, struct cam_store_stats *out);
/* The store's health: degraded while commits fail. Quick. */
enum cam_component_status cam_store_health(cam_store *s, char *msg, size_t len);

/*
 * A consistent copy of a live store into dest_dir/data.mdb (dest_dir made
 * 0700; refused when it already holds a store), taken in one read
 * transaction while writes go on: it holds every change committed before
 * the call. Compacted. *bytes gets the copy's size.
 */
int cam_store_copy(cam_store *s, const char *dest_dir, uint64_t *bytes, char *why);
/* The same for a store in src_dir that another process may be serving
 * (cam-kernel --backup): opened read-only, never changed. */
int cam_store_backup(const char *src_dir, const char *dest_dir, uint64_t *bytes, char *why);

#endif
