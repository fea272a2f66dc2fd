/*
 * The Redis memory context backend: asynchronous and pipelined, on
 * hiredis's asynchronous API (redis_store.h says which file does what).
 *
 * A call is submitted from any thread and never waits there: it is posted
 * to one of the store's lanes (round robin), each an event loop thread of
 * the store's own with one pipelined connection per Redis node, and it
 * completes on that thread. So a gRPC I/O thread may run the context
 * verbs inline, and the kernel has as many Redis commands in flight as it
 * has calls, not as it has workers.
 *
 * The master is the URL's host, found through Sentinel (sentinel.h), or
 * with Redis Cluster the master of each namespace's hash slot
 * (redis_cluster.h). Every change is one Lua script on one slot
 * (redis_scripts.h has key layout v2), atomic, also between kernels
 * sharing the Redis.
 *
 * Down and back: a connection that fails (refused, reset, no answer
 * within the Redis timeout, no handshake) marks its node down: calls for
 * it answer CAM_EUNAVAIL at once until the back-off (100 ms doubling to
 * backoff_max_ms) lets one call try again; every lane's connection to the
 * node is replaced before its next command; the health thread lifts the
 * down state as soon as a PING is answered. With Sentinel a failure makes
 * the sentinels be asked again, and a new master replaces every
 * connection and lifts the down state at once.
 *
 * Deadlines: a call past its deadline answers CAM_ETIMEDOUT (its reply,
 * if it comes, is dropped: the connection stays, a short deadline says
 * nothing about Redis); a call without one is bounded by the Redis timeout
 * through the connection's watchdog. A command that timed out may still
 * run later: it was answered, never acknowledged.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "kernel/memctx/redis_store.h"

#define DEFAULT_MAX_IN_FLIGHT 1024

/* redis://[[user]:password@]host[:port][/db] */
static int parse_url(struct redis *r, const char *url, char *why)
{
	const char *p = url, *at, *end;
	char *e;

	if (strncmp(p, "redis://", 8) != 0)
		return cam_memctx__fail(why, CAM_EINVAL, "CAM_REDIS_URL must start with redis://");
	p += 8;
	r->port = 6379;
	end = p + strcspn(p, "/");
	at = memchr(p, '@', (size_t)(end - p));
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (!colon || (size_t)(colon - p) >= sizeof(r->user) ||
		    (size_t)(at - colon - 1) >= sizeof(r->password))
			return cam_memctx__fail(why, CAM_EINVAL,
					   "CAM_REDIS_URL credentials must be [user]:password@");
		memcpy(r->user, p, (size_t)(colon - p));
		memcpy(r->password, colon + 1, (size_t)(at - colon - 1));
		p = at + 1;
	}
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (!rb || (size_t)(rb - p - 1) >= sizeof(r->host))
			return cam_memctx__fail(why, CAM_EINVAL, "CAM_REDIS_URL has a bad [IPv6] host");
		memcpy(r->host, p + 1, (size_t)(rb - p - 1));
		p = rb + 1;
	} else {
		size_t n = strcspn(p, ":/");
		if (n >= sizeof(r->host))
			return cam_memctx__fail(why, CAM_EINVAL, "CAM_REDIS_URL host is too long");
		memcpy(r->host, p, n);
		p += n;
	}
	if (!r->host[0])
		return cam_memctx__fail(why, CAM_EINVAL, "CAM_REDIS_URL has no host");
	if (*p == ':') {
		long port = strtol(p + 1, &e, 10);
		if (e == p + 1 || port < 1 || port > 65535 || (*e && *e != '/'))
			return cam_memctx__fail(why, CAM_EINVAL, "CAM_REDIS_URL has a bad port");
		r->port = (int)port;
		p = e;
	}
	if (*p == '/' && p[1]) {
		long db = strtol(p + 1, &e, 10);
		if (*e || db < 0 || db > 1000000)
			return cam_memctx__fail(why, CAM_EINVAL, "CAM_REDIS_URL has a bad database number");
		r->db = (int)db;
	} else if (*p && strcmp(p, "/") != 0) {
		return cam_memctx__fail(why, CAM_EINVAL, "CAM_REDIS_URL has trailing text");
	}
	return 0;
}

