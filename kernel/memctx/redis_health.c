/*
 * The Redis backend's health thread (redis_store.h), on blocking hiredis
 * connections of its own, every ping interval:
 *
 *  - PING each master (with Cluster every master of the slot map): its
 *    latency for the "Redis Backend" component; an answer lifts a node's
 *    down state, a failure sets it;
 *  - with Cluster, CLUSTER SLOTS (the map the lanes route by; also at once
 *    when a lane met MOVED, a closed node or CLUSTERDOWN) and CLUSTER INFO
 *    (cluster_state, failing slots);
 *  - the sum of the 16384 per-slot byte counters of key layout v2 (MGET on
 *    a single Redis; on a cluster GETs pipelined per master, of every slot
 *    each tenth time and else of the slots seen in use), which with what
 *    the scripts reply gives the store's size and the room the byte limit
 *    leaves;
 *  - without Cluster, the URL's host name resolved again (lanes dial the
 *    address, so a slow resolver never stalls them).
 *
 * At start it looks once before the store serves, and refuses a Redis
 * holding key layout v1 (cam:ctx:bytes): the kernel then does not start,
 * rather than writing v2 beside data it would not see. Redis down at start
 * is not an error.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "kernel/memctx/redis_store.h"

#define MGET_CHUNK 1024
/* A refresh asked by a lane waits at least this long after the last. */
#define REFRESH_MIN_MS 50

struct hconn {
	redisContext *c;
	uint64_t epoch;
	char where[CAM_RCLUSTER_ADDR];
};

struct health {
	struct redis *r;
	struct hconn conns[RS_MAX_NODES];
	uint64_t bytes[CAM_RCLUSTER_SLOTS], gen[CAM_RCLUSTER_SLOTS];
	bool known[CAM_RCLUSTER_SLOTS];
	bool in_use[CAM_RCLUSTER_SLOTS]; /* a counter was seen there */
	unsigned rounds;
	char v1[512];               /* at start: layout v1 found, and where */
};

static struct timeval tv_of(int ms)
{
	return (struct timeval){ ms / 1000, ms % 1000 * 1000 };
}

/* ---- connections ----------------------------------------------------------------- */

static int auth(struct redis *r, redisContext *c, const char *where, char *msg, size_t len)
{
	redisReply *rep;

	if (!r->password[0])
		return 0;
	rep = r->user[0] ? redisCommand(c, "AUTH %s %s", r->user, r->password)
			 : redisCommand(c, "AUTH %s", r->password);
	if (!rep || rep->type == REDIS_REPLY_ERROR) {
		snprintf(msg, len, "authentication to %s failed", where);
		if (rep)
			freeReplyObject(rep);
		return -1;
	}
	freeReplyObject(rep);
	return 0;
}

/* Non-cluster: the master's role and database, as a lane's handshake. */
static int master_setup(struct redis *r, redisContext *c, const char *where, char *msg,
			size_t len)
{
	redisReply *rep;
	int ok;

	if (r->sentinel) {
		rep = redisCommand(c, "ROLE");
		ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
		     rep->element[0]->type == REDIS_REPLY_STRING &&
		     strcmp(rep->element[0]->str, "master") == 0;
		if (rep)
			freeReplyObject(rep);
		if (!ok) {
			snprintf(msg, len, "%s is not the master of %s", where,
				 cam_sentinel_name(r->sentinel));
			return -1;
		}
	}
	if (r->db) {
		rep = redisCommand(c, "SELECT %d", r->db);
		ok = rep && rep->type != REDIS_REPLY_ERROR;
		if (!ok)
			snprintf(msg, len, "SELECT %d on %s failed: %s", r->db, where,
				 rep ? rep->str : c->errstr);
		if (rep)
			freeReplyObject(rep);
		if (!ok)
			return -1;
	}
	return 0;
}

/* A blocking connection to n, authenticated (and for the master, set up):
 * NULL with msg filled when it cannot be had. */
static redisContext *dial(struct redis *r, struct rnode *n, char *where, char *msg, size_t len)
{
	char host[CAM_RCLUSTER_ADDR];
	redisContext *c;
	int port;

	if (cam_rs_dial_addr(r, n, host, &port, msg, len))
		return NULL;
	snprintf(where, CAM_RCLUSTER_ADDR, "%.200s:%d", host, port);
	c = redisConnectWithTimeout(host, port, tv_of(r->timeout_ms));
	if (!c || c->err) {
		snprintf(msg, len, "cannot connect to %s: %s", where, c ? c->errstr : "out of memory");
		goto out_free;
	}
	redisSetTimeout(c, tv_of(r->timeout_ms));
	if (auth(r, c, where, msg, len) || (!r->cluster && master_setup(r, c, where, msg, len)))
		goto out_free;
	return c;
out_free:
	if (c)
		redisFree(c);
	return NULL;
}

