/*
 * The Redis backend's shared state, private to kernel/memctx/redis_*.c:
 * the store (struct redis), the nodes it talks to, its lanes (one event
 * loop each, with a pipelined connection per node), and the calls in
 * flight. Who does what:
 *
 *   redis_backend.c   the store: settings, submit, lanes, nodes and their
 *                     down state, byte counts, the backend's ops table
 *   redis_conn.c      one pipelined connection: handshake, sending under
 *                     the in-flight cap, replies in order, one WAIT per
 *                     batch, the watchdog
 *   redis_ops.c       each operation's steps: the commands it sends, where
 *                     (slot, MOVED, ASK), and what the replies mean
 *   redis_health.c    the health thread: PING, the cluster's slot map and
 *                     state, the sum of the byte counters, layout v1
 *   redis_cluster.c   slots, tags, CLUSTER SLOTS, redirections (pure)
 *   redis_loop.c      the event loops (epoll, hiredis's hooks, timers)
 *
 * Threads: any thread submits; everything about a call then happens on
 * its lane's loop thread, where it completes. The health thread and the
 * sentinel thread share only the atomics and locked fields marked below.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_MEMCTX_REDIS_STORE_H
#define CAM_MEMCTX_REDIS_STORE_H

#include <hiredis/async.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernel/memctx/backend.h"
#include "kernel/memctx/redis_cluster.h"
#include "kernel/memctx/redis_loop.h"
#include "kernel/memctx/sentinel.h"

#define RS_BACKOFF_MIN_MS 100
#define RS_MAX_NODES 512
#define RS_MAX_LANES 16
/* Bytes one connection may have sent and not seen answered. */
#define RS_MAX_INFLIGHT_BYTES (64u << 20)
/* Redirections one call follows before it gives up. */
#define RS_MAX_REDIRECTS 8
#define RS_TRYAGAIN_MS 20
#define RS_OWNER_CACHE 1024

enum rs_script { RS_WRITE, RS_READ, RS_DELETE, RS_SNAPSHOT, RS_RESTORE, RS_SNAPSHOT_DELETE,
		 RS_OWNER, RS_NSCRIPTS };
extern const char *const cam_rs_scripts[RS_NSCRIPTS];

/* A Redis node: with Cluster one per master address; else the one master
 * (whose address Sentinel may change). Shared by every lane. */
struct rnode {
	unsigned id;                     /* index in redis.nodes */
	char addr[CAM_RCLUSTER_ADDR];    /* cluster: fixed; else under redis.lock */
	_Atomic uint64_t epoch;          /* bumped when every connection must go */
	_Atomic int64_t down_until_ns;   /* 0: up; else fail fast until then */
	_Atomic int64_t down_since_ns;   /* 0: up */
	_Atomic int backoff_ms;
	_Atomic int64_t ping_us;         /* last PING round trip; -1: failed */
	pthread_mutex_t lock;            /* last_error */
	char last_error[256];
};

struct redis;
struct rlane;
struct rconn;
struct rop;

/* One command sent on a connection, awaiting its reply (the callback's
 * privdata). op NULL: nobody waits for it any more (detached). */
enum rcmd_kind { RC_HANDSHAKE, RC_OP, RC_WAIT };
struct rcmd {
	struct rcmd *next;
	struct rconn *conn;
	struct rop *op;
	enum rcmd_kind kind;
	int step;                        /* handshake: which command */
	uint64_t wait_seq;               /* RC_WAIT: its number */
	int64_t answer_by_ns;            /* past it, the node is not answering */
	size_t bytes;
};

enum rconn_state { RC_CONNECTING, RC_HANDSHAKING, RC_READY, RC_CLOSED };