/* CAM_REDIS_CLUSTER: "host:port,host:port,..." ("[v6]:port" too). */
static int parse_seeds(struct redis *r, const char *list, char *why)
{
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");
		char tok[CAM_RCLUSTER_ADDR], host[CAM_RCLUSTER_ADDR];
		int port;

		while (len && *p == ' ') {
			p++;
			len--;
		}
		if (r->nseeds == sizeof(r->seeds) / sizeof(r->seeds[0]))
			return cam_memctx__fail(why, CAM_EINVAL, "CAM_REDIS_CLUSTER names more than %zu nodes",
						sizeof(r->seeds) / sizeof(r->seeds[0]));
		if (!len || len >= sizeof(tok))
			goto out_bad;
		memcpy(tok, p, len);
		tok[len] = '\0';
		if (tok[0] == '[') {
			char *rb = strchr(tok, ']');

			if (!rb || rb[1] != ':')
				goto out_bad;
			memmove(rb, rb + 1, strlen(rb + 1) + 1);
			memmove(tok, tok + 1, strlen(tok));
		}
		if (cam_rcluster_split(tok, host, &port) || !host[0])
			goto out_bad;
		snprintf(r->seeds[r->nseeds++], CAM_RCLUSTER_ADDR, "%s", tok);
		p += len;
		if (*p == ',')
			p++;
		continue;
out_bad:
		return cam_memctx__fail(why, CAM_EINVAL, "CAM_REDIS_CLUSTER: '%.*s' is not host:port",
					(int)(len > 64 ? 64 : len), p);
	}
	if (!r->nseeds)
		return cam_memctx__fail(why, CAM_EINVAL, "CAM_REDIS_CLUSTER names no node");
	return 0;
}

/* ---- nodes ---------------------------------------------------------------------- */

struct rnode *cam_rs_node(struct redis *r, const char *addr)
{
	unsigned n = atomic_load(&r->nnodes);
	struct rnode *node = NULL;

	for (unsigned i = 0; i < n; i++)
		if (strcmp(r->nodes[i]->addr, addr) == 0)
			return r->nodes[i];
	pthread_mutex_lock(&r->lock);
	n = atomic_load(&r->nnodes);
	for (unsigned i = 0; i < n && !node; i++)
		if (strcmp(r->nodes[i]->addr, addr) == 0)
			node = r->nodes[i];
	if (!node && n < RS_MAX_NODES) {
		node = cam_xcalloc(1, sizeof(*node));
		node->id = n;
		snprintf(node->addr, sizeof(node->addr), "%s", addr);
		pthread_mutex_init(&node->lock, NULL);
		r->nodes[n] = node;
		atomic_store(&r->nnodes, n + 1);
	}
	pthread_mutex_unlock(&r->lock);
	return node;
}

struct rnode *cam_rs_master(struct redis *r)
{
	return r->nodes[0];
}

void cam_rs_set_error(struct redis *r, const char *msg)
{
	pthread_mutex_lock(&r->lock);
	snprintf(r->last_error, sizeof(r->last_error), "%s", msg);
	pthread_mutex_unlock(&r->lock);
}

void cam_rs_node_down(struct redis *r, struct rnode *n, const char *msg)
{
	int64_t now = cam_mono_ns(), zero = 0;
	int b = atomic_load(&n->backoff_ms);

	atomic_fetch_add(&n->epoch, 1);
	pthread_mutex_lock(&n->lock);
	snprintf(n->last_error, sizeof(n->last_error), "%s", msg);
	pthread_mutex_unlock(&n->lock);
	cam_rs_set_error(r, msg);
	if (atomic_compare_exchange_strong(&n->down_since_ns, &zero, now))
		cam_log(CAM_LOG_WARN, "memctx", "Redis is unavailable: %s", msg);
	b = b ? (b * 2 > r->backoff_max_ms ? r->backoff_max_ms : b * 2) : RS_BACKOFF_MIN_MS;
	atomic_store(&n->backoff_ms, b);
	atomic_store(&n->down_until_ns, now + (int64_t)b * 1000000);
	if (r->sentinel)
		cam_sentinel_suspect(r->sentinel);
	if (r->cluster)
		cam_rs_refresh_map(r);
}