static void hconn_drop(struct hconn *h)
{
	if (h->c)
		redisFree(h->c);
	h->c = NULL;
}

/* The health connection to n, made again after the node's epoch moved. */
static redisContext *hconn_get(struct health *h, struct rnode *n, char *where, char *msg,
			       size_t len)
{
	struct hconn *hc = &h->conns[n->id];
	uint64_t e = atomic_load(&n->epoch);

	if (hc->c && hc->epoch != e)
		hconn_drop(hc);
	if (!hc->c) {
		hc->epoch = e;
		hc->c = dial(h->r, n, hc->where, msg, len);
	}
	snprintf(where, CAM_RCLUSTER_ADDR, "%s", hc->where);
	return hc->c;
}

static void io_failed(struct health *h, struct rnode *n, const char *where, char *msg,
		      size_t len)
{
	struct hconn *hc = &h->conns[n->id];

	snprintf(msg, len, "%s: %s", where,
		 hc->c->err == REDIS_ERR_IO && (errno == EAGAIN || strstr(hc->c->errstr, "temporarily"))
			 ? "PING timed out"
			 : hc->c->errstr);
	hconn_drop(hc);
}

/* ---- the byte counters ------------------------------------------------------------- */

/* "<bytes>:<gen>" (or nil: 0, 0) into the sum for slot s. */
static void counter_seen(struct health *h, unsigned s, const redisReply *v)
{
	unsigned long long b = 0, g = 0;

	if (v->type == REDIS_REPLY_STRING && sscanf(v->str, "%llu:%llu", &b, &g) != 2)
		return;
	if (v->type != REDIS_REPLY_STRING && v->type != REDIS_REPLY_NIL)
		return;
	h->bytes[s] = b;
	h->gen[s] = g;
	h->known[s] = true;
	h->in_use[s] |= g > 0;
}

/* The sum read, into the store's counts: a slot's value stands unless a
 * script's reply for it came since the sum began and is newer. */
static void sum_apply(struct health *h, uint32_t round)
{
	struct redis *r = h->r;

	pthread_mutex_lock(&r->used_lock);
	for (unsigned s = 0; s < CAM_RCLUSTER_SLOTS; s++) {
		if (!h->known[s])
			continue;
		if (h->gen[s] < r->used[s].gen && r->used[s].touched == round)
			continue;
		atomic_fetch_add(&r->total, h->bytes[s] - r->used[s].bytes);
		r->used[s].bytes = h->bytes[s];
		r->used[s].gen = h->gen[s];
	}
	pthread_mutex_unlock(&r->used_lock);
}

static uint32_t sum_begin(struct health *h)
{
	struct redis *r = h->r;
	uint32_t round;

	memset(h->known, 0, sizeof(h->known));
	pthread_mutex_lock(&r->used_lock);
	round = ++r->sum_round;
	pthread_mutex_unlock(&r->used_lock);
	return round;
}

/* Appends the counters of slots [lo, hi] in MGETs: how many commands. */
static int append_mget(redisContext *c, unsigned lo, unsigned hi)
{
	int cmds = 0;

	for (unsigned s = lo; s <= hi; s += MGET_CHUNK) {
		unsigned end = s + MGET_CHUNK - 1 > hi ? hi : s + MGET_CHUNK - 1, n = end - s + 1;
		const char **argv = cam_xmalloc((n + 1) * sizeof(*argv));
		char (*keys)[32] = cam_xmalloc(n * sizeof(*keys));

		argv[0] = "MGET";
		for (unsigned i = 0; i < n; i++) {
			snprintf(keys[i], sizeof(keys[i]), "cam:v2:{%s}:used",
				 cam_rcluster_slot_tag(s + i));
			argv[i + 1] = keys[i];
		}
		redisAppendCommandArgv(c, (int)n + 1, argv, NULL);
		free(keys);
		free(argv);
		cmds++;
	}
	return cmds;
}

/* ---- one look at a single Redis -------------------------------------------------------- */