/* One pipelined connection of a lane to a node (redis_conn.c). */
struct rconn {
	struct cam_rloop_io io;
	struct rlane *lane;
	struct rnode *node;
	char where[CAM_RCLUSTER_ADDR];   /* the address dialled */
	uint64_t epoch;                  /* node->epoch when dialled */
	enum rconn_state state;
	bool reconnect;                  /* counts in redis.reconnects when ready */
	char sha[RS_NSCRIPTS][41];
	int hs_left;                     /* handshake replies still to come */
	struct rcmd *head, *tail;        /* sent, in order */
	unsigned inflight;
	size_t inflight_bytes;
	struct rop *pend_head, *pend_tail; /* waiting to be sent */
	unsigned pending;
	struct rop *await_head, *await_tail; /* changes done, waiting for WAIT */
	uint64_t wait_seq;               /* WAITs sent */
	bool wait_out;                   /* one is in flight: the next waits for it */
	unsigned unwaited;               /* changes sent since the last WAIT */
	int64_t wait_until_ns;           /* how long the next WAIT may last */
	int64_t blocked_until_ns;        /* a WAIT sent holds the node till then */
	struct cam_rloop_timer watchdog;
	char why_closed[256];            /* set before a close of ours */
	bool dirty;                      /* on lane->dirty this round */
	struct rconn *next_dirty, *next_dead;
};

/* A lane: one event loop, its connections, its copy of the slot map. */
struct rlane {
	struct redis *r;
	cam_rloop *loop;
	struct rconn *conns[RS_MAX_NODES]; /* by rnode.id */
	struct rconn *dirty, *dead;
	bool ever[RS_MAX_NODES];         /* had a connection to that node */
	bool stopping;
	struct rs_args *args;            /* scratch for building commands */
	char *resp;                      /* scratch for a command in RESP */
	size_t resp_cap;
	struct cam_rcluster_map *map;    /* cluster: this lane's copy */
	struct rnode *map_nodes[CAM_RCLUSTER_MAX_NODES];
	uint64_t map_epoch;
	struct rop *live;                /* every call in flight on this lane */
};

/* One call in flight (redis_ops.c), from submit to done. */
struct rop {
	struct cam_rloop_msg msg;
	struct redis *r;
	struct rlane *lane;
	struct cam_memctx_op *op;
	struct cam_rloop_timer timer;    /* the call's deadline (or the step's) */
	struct cam_rloop_timer retry;    /* TRYAGAIN: send the step again */
	int stage;
	unsigned slot;                   /* of this step's keys */
	struct rcmd *cmd;                /* the step's command in flight */
	struct rconn *on;                /* pending or awaiting WAIT there */
	enum { RQ_NONE, RQ_PENDING, RQ_AWAIT } queued;
	struct rop *next, *prev;         /* in on's pending or await list */
	struct rop *lnext, *lprev;       /* in lane->live */
	uint64_t wait_seq;               /* confirmed by the WAIT with this number */
	int redirects;
	bool asking, eval;
	bool acked;                      /* the change is; only its count follows */
	char ask_addr[CAM_RCLUSTER_ADDR];
	int64_t stage_ns;                /* when this step began */
	bool caller_deadline;            /* timer is the caller's deadline */
	char what[64];                   /* the change, for "not confirmed" */
	char ns[CAM_MEMCTX_MAX_NAME + 1];/* restore, snapshot_delete: the snapshot's */
	uint64_t owner_est;              /* cluster quota: the owner's bytes as known */
	uint64_t nt, ngen;               /* the namespace's bytes and gen after the change */
};

/* The store. */
struct redis {
	/* settings */
	char host[256];
	int port, db;
	char user[128], password[256];
	int timeout_ms, ping_ms, backoff_max_ms;
	unsigned min_acks, nlanes, max_inflight;
	struct cam_memctx_limits l;
	bool cluster;
	char seeds[16][CAM_RCLUSTER_ADDR];
	unsigned nseeds;
	cam_sentinel *sentinel;          /* NULL: the URL's host (or the cluster) */

	pthread_mutex_t lock;            /* nodes, master, map, last_error */
	struct rnode *nodes[RS_MAX_NODES];
	_Atomic unsigned nnodes;
	char master[CAM_RCLUSTER_ADDR];  /* non-cluster: the master to dial */
	char resolved[CAM_RCLUSTER_ADDR];/* its address as an IP, by the health thread */
	struct cam_rcluster_map *map;    /* cluster: the latest map */
	_Atomic uint64_t map_epoch;
	struct cam_memctx_cluster cinfo; /* cluster: state as last seen */
	char last_error[256];

	/* byte counts: per slot, as the scripts replied or the sum read */
	pthread_mutex_t used_lock;
	struct { uint64_t bytes, gen; uint32_t touched; } used[CAM_RCLUSTER_SLOTS];
	uint32_t sum_round;
	_Atomic uint64_t total;

