/*
 * The memory context store: versioned values by namespace and key.
 *
 * Every write makes a new version. Version numbers come from one counter
 * per namespace, so they only grow: deleting a key or restoring a snapshot
 * never hands out a number again, and a compare-and-set against a stale
 * version fails honestly. The last keep_versions versions of a key are
 * kept. A snapshot copies a namespace (every key, every kept version);
 * restoring it makes the namespace what it was.
 *
 * Two backends behind this one interface (backend.h): in memory (the
 * default, mem_backend.c) and Redis through hiredis (redis_backend.c),
 * found directly or through Redis Sentinel (sentinel.h). Every call may
 * come from any thread; with Redis each thread has its own connection.
 * Many kernels on one Redis are one store: every change is atomic in
 * Redis, so a compare-and-set lost to another kernel is a conflict too.
 *
 * Every call takes the deadline of the syscall it serves (deadline_ns,
 * CLOCK_MONOTONIC; CAM_MEMCTX_NO_DEADLINE = none): no Redis command waits
 * past it, and with min_replicas_ack a change waits (WAIT) for its
 * replicas only until then.
 *
 * Every function returns 0 or a negative code: CAM_EINVAL (bad name, value
 * too large), CAM_ELIMIT (keys per namespace, total bytes, snapshots),
 * CAM_ENOENT, CAM_MEMCTX_ECONFLICT (compare-and-set lost), CAM_EUNAVAIL
 * (Redis down, refused or timed out; or a change that reached the master
 * but was not confirmed by min_replicas_ack replicas in time: it may or
 * may not survive a failover), CAM_ETIMEDOUT (the deadline came before
 * Redis answered), CAM_EINTERNAL (Redis answered something unexpected). On
 * failure nothing changed, but for the unconfirmed change and a command
 * that timed out, which Redis may still run; why (when not NULL,
 * CAM_MEMCTX_WHY bytes) says what happened in words; values never appear
 * in it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_MEMCTX_H
#define CAM_MEMCTX_H

#include <stddef.h>
#include <stdint.h>

#include "common/component.h"
#include "common/error.h"
#include "kernel/store/store.h"

typedef struct cam_memctx cam_memctx;

/* A compare-and-set lost: the key's latest version is not the expected one. */
#define CAM_MEMCTX_ECONFLICT CAM_ECONFLICT
/* No deadline: the Redis timeout alone bounds a call. */
#define CAM_MEMCTX_NO_DEADLINE 0
/* "Any version": a write with no compare-and-set. */
#define CAM_MEMCTX_ANY (-1)
/* Namespaces and keys: 1-128 bytes of [A-Za-z0-9_.-/]. */
#define CAM_MEMCTX_MAX_NAME 128
/* Snapshot ids: 24 lower-case hex digits. */
#define CAM_MEMCTX_ID_LEN 24
#define CAM_MEMCTX_WHY 160
/* The most versions a key may keep. */
#define CAM_MEMCTX_MAX_KEEP 1000

struct cam_memctx_limits {
	size_t max_value_bytes;   /* one value; past it CAM_EINVAL */
	size_t max_keys;          /* live keys in one namespace */
	uint64_t max_total_bytes; /* values of every kept version and snapshot */
	unsigned keep_versions;   /* versions kept per key (1-CAM_MEMCTX_MAX_KEEP) */
	unsigned max_snapshots;   /* snapshots per namespace */
	/* Bytes one owner's namespaces may hold (kept versions and
	 * snapshots); 0: no quota. A namespace's owner is its first path
	 * segment ("agent-a" owns "agent-a" and "agent-a/notes"). */
	uint64_t max_bytes_per_owner;
};

struct cam_memctx_opts {
	/* "memory", "lmdb" or "redis"; NULL or "": redis when redis_url,
	 * sentinels or cluster are given, else lmdb when store is, else
	 * memory. */
	const char *backend;
	cam_store *store;         /* lmdb: the kernel's store (borrowed) */
	const char *redis_url;    /* NULL or "": in memory (unless sentinels or cluster) */
	/* Redis Sentinel: "host:port,..." and the master's name; the URL's
	 * host is then not used (its password and database are). */
	const char *sentinels;
	const char *master_name;
	const char *sentinel_password; /* NULL or "": none */
	/* Redis Cluster: "host:port,..." of some of its nodes (the URL's host
	 * is then not used, its password is). */
	const char *cluster;
	unsigned io_threads;      /* Redis: event loops (0: 1) */
	unsigned max_in_flight;   /* Redis: commands in flight per connection (0: 1024) */
	/* Redis: a change is acknowledged once WAIT says this many replicas
	 * have it (0: once the master has it). */
	unsigned min_replicas_ack;
	struct cam_memctx_limits limits;
	int timeout_ms;           /* Redis: one command (and connect) */
	int ping_interval_ms;     /* Redis: background PING for health */
	int backoff_max_ms;       /* Redis: longest wait between reconnects */
};