static void resolve(struct redis *r)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char ip[INET6_ADDRSTRLEN] = "";
	unsigned char buf[sizeof(struct in6_addr)];

	if (r->sentinel || inet_pton(AF_INET, r->host, buf) == 1 ||
	    inet_pton(AF_INET6, r->host, buf) == 1)
		return;
	if (getaddrinfo(r->host, NULL, &hints, &res) || !res)
		return;
	if (res->ai_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof(ip));
	else if (res->ai_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, ip, sizeof(ip));
	freeaddrinfo(res);
	pthread_mutex_lock(&r->lock);
	snprintf(r->resolved, sizeof(r->resolved), "%s", ip);
	pthread_mutex_unlock(&r->lock);
}

static void look_single(struct health *h, bool first)
{
	struct redis *r = h->r;
	struct rnode *n = cam_rs_master(r);
	char where[CAM_RCLUSTER_ADDR], msg[512];
	redisReply *rep = NULL;
	redisContext *c;
	uint32_t round;
	int64_t t0;
	int cmds;

	resolve(r);
	if (!(c = hconn_get(h, n, where, msg, sizeof(msg))))
		goto out_down;
	round = sum_begin(h);
	t0 = cam_mono_ns();
	redisAppendCommand(c, "PING");
	if (first)
		redisAppendCommand(c, "EXISTS cam:ctx:bytes");
	cmds = append_mget(c, 0, CAM_RCLUSTER_SLOTS - 1);
	if (redisGetReply(c, (void **)&rep) != REDIS_OK)
		goto out_io;
	atomic_store(&n->ping_us, (cam_mono_ns() - t0) / 1000);
	freeReplyObject(rep);
	if (first) {
		if (redisGetReply(c, (void **)&rep) != REDIS_OK)
			goto out_io;
		if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1)
			snprintf(h->v1, sizeof(h->v1),
				 "Redis at %s holds the memory context in key layout v1 (cam:ctx:bytes); "
				 "this kernel reads and writes only layout v2: migrate it "
				 "(README, Key layout v2) or point CAM_REDIS_URL at an empty Redis",
				 where);
		freeReplyObject(rep);
	}
	for (int i = 0; i < cmds; i++) {
		if (redisGetReply(c, (void **)&rep) != REDIS_OK)
			goto out_io;
		for (size_t k = 0; rep->type == REDIS_REPLY_ARRAY && k < rep->elements; k++)
			counter_seen(h, (unsigned)(i * MGET_CHUNK + k), rep->element[k]);
		freeReplyObject(rep);
	}
	sum_apply(h, round);
	if (atomic_load(&n->down_since_ns))
		cam_rs_node_up(r, n);
	return;
out_io:
	io_failed(h, n, where, msg, sizeof(msg));
out_down:
	atomic_store(&n->ping_us, -1);
	cam_rs_node_down(r, n, msg);
}

/* ---- one look at a cluster ----------------------------------------------------------- */

/* "cluster_state:ok" and the slot counts of CLUSTER INFO. */
static void parse_info(const char *s, struct cam_memctx_cluster *ci)
{
	const char *p;

	ci->ok = strstr(s, "cluster_state:ok") != NULL;
	if ((p = strstr(s, "cluster_slots_ok:")))
		ci->slots_ok = (unsigned)strtoul(p + 17, NULL, 10);
	if ((p = strstr(s, "cluster_slots_pfail:")))
		ci->slots_pfail = (unsigned)strtoul(p + 20, NULL, 10);
	if ((p = strstr(s, "cluster_slots_fail:")))
		ci->slots_fail = (unsigned)strtoul(p + 19, NULL, 10);
}

/* CLUSTER SLOTS and CLUSTER INFO from one node: 0, or -1 with msg. */
static int map_from(struct health *h, struct rnode *n, struct cam_rcluster_map *m,
		    struct cam_memctx_cluster *ci, char *msg, size_t len)
{
	char where[CAM_RCLUSTER_ADDR], why[CAM_MEMCTX_WHY];
	redisContext *c = hconn_get(h, n, where, msg, len);
	redisReply *rep = NULL;
	int rc = -1;

	if (!c)
		return -1;
	redisAppendCommand(c, "CLUSTER SLOTS");
	redisAppendCommand(c, "CLUSTER INFO");
	if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
		io_failed(h, n, where, msg, len);
		return -1;
	}
	if (cam_rcluster_map_parse(m, rep, n->addr, why) == 0)
		rc = 0;
	else
		snprintf(msg, len, "%s", why);
	freeReplyObject(rep);
	if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
		io_failed(h, n, where, msg, len);
		return -1;
	}
	if (rep->type == REDIS_REPLY_STRING)
		parse_info(rep->str, ci);
	freeReplyObject(rep);
	return rc;
}