	/* cluster quota: owners' bytes as last seen */
	pthread_mutex_t owner_lock;
	struct { char owner[CAM_MEMCTX_MAX_NAME + 1]; uint64_t bytes; int64_t at_ns; } *owners;

	_Atomic uint64_t reconnects, master_changes, unconfirmed;
	_Atomic unsigned next_lane;
	struct rlane lanes[RS_MAX_LANES];

	/* the health thread */
	pthread_t health;
	bool health_started;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stopping, refresh_now;
};

/* redis_backend.c: nodes and their state. */
struct rnode *cam_rs_node(struct redis *r, const char *addr);
/* The node for non-cluster mode (the master). */
struct rnode *cam_rs_master(struct redis *r);
void cam_rs_node_down(struct redis *r, struct rnode *n, const char *msg);
void cam_rs_node_up(struct redis *r, struct rnode *n);
/* Where to dial n now (non-cluster: the master, as an IP when resolved):
 * 0, or -1 with msg filled. */
int cam_rs_dial_addr(struct redis *r, struct rnode *n, char *host, int *port, char *msg,
		     size_t len);
/* A slot's byte count as a script replied it. */
void cam_rs_used_seen(struct redis *r, unsigned slot, uint64_t bytes, uint64_t gen);
/* Bytes the store may still give slot's keys (the limit less every other
 * slot as known). */
int64_t cam_rs_slot_room(struct redis *r, unsigned slot);
/* Cluster quota: the owner's bytes as last seen (false: not known lately). */
bool cam_rs_owner_get(struct redis *r, const char *owner, uint64_t *bytes);
void cam_rs_owner_seen(struct redis *r, const char *owner, uint64_t bytes);
/* Asks the health thread to read the slot map now. */
void cam_rs_refresh_map(struct redis *r);
/* A snapshot of the lane's map node for slot, NULL when none serves it. */
struct rnode *cam_rs_slot_node(struct rlane *ln, unsigned slot);
/* MOVED: slot is at addr now (this lane's map, and a refresh asked). */
void cam_rs_slot_moved(struct rlane *ln, unsigned slot, const char *addr);
void cam_rs_set_error(struct redis *r, const char *msg);

/* redis_conn.c */
/* The lane's ready-or-coming connection to n (made when missing), or NULL
 * with *rc and why filled (n down and its back-off running). */
struct rconn *cam_rs_conn_get(struct rlane *ln, struct rnode *n, int *rc, char *why);
/* Sends (or queues) o's current step on c. */
void cam_rs_conn_send(struct rconn *c, struct rop *o);
/* Closes c now (in-flight calls fail with why, queued ones are routed
 * again); the struct goes at the end of the round. */
void cam_rs_conn_close(struct rconn *c, const char *why);
/* Drops o from c's pending or await list. */
void cam_rs_conn_unqueue(struct rop *o);
/* Once per round: the WAITs, then frees closed connections. */
void cam_rs_lane_round(struct rlane *ln);

/* redis_ops.c */
void cam_rs_op_start(struct rlane *ln, struct rop *o);
/* The lane stops: every call still in flight fails. */
void cam_rs_ops_abandon(struct rlane *ln);
/* Builds o's step for c: argv (at most RS_MAX_ARGS) into a, returns argc;
 * *change: the step changes the store. */
#define RS_MAX_ARGS 20
struct rs_args {
	const char *argv[RS_MAX_ARGS];
	size_t lens[RS_MAX_ARGS];
	char buf[4096];
	size_t used;
};
int cam_rs_op_build(struct rop *o, struct rconn *c, struct rs_args *a, bool *change);
/* The step's reply (NULL: the connection went, why says how). */
void cam_rs_op_reply(struct rop *o, struct rconn *c, redisReply *rep, const char *why);
/* WAIT said n replicas; o's change was before it. */
void cam_rs_op_confirmed(struct rop *o, long long n);
/* o is pending on a closed connection: route it again. */
void cam_rs_op_reroute(struct rop *o);
/* Completes o with rc (why printf-style); o is freed. */
void cam_rs_op_fail(struct rop *o, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* redis_health.c */
int cam_rs_health_start(struct redis *r, char *why);
void cam_rs_health_stop(struct redis *r);

#endif