void cam_rs_node_up(struct redis *r, struct rnode *n)
{
	int64_t since = atomic_exchange(&n->down_since_ns, 0);

	(void)r;
	atomic_store(&n->down_until_ns, 0);
	atomic_store(&n->backoff_ms, 0);
	if (since)
		cam_log(CAM_LOG_INFO, "memctx", "Redis at %s is back after %.1f s",
			r->cluster ? n->addr : r->master, (double)(cam_mono_ns() - since) / 1e9);
}

int cam_rs_dial_addr(struct redis *r, struct rnode *n, char *host, int *port, char *msg,
		     size_t len)
{
	if (r->cluster) {
		if (cam_rcluster_split(n->addr, host, port) == 0)
			return 0;
		snprintf(msg, len, "bad node address %s", n->addr);
		return -1;
	}
	if (r->sentinel) {
		if (cam_sentinel_master(r->sentinel, host, port) == 0)
			return 0;
		snprintf(msg, len, "no sentinel has named master %s yet",
			 cam_sentinel_name(r->sentinel));
		cam_sentinel_suspect(r->sentinel);
		return -1;
	}
	pthread_mutex_lock(&r->lock);
	snprintf(host, CAM_RCLUSTER_ADDR, "%s", r->resolved[0] ? r->resolved : r->host);
	pthread_mutex_unlock(&r->lock);
	*port = r->port;
	return 0;
}

/* The sentinels named a new master (sentinel thread): every connection is
 * replaced before its next command, and the down state is lifted so the
 * next call tries the new master at once. */
static void master_changed(void *arg, const char *old_host, int old_port, const char *host,
			   int port)
{
	struct redis *r = arg;
	struct rnode *n = cam_rs_master(r);

	(void)old_port;
	pthread_mutex_lock(&r->lock);
	snprintf(r->master, sizeof(r->master), "%s:%d", host, port);
	pthread_mutex_unlock(&r->lock);
	if (old_host[0])
		atomic_fetch_add(&r->master_changes, 1);
	atomic_fetch_add(&n->epoch, 1);
	atomic_store(&n->backoff_ms, 0);
	atomic_store(&n->down_until_ns, 0);
}

/* ---- byte counts ---------------------------------------------------------------- */

void cam_rs_used_seen(struct redis *r, unsigned slot, uint64_t bytes, uint64_t gen)
{
	pthread_mutex_lock(&r->used_lock);
	if (gen >= r->used[slot].gen) {
		atomic_fetch_add(&r->total, bytes - r->used[slot].bytes);
		r->used[slot].bytes = bytes;
		r->used[slot].gen = gen;
		r->used[slot].touched = r->sum_round;
	}
	pthread_mutex_unlock(&r->used_lock);
}

int64_t cam_rs_slot_room(struct redis *r, unsigned slot)
{
	uint64_t others;

	pthread_mutex_lock(&r->used_lock);
	others = atomic_load(&r->total) - r->used[slot].bytes;
	pthread_mutex_unlock(&r->used_lock);
	return (int64_t)r->l.max_total_bytes - (int64_t)others;
}

/* ---- owners' bytes (cluster quota) -------------------------------------------------- */

static unsigned owner_hash(const char *owner)
{
	return cam_rcluster_crc16(owner, strlen(owner)) % RS_OWNER_CACHE;
}

bool cam_rs_owner_get(struct redis *r, const char *owner, uint64_t *bytes)
{
	unsigned h = owner_hash(owner);
	bool ok;

	pthread_mutex_lock(&r->owner_lock);
	ok = strcmp(r->owners[h].owner, owner) == 0 &&
	     cam_mono_ns() - r->owners[h].at_ns < (int64_t)r->ping_ms * 1000000;
	if (ok)
		*bytes = r->owners[h].bytes;
	pthread_mutex_unlock(&r->owner_lock);
	return ok;
}

void cam_rs_owner_seen(struct redis *r, const char *owner, uint64_t bytes)
{
	unsigned h = owner_hash(owner);

	pthread_mutex_lock(&r->owner_lock);
	snprintf(r->owners[h].owner, sizeof(r->owners[h].owner), "%s", owner);
	r->owners[h].bytes = bytes;
	r->owners[h].at_ns = cam_mono_ns();
	pthread_mutex_unlock(&r->owner_lock);
}