struct cam_memctx_version {
	uint64_t version;
	int64_t time_ms;          /* Unix time of the write, ms */
	size_t size;              /* value bytes */
};

/* A value read back; data (len bytes, NUL-terminated for convenience)
 * belongs to the caller: cam_memctx_value_free. */
struct cam_memctx_value {
	struct cam_memctx_version v;
	uint8_t *data;
};
void cam_memctx_value_free(struct cam_memctx_value *v);

/*
 * The synchronous calls below wait for their operation: on a store whose
 * changes complete on a thread of its own (cam_memctx_async), never call
 * them from a thread that must not wait; use cam_memctx_submit.
 *
 * A store. With a Redis URL it connects once to check the URL and loads
 * its scripts; Redis being down at start is not an error (the store answers
 * CAM_EUNAVAIL until Redis is back). A bad URL or bad limits give CAM_EINVAL
 * with why filled.
 */
int cam_memctx_new(const struct cam_memctx_opts *o, cam_memctx **out, char *why);
/* Every thread that used the store must be done with it. NULL is fine. */
void cam_memctx_free(cam_memctx *m);
/* "memory", "lmdb" or "redis". */
const char *cam_memctx_backend(const cam_memctx *m);

/* A namespace or key name is 1-128 bytes of [A-Za-z0-9_.-/]. */
int cam_memctx_name_valid(const char *s);

/*
 * Writes a new version of ns/key. expected is CAM_MEMCTX_ANY, 0 (the key
 * must not exist) or the version that must be the latest. *out gets the
 * new version; on CAM_MEMCTX_ECONFLICT *current gets the latest version
 * (0: none). current may be NULL.
 */
int cam_memctx_write(cam_memctx *m, int64_t deadline_ns, const char *ns, const char *key,
		     const void *val, size_t len, int64_t expected,
		     struct cam_memctx_version *out, uint64_t *current, char *why);
/* The latest version (version 0) or the given one. */
int cam_memctx_read(cam_memctx *m, int64_t deadline_ns, const char *ns, const char *key,
		    uint64_t version, struct cam_memctx_value *out, char *why);
/* Up to max kept versions, oldest first; *n gets how many. */
int cam_memctx_versions(cam_memctx *m, int64_t deadline_ns, const char *ns, const char *key,
			struct cam_memctx_version *out, size_t max, size_t *n, char *why);
/* Deletes a key with all its versions, or every key of ns (key NULL);
 * *removed gets the number of versions removed. CAM_ENOENT when none. */
int cam_memctx_delete(cam_memctx *m, int64_t deadline_ns, const char *ns, const char *key,
		      size_t *removed, char *why);
/* Copies ns into a new snapshot; id gets its id (CAM_MEMCTX_ID_LEN + 1
 * bytes). CAM_ENOENT for a namespace with no keys. */
int cam_memctx_snapshot(cam_memctx *m, int64_t deadline_ns, const char *ns, char *id,
			size_t *keys, char *why);
/* Makes the snapshot's namespace what it was; ns gets its name
 * (CAM_MEMCTX_MAX_NAME + 1 bytes). The snapshot stays. */
int cam_memctx_restore(cam_memctx *m, int64_t deadline_ns, const char *id, char *ns,
		       size_t *keys, char *why);
/* Drops a snapshot. */
int cam_memctx_snapshot_delete(cam_memctx *m, int64_t deadline_ns, const char *id, char *why);

/* Bytes stored as last seen (kept versions and snapshots). */
uint64_t cam_memctx_size_bytes(cam_memctx *m);
/* Connections re-made after a failure (Redis; 0 in memory). */
uint64_t cam_memctx_reconnects(cam_memctx *m);
/* Times the Redis master changed under this store (Sentinel failovers; 0
 * otherwise). */
uint64_t cam_memctx_master_changes(cam_memctx *m);
/* Changes that reached the master but were not confirmed by
 * min_replicas_ack replicas in time (answered CAM_EUNAVAIL). */