/* A new map from the first node that gives one: the map's masters first,
 * then the configured ones. */
static int map_refresh(struct health *h)
{
	struct redis *r = h->r;
	struct cam_rcluster_map *m = cam_xcalloc(1, sizeof(*m));
	struct cam_memctx_cluster ci = { 0 };
	struct rnode *tried[CAM_RCLUSTER_MAX_NODES + 16];
	char (*addrs)[CAM_RCLUSTER_ADDR] = NULL;
	unsigned ntried = 0, nmap = 0;
	char msg[512] = "no node of CAM_REDIS_CLUSTER answered";
	int rc = -1;

	pthread_mutex_lock(&r->lock);
	if (r->map && (nmap = r->map->nnodes)) {
		addrs = cam_xmalloc(nmap * sizeof(*addrs));
		memcpy(addrs, r->map->addr, nmap * sizeof(*addrs));
	}
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < nmap; i++)
		tried[ntried++] = cam_rs_node(r, addrs[i]);
	free(addrs);
	for (unsigned i = 0; i < r->nseeds; i++)
		tried[ntried++] = cam_rs_node(r, r->seeds[i]);
	for (unsigned i = 0; i < ntried && rc; i++) {
		bool seen = !tried[i];

		for (unsigned j = 0; j < i && !seen; j++)
			seen = tried[j] == tried[i];
		if (!seen)
			rc = map_from(h, tried[i], m, &ci, msg, sizeof(msg));
	}
	if (rc) {
		cam_rs_set_error(r, msg);
		pthread_mutex_lock(&r->lock);
		r->cinfo.ok = 0;
		pthread_mutex_unlock(&r->lock);
		free(m);
		return -1;
	}
	ci.masters = m->nnodes;
	ci.slots_uncovered = m->uncovered;
	pthread_mutex_lock(&r->lock);
	r->cinfo = ci;
	if (!r->map || memcmp(r->map->node, m->node, sizeof(m->node)) ||
	    r->map->nnodes != m->nnodes ||
	    memcmp(r->map->addr, m->addr, sizeof(m->addr[0]) * m->nnodes)) {
		free(r->map);
		r->map = m;
		m = NULL;
		atomic_fetch_add(&r->map_epoch, 1);
	}
	pthread_mutex_unlock(&r->lock);
	if (!m)
		cam_log(CAM_LOG_INFO, "memctx", "Redis Cluster slot map: %u masters, %u slots served "
			"by none, cluster_state %s", ci.masters, ci.slots_uncovered,
			ci.ok ? "ok" : "fail");
	free(m);
	return 0;
}

/* The slots to read this round: all of them every FULL_EVERY rounds (and
 * the first), else those in use (a counter seen, or changed by this kernel). */
#define FULL_EVERY 10
static void slots_wanted(struct health *h, bool *want)
{
	struct redis *r = h->r;
	bool full = h->rounds++ % FULL_EVERY == 0;

	pthread_mutex_lock(&r->used_lock);
	for (unsigned s = 0; s < CAM_RCLUSTER_SLOTS; s++)
		want[s] = full || h->in_use[s] || r->used[s].gen > 0;
	pthread_mutex_unlock(&r->used_lock);
}

/* PING a master and read the counters of the slots it serves. */
static void look_node(struct health *h, struct rnode *n, const struct cam_rcluster_map *m,
		      int idx, const bool *want)
{
	struct redis *r = h->r;
	char where[CAM_RCLUSTER_ADDR], msg[512];
	redisContext *c = hconn_get(h, n, where, msg, sizeof(msg));
	redisReply *rep = NULL;
	int64_t t0;
	unsigned *slots = NULL, ns = 0;

	if (!c)
		goto out_down;
	slots = cam_xmalloc(CAM_RCLUSTER_SLOTS * sizeof(*slots));
	t0 = cam_mono_ns();
	redisAppendCommand(c, "PING");
	for (unsigned s = 0; s < CAM_RCLUSTER_SLOTS; s++) {
		if (m->node[s] != idx || !want[s])
			continue;
		redisAppendCommand(c, "GET cam:v2:{%s}:used", cam_rcluster_slot_tag(s));
		slots[ns++] = s;
	}
	if (redisGetReply(c, (void **)&rep) != REDIS_OK)
		goto out_io;
	atomic_store(&n->ping_us, (cam_mono_ns() - t0) / 1000);
	freeReplyObject(rep);
	for (unsigned i = 0; i < ns; i++) {
		if (redisGetReply(c, (void **)&rep) != REDIS_OK)
			goto out_io;
		counter_seen(h, slots[i], rep); /* MOVED (an error): not counted */
		freeReplyObject(rep);
	}
	free(slots);
	if (atomic_load(&n->down_since_ns))
		cam_rs_node_up(r, n);
	return;
out_io:
	free(slots);
	io_failed(h, n, where, msg, sizeof(msg));
out_down:
	atomic_store(&n->ping_us, -1);
	cam_rs_node_down(r, n, msg);
}