/* ---- the slot map, as each lane sees it ------------------------------------------- */

void cam_rs_refresh_map(struct redis *r)
{
	pthread_mutex_lock(&r->stop_lock);
	r->refresh_now = true;
	pthread_cond_signal(&r->stop_cond);
	pthread_mutex_unlock(&r->stop_lock);
}

/* The lane takes the store's latest map when there is a newer one. */
static void lane_map_update(struct rlane *ln)
{
	struct redis *r = ln->r;
	uint64_t e = atomic_load(&r->map_epoch);

	if (e == ln->map_epoch)
		return;
	pthread_mutex_lock(&r->lock);
	if (r->map)
		memcpy(ln->map, r->map, sizeof(*ln->map));
	ln->map_epoch = atomic_load(&r->map_epoch);
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < ln->map->nnodes; i++)
		ln->map_nodes[i] = cam_rs_node(r, ln->map->addr[i]);
}

struct rnode *cam_rs_slot_node(struct rlane *ln, unsigned slot)
{
	int idx;

	lane_map_update(ln);
	idx = ln->map->node[slot];
	return idx < 0 ? NULL : ln->map_nodes[idx];
}

void cam_rs_slot_moved(struct rlane *ln, unsigned slot, const char *addr)
{
	int idx = cam_rcluster_map_node(ln->map, addr);

	if (idx >= 0) {
		ln->map->node[slot] = (int16_t)idx;
		ln->map_nodes[idx] = cam_rs_node(ln->r, addr);
	}
	cam_rs_refresh_map(ln->r);
}

/* ---- lanes ------------------------------------------------------------------------ */

static void lane_posted(void *arg, struct cam_rloop_msg *list)
{
	struct rlane *ln = arg;

	while (list) {
		struct rop *o = (struct rop *)list;

		list = list->next;
		cam_rs_op_start(ln, o);
	}
}

static void lane_before_write(void *arg)
{
	cam_rs_lane_round(arg);
}

static void lane_stopping(void *arg)
{
	struct rlane *ln = arg;

	ln->stopping = true;
	for (unsigned i = 0; i < RS_MAX_NODES; i++)
		if (ln->conns[i])
			cam_rs_conn_close(ln->conns[i], "the memory context store is closing");
	cam_rs_ops_abandon(ln);
	cam_rs_lane_round(ln);
}

static const struct cam_rloop_ops lane_ops = {
	.posted = lane_posted,
	.before_write = lane_before_write,
	.stopping = lane_stopping,
};

static void rd_submit(void *b, struct cam_memctx_op *op)
{
	struct redis *r = b;
	struct rop *o = cam_xcalloc(1, sizeof(*o));
	unsigned i = atomic_fetch_add(&r->next_lane, 1) % r->nlanes;

	o->r = r;
	o->op = op;
	cam_rloop_post(r->lanes[i].loop, &o->msg);
}

/* ---- figures ------------------------------------------------------------------------ */

static uint64_t rd_size_bytes(void *b)
{
	struct redis *r = b;

	return atomic_load(&r->total);
}

static uint64_t rd_reconnects(void *b)
{
	struct redis *r = b;

	return atomic_load(&r->reconnects);
}

static uint64_t rd_master_changes(void *b)
{
	struct redis *r = b;

	return atomic_load(&r->master_changes);
}

static uint64_t rd_unconfirmed(void *b)
{
	struct redis *r = b;

	return atomic_load(&r->unconfirmed);
}