uint64_t cam_memctx_unconfirmed(cam_memctx *m);
/* The durable store under the lmdb backend (its figures: cam_store_stats),
 * else NULL. */
cam_store *cam_memctx_store(cam_memctx *m);
/* The backend's health, quick, from cached state. */
enum cam_component_status cam_memctx_health(cam_memctx *m, char *msg, size_t len);

/* Redis Cluster as the store last saw it (its health thread). */
struct cam_memctx_cluster {
	int ok;                   /* CLUSTER INFO says cluster_state:ok */
	unsigned masters;         /* masters serving slots (CLUSTER SLOTS) */
	unsigned slots_ok, slots_pfail, slots_fail; /* CLUSTER INFO's counts */
	unsigned slots_uncovered; /* slots no master serves (CLUSTER SLOTS) */
};
/* 0 and *out on a Redis Cluster; CAM_ENOENT on any other store. */
int cam_memctx_cluster(cam_memctx *m, struct cam_memctx_cluster *out);

/* The namespace a snapshot was taken of, into ns (CAM_MEMCTX_MAX_NAME + 1
 * bytes): who owns a snapshot is who owns its namespace. CAM_ENOENT when
 * there is no such snapshot. */
int cam_memctx_snapshot_ns(cam_memctx *m, int64_t deadline_ns, const char *id, char *ns,
			   char *why);
/* The length of a namespace's owner: its first path segment. */
size_t cam_memctx_owner_len(const char *ns);

/* ---- the same calls, asynchronously ------------------------------------ */

enum cam_memctx_kind {
	CAM_MEMCTX_OP_WRITE,
	CAM_MEMCTX_OP_READ,
	CAM_MEMCTX_OP_VERSIONS,
	CAM_MEMCTX_OP_DELETE,
	CAM_MEMCTX_OP_SNAPSHOT,
	CAM_MEMCTX_OP_RESTORE,
	CAM_MEMCTX_OP_SNAPSHOT_DELETE,
	CAM_MEMCTX_OP_SNAPSHOT_NS,
};

/*
 * One call for cam_memctx_submit. The caller fills the "in" part (the
 * fields its kind uses, as the synchronous call of the same name takes
 * them); everything it points to is borrowed until done runs.
 */
struct cam_memctx_op {
	/* in */
	enum cam_memctx_kind kind;
	int64_t deadline_ns;
	const char *ns;        /* all but restore, snapshot_delete, snapshot_ns */
	const char *key;       /* write, read, versions; delete (NULL: the namespace) */
	const void *val;       /* write */
	size_t len;            /* write */
	int64_t expected;      /* write: CAM_MEMCTX_ANY, 0 or a version */
	uint64_t version;      /* read: 0 is the latest */
	const char *id;        /* restore, snapshot_delete, snapshot_ns */
	struct cam_memctx_version *versions; /* versions: room for max */
	size_t max;
	void (*done)(struct cam_memctx_op *op);
	void *arg;             /* the caller's */
	/* set by cam_memctx_submit */
	int64_t now_ms;        /* Unix time of the call (write, snapshot) */
	struct cam_memctx_op *next; /* the backend's, while it holds op */
	/* out, valid when done runs */
	int rc;                /* 0 or a code, as the synchronous call returns */
	char why[CAM_MEMCTX_WHY];
	struct cam_memctx_value value; /* write: .v the new version; read: all */
	uint64_t current;      /* write lost to CAM_MEMCTX_ECONFLICT: the latest */
	size_t n;              /* versions: filled; delete: versions removed;
				* snapshot, restore: keys */
	char snapshot_id[CAM_MEMCTX_ID_LEN + 1];   /* snapshot: the new id (set by
						    * submit, before the backend;
						    * Redis puts the namespace's hash
						    * slot in its first 4 digits) */
	char snapshot_ns[CAM_MEMCTX_MAX_NAME + 1]; /* restore, snapshot_ns */
};

/*
 * Runs op. op->done(op) runs exactly once: on this thread before submit
 * returns (every call of the memory backend; a durable store's reads), or
 * later on a thread of the store's own (a durable store's changes, which
 * wait for the disk; Redis). Either way submit itself never waits on a
 * disk or a network, so an I/O thread may call it. op must stay valid,
 * and untouched by the caller, until done has run. A read's value.data
 * belongs to the caller (cam_memctx_value_free).
 */
void cam_memctx_submit(cam_memctx *m, struct cam_memctx_op *op);
/* Whether submit may complete an op later on another thread. */
int cam_memctx_async(const cam_memctx *m);

#endif