static void look_cluster(struct health *h)
{
	struct redis *r = h->r;
	struct cam_rcluster_map *m;
	bool *want;
	uint32_t round;

	if (map_refresh(h))
		return;
	m = cam_xmalloc(sizeof(*m));
	want = cam_xmalloc(CAM_RCLUSTER_SLOTS * sizeof(*want));
	pthread_mutex_lock(&r->lock);
	memcpy(m, r->map, sizeof(*m));
	pthread_mutex_unlock(&r->lock);
	slots_wanted(h, want);
	round = sum_begin(h);
	for (unsigned i = 0; i < m->nnodes; i++)
		look_node(h, cam_rs_node(r, m->addr[i]), m, (int)i, want);
	sum_apply(h, round);
	free(want);
	free(m);
}

/* ---- the thread -------------------------------------------------------------------------- */

static void *health_main(void *arg)
{
	struct health *h = arg;
	struct redis *r = h->r;
	int64_t next = cam_mono_ns() + (int64_t)r->ping_ms * 1000000, last_refresh = 0;

	pthread_mutex_lock(&r->stop_lock);
	while (!r->stopping) {
		int64_t now = cam_mono_ns();
		bool refresh = r->refresh_now && now - last_refresh >= REFRESH_MIN_MS * 1000000LL;
		struct timespec ts;

		if (now >= next || refresh) {
			r->refresh_now = false;
			pthread_mutex_unlock(&r->stop_lock);
			if (now >= next) {
				if (r->cluster)
					look_cluster(h);
				else
					look_single(h, false);
				next = cam_mono_ns() + (int64_t)r->ping_ms * 1000000;
			} else {
				map_refresh(h);
			}
			last_refresh = cam_mono_ns();
			pthread_mutex_lock(&r->stop_lock);
			continue;
		}
		if (r->refresh_now && last_refresh + REFRESH_MIN_MS * 1000000LL < next)
			now = last_refresh + REFRESH_MIN_MS * 1000000LL;
		else
			now = next;
		ts.tv_sec = now / 1000000000;
		ts.tv_nsec = now % 1000000000;
		pthread_cond_timedwait(&r->stop_cond, &r->stop_lock, &ts);
	}
	pthread_mutex_unlock(&r->stop_lock);
	for (unsigned i = 0; i < RS_MAX_NODES; i++)
		hconn_drop(&h->conns[i]);
	free(h);
	return NULL;
}

int cam_rs_health_start(struct redis *r, char *why)
{
	struct health *h = cam_xcalloc(1, sizeof(*h));

	h->r = r;
	/* The first look, before any call. */
	if (r->cluster)
		look_cluster(h);
	else
		look_single(h, true);
	if (h->v1[0]) {
		int rc = cam_memctx__fail(why, CAM_EINVAL, "%s", h->v1);

		for (unsigned i = 0; i < RS_MAX_NODES; i++)
			hconn_drop(&h->conns[i]);
		free(h);
		return rc;
	}
	if (pthread_create(&r->health, NULL, health_main, h)) {
		for (unsigned i = 0; i < RS_MAX_NODES; i++)
			hconn_drop(&h->conns[i]);
		free(h);
		return cam_memctx__fail(why, CAM_EIO, "cannot start the Redis health thread");
	}
	r->health_started = true;
	return 0;
}

void cam_rs_health_stop(struct redis *r)
{
	if (!r->health_started)
		return;
	pthread_mutex_lock(&r->stop_lock);
	r->stopping = true;
	pthread_cond_signal(&r->stop_cond);
	pthread_mutex_unlock(&r->stop_lock);
	pthread_join(r->health, NULL);
	r->health_started = false;
}