static int rd_cluster(void *b, struct cam_memctx_cluster *out)
{
	struct redis *r = b;

	if (!r->cluster)
		return CAM_ENOENT;
	pthread_mutex_lock(&r->lock);
	*out = r->cinfo;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* Cluster: every master answering and every slot served. */
static enum cam_component_status cluster_health(struct redis *r, char *msg, size_t len)
{
	struct cam_memctx_cluster ci;
	int64_t worst = 0;
	unsigned down = 0, n = atomic_load(&r->nnodes);

	pthread_mutex_lock(&r->lock);
	ci = r->cinfo;
	/* The masters of the map only: a node gone from it is no concern. */
	for (unsigned i = 0; i < n; i++) {
		struct rnode *node = r->nodes[i];
		int64_t us = atomic_load(&node->ping_us);
		bool in_map = false;

		for (unsigned k = 0; r->map && k < r->map->nnodes && !in_map; k++)
			in_map = strcmp(r->map->addr[k], node->addr) == 0;
		if (!in_map)
			continue;
		down += atomic_load(&node->down_since_ns) != 0;
		if (us > worst)
			worst = us;
	}
	pthread_mutex_unlock(&r->lock);
	if (!ci.ok || ci.slots_uncovered || ci.slots_fail || !ci.masters) {
		pthread_mutex_lock(&r->lock);
		snprintf(msg, len, "Redis Cluster %s: %u masters, %u slots failing, %u not served: %s",
			 ci.ok ? "ok" : "state fail", ci.masters, ci.slots_fail, ci.slots_uncovered,
			 r->last_error[0] ? r->last_error : "no node answered yet");
		pthread_mutex_unlock(&r->lock);
		return CAM_COMPONENT_UNHEALTHY;
	}
	snprintf(msg, len, "connected to Redis Cluster: %u masters, all slots served, "
		 "%u nodes down, slowest PING %.3f ms", ci.masters, down, (double)worst / 1e3);
	if (down || ci.slots_pfail)
		return CAM_COMPONENT_DEGRADED;
	return worst * 2 > (int64_t)r->timeout_ms * 1000 ? CAM_COMPONENT_DEGRADED
							 : CAM_COMPONENT_HEALTHY;
}

static enum cam_component_status rd_health(void *b, char *msg, size_t len)
{
	struct redis *r = b;
	struct rnode *n;
	int64_t us, since;
	char group[160] = "";

	if (r->cluster)
		return cluster_health(r, msg, len);
	n = cam_rs_master(r);
	us = atomic_load(&n->ping_us);
	since = atomic_load(&n->down_since_ns);
	if (r->sentinel)
		snprintf(group, sizeof(group), " (master %.64s from the sentinels)",
			 cam_sentinel_name(r->sentinel));
	pthread_mutex_lock(&r->lock);
	if (since || us < 0) {
		snprintf(msg, len, "redis://%s%s unavailable for %.1f s: %s", r->master, group,
			 since ? (double)(cam_mono_ns() - since) / 1e9 : 0.0, r->last_error);
		pthread_mutex_unlock(&r->lock);
		return CAM_COMPONENT_UNHEALTHY;
	}
	snprintf(msg, len, "connected to redis://%s%s db %d, PING %.3f ms", r->master, group,
		 r->db, (double)us / 1e3);
	pthread_mutex_unlock(&r->lock);
	return us * 2 > (int64_t)r->timeout_ms * 1000 ? CAM_COMPONENT_DEGRADED
						     : CAM_COMPONENT_HEALTHY;
}

/* ---- making and freeing ------------------------------------------------------------- */

/* With CAM_REDIS_SENTINELS: the sentinels name the master. */
static int start_sentinel(struct redis *r, const struct cam_memctx_opts *o, char *why)
{
	struct cam_sentinel_opts so = {
		.addrs = o->sentinels,
		.master_name = o->master_name,
		.password = o->sentinel_password,
		.timeout_ms = r->timeout_ms,
		.on_change = master_changed,
		.arg = r,
	};
	char host[CAM_SENTINEL_HOST];
	int port, rc = cam_sentinel_new(&so, &r->sentinel, why);

	if (rc)
		return rc;
	if (cam_sentinel_master(r->sentinel, host, &port) == 0)
		snprintf(r->master, sizeof(r->master), "%.200s:%d", host, port);
	else
		snprintf(r->master, sizeof(r->master), "(master %s not known yet)",
			 cam_sentinel_name(r->sentinel));
	return 0;
}

static int settings(struct redis *r, const struct cam_memctx_opts *o, char *why)
{
	int rc;

	if (o->redis_url && *o->redis_url && (rc = parse_url(r, o->redis_url, why)))
		return rc;
	if (o->cluster && *o->cluster) {
		if (o->sentinels && *o->sentinels)
			return cam_memctx__fail(why, CAM_EINVAL,
						"CAM_REDIS_CLUSTER and CAM_REDIS_SENTINELS exclude each other");
		if (r->db)
			return cam_memctx__fail(why, CAM_EINVAL,
						"Redis Cluster has only database 0 (CAM_REDIS_URL names %d)",
						r->db);
		if ((rc = parse_seeds(r, o->cluster, why)))
			return rc;
		r->cluster = true;
	}
	if (o->io_threads > RS_MAX_LANES)
		return cam_memctx__fail(why, CAM_EINVAL, "Redis I/O threads must be 1-%d",
					RS_MAX_LANES);
	r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 1000;
	r->ping_ms = o->ping_interval_ms > 0 ? o->ping_interval_ms : 1000;
	r->backoff_max_ms = o->backoff_max_ms >= RS_BACKOFF_MIN_MS ? o->backoff_max_ms : 2000;
	r->min_acks = o->min_replicas_ack;
	r->nlanes = o->io_threads ? o->io_threads : 1;
	r->max_inflight = o->max_in_flight ? o->max_in_flight : DEFAULT_MAX_IN_FLIGHT;
	r->l = o->limits;
	snprintf(r->master, sizeof(r->master), "%.200s:%d", r->host, r->port);
	return 0;
}

static int start_lanes(struct redis *r, char *why)
{
	for (unsigned i = 0; i < r->nlanes; i++) {
		struct rlane *ln = &r->lanes[i];
		int rc;

		ln->r = r;
		ln->args = cam_xcalloc(1, sizeof(*ln->args));
		ln->map = cam_xcalloc(1, sizeof(*ln->map));
		memset(ln->map->node, 0xff, sizeof(ln->map->node));
		if ((rc = cam_rloop_new(&lane_ops, ln, &ln->loop)))
			return cam_memctx__fail(why, rc, "cannot start a Redis I/O thread");
	}
	return 0;
}

static void rd_free(void *b)
{
	struct redis *r = b;

	cam_rs_health_stop(r);
	/* No more master changes from here on. */
	cam_sentinel_free(r->sentinel);
	for (unsigned i = 0; i < r->nlanes; i++) {
		cam_rloop_free(r->lanes[i].loop);
		free(r->lanes[i].args);
		free(r->lanes[i].resp);
		free(r->lanes[i].map);
	}
	for (unsigned i = 0; i < atomic_load(&r->nnodes); i++) {
		pthread_mutex_destroy(&r->nodes[i]->lock);
		free(r->nodes[i]);
	}
	free(r->map);
	free(r->owners);
	pthread_cond_destroy(&r->stop_cond);
	pthread_mutex_destroy(&r->stop_lock);
	pthread_mutex_destroy(&r->owner_lock);
	pthread_mutex_destroy(&r->used_lock);
	pthread_mutex_destroy(&r->lock);
	explicit_bzero(r->password, sizeof(r->password));
	free(r);
}

int cam_memctx__redis_new(const struct cam_memctx_opts *o, void **out, char *why)
{
	struct redis *r = cam_xcalloc(1, sizeof(*r));
	pthread_condattr_t ca;
	int rc;

	if ((rc = settings(r, o, why))) {
		free(r);
		return rc;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->used_lock, NULL);
	pthread_mutex_init(&r->owner_lock, NULL);
	pthread_mutex_init(&r->stop_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->stop_cond, &ca);
	pthread_condattr_destroy(&ca);
	r->owners = cam_xcalloc(RS_OWNER_CACHE, sizeof(*r->owners));
	/* Non-cluster: node 0 is the master, wherever it is. */
	if (!r->cluster)
		cam_rs_node(r, "master");
	if (o->sentinels && *o->sentinels && (rc = start_sentinel(r, o, why)))
		goto out_free;
	/* The health thread looks once before the first call (and refuses
	 * layout v1), then keeps looking. */
	if ((rc = cam_rs_health_start(r, why)) || (rc = start_lanes(r, why)))
		goto out_free;
	*out = r;
	return 0;
out_free:
	rd_free(r);
	return rc;
}

const struct cam_memctx__ops cam_memctx__redis_ops = {
	.name = "redis",
	.submit = rd_submit,
	.size_bytes = rd_size_bytes,
	.reconnects = rd_reconnects,
	.master_changes = rd_master_changes,
	.unconfirmed = rd_unconfirmed,
	.cluster = rd_cluster,
	.health = rd_health,
	.free = rd_free,
};
