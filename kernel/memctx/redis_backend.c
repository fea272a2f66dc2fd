/*
 * The Redis memory context backend (hiredis, blocking API).
 *
 * Each thread that calls the store (the gRPC workers) gets its own
 * connection, kept in thread-specific data and closed when the thread
 * ends, so workers never wait for one another. Every change is one Lua
 * script (redis_scripts.h has the key layout), which makes it atomic, also
 * between kernels sharing the Redis.
 *
 * The master is the URL's host, or with Sentinel (sentinel.h) the one the
 * sentinels name; then every new connection checks ROLE master, and a
 * connection error, READONLY, MASTERDOWN or a wrong ROLE asks the
 * sentinels again. When the master changes every thread reconnects before
 * its next command and the down state is lifted, so the first call after a
 * failover goes to the new master at once.
 *
 * Deadlines: a command waits at most the Redis timeout, or less when the
 * call's deadline comes first; a command cut short by the call's deadline
 * answers CAM_ETIMEDOUT and closes only that connection (a short client
 * deadline says nothing about Redis). With min_replicas_ack, a change that
 * succeeded is followed by WAIT for that many replicas, within the same
 * deadline; too few in time is CAM_EUNAVAIL saying the change reached the
 * master but was not confirmed.
 *
 * Failures: a command that cannot be sent, times out (timeout_ms) or finds
 * the connection closed marks Redis down. While it is down, calls answer
 * CAM_EUNAVAIL at once; one caller per back-off period (100 ms doubling to
 * backoff_max_ms) tries again. Each failure also bumps an epoch, and a
 * thread whose connection is older than the epoch reconnects before using
 * it, so after a Redis restart no worker sends into a dead socket. A
 * health thread PINGs every ping_interval_ms on a connection of its own:
 * it gives the "Redis Backend" component its state and latency, and lifts
 * the down state as soon as Redis answers again.
 *
 * A command that timed out may still run later (a Redis that hung and
 * came back): it was answered UNAVAILABLE, never acknowledged.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <hiredis/hiredis.h>
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
#include "kernel/memctx/backend.h"
#include "kernel/memctx/redis_scripts.h"
#include "kernel/memctx/sentinel.h"

#define BACKOFF_MIN_MS 100
/* "host:port" of a master, for messages. */
#define WHERE_LEN (CAM_SENTINEL_HOST + 8)

enum { S_WRITE, S_READ, S_DELETE, S_SNAPSHOT, S_RESTORE, S_SNAPSHOT_DELETE, NSCRIPTS };

static const char *const scripts[NSCRIPTS] = {
	SCRIPT_WRITE, SCRIPT_READ, SCRIPT_DELETE, SCRIPT_SNAPSHOT, SCRIPT_RESTORE,
	SCRIPT_SNAPSHOT_DELETE,
};

struct redis;

/* One thread's connection. */
struct conn {
	struct redis *r;
	redisContext *c;
	char where[WHERE_LEN];    /* the master it is connected to */
	int timeout_ms;           /* its sockets' timeout now */
	uint64_t epoch;           /* r->epoch when it connected */
	int connected_before;     /* a new connection is then a reconnect */
	char sha[NSCRIPTS][41];   /* script SHA1s, from SCRIPT LOAD */
	struct conn *prev, *next; /* r->conns */
};

struct redis {
	char host[256];           /* the URL's; with Sentinel, the sentinels decide */
	int port, db;
	char user[128], password[256];
	int timeout_ms, ping_ms, backoff_max_ms;
	unsigned min_acks;
	struct cam_memctx_limits l;
	cam_sentinel *sentinel;   /* NULL: the URL's host is the master */

	pthread_key_t key;        /* this thread's struct conn */
	pthread_mutex_t lock;     /* conns, last_error, master */
	struct conn *conns;
	char master[WHERE_LEN];   /* the master as last known, for messages */

	_Atomic uint64_t epoch;
	_Atomic int64_t down_until_ns; /* 0: up */
	_Atomic int backoff_ms;
	_Atomic uint64_t total;        /* cam:ctx:bytes as last seen */
	_Atomic uint64_t reconnects;
	_Atomic uint64_t master_changes;
	_Atomic uint64_t unconfirmed;
	_Atomic int64_t ping_us;       /* last PING round trip; -1: failed */
	_Atomic int64_t down_since_ns; /* 0: up */
	char last_error[512];

	pthread_t health;
	int health_started;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	int stopping;
};

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

/* --- connections ------------------------------------------------------ */

static void set_error(struct redis *r, const char *msg)
{
	pthread_mutex_lock(&r->lock);
	snprintf(r->last_error, sizeof(r->last_error), "%s", msg);
	pthread_mutex_unlock(&r->lock);
}

static void master_now(struct redis *r, char *where)
{
	pthread_mutex_lock(&r->lock);
	memcpy(where, r->master, WHERE_LEN);
	pthread_mutex_unlock(&r->lock);
}

/* Redis is down: later calls fail fast until the back-off passes. */
static void mark_down(struct redis *r, const char *msg)
{
	int64_t now = cam_mono_ns(), zero = 0;
	int b = atomic_load(&r->backoff_ms);

	atomic_fetch_add(&r->epoch, 1);
	set_error(r, msg);
	if (atomic_compare_exchange_strong(&r->down_since_ns, &zero, now))
		cam_log(CAM_LOG_WARN, "memctx", "Redis is unavailable: %s", msg);
	b = b ? (b * 2 > r->backoff_max_ms ? r->backoff_max_ms : b * 2) : BACKOFF_MIN_MS;
	atomic_store(&r->backoff_ms, b);
	atomic_store(&r->down_until_ns, now + (int64_t)b * 1000000);
	if (r->sentinel)
		cam_sentinel_suspect(r->sentinel);
}

static void mark_up(struct redis *r)
{
	int64_t since = atomic_exchange(&r->down_since_ns, 0);
	char where[WHERE_LEN];

	atomic_store(&r->down_until_ns, 0);
	atomic_store(&r->backoff_ms, 0);
	if (since) {
		master_now(r, where);
		cam_log(CAM_LOG_INFO, "memctx", "Redis at %s is back after %.1f s", where,
			(double)(cam_mono_ns() - since) / 1e9);
	}
}

/*
 * The sentinels named a new master (sentinel thread): every thread
 * reconnects before its next command, and the down state is lifted so
 * the next call tries the new master at once.
 */
static void master_changed(void *arg, const char *old_host, int old_port, const char *host,
			   int port)
{
	struct redis *r = arg;

	(void)old_port;
	pthread_mutex_lock(&r->lock);
	snprintf(r->master, sizeof(r->master), "%s:%d", host, port);
	pthread_mutex_unlock(&r->lock);
	if (old_host[0])
		atomic_fetch_add(&r->master_changes, 1);
	atomic_fetch_add(&r->epoch, 1);
	atomic_store(&r->backoff_ms, 0);
	atomic_store(&r->down_until_ns, 0);
}

/* The time a command may take: the Redis timeout, or what is left before
 * the deadline when that is shorter (*by_deadline set); 0 when the
 * deadline has passed. */
static int budget_ms(const struct redis *r, int64_t deadline_ns, bool *by_deadline)
{
	int64_t left;

	*by_deadline = false;
	if (!deadline_ns)
		return r->timeout_ms;
	left = (deadline_ns - cam_mono_ns()) / 1000000;
	if (left >= r->timeout_ms)
		return r->timeout_ms;
	*by_deadline = true;
	return left > 0 ? (int)left : 0;
}

static struct timeval tv_of(int ms)
{
	return (struct timeval){ ms / 1000, ms % 1000 * 1000 };
}

/* The master to dial now into host/port, or -1 with msg filled. */
static int master_addr(struct redis *r, char *host, int *port, char *msg, size_t len)
{
	if (!r->sentinel) {
		snprintf(host, CAM_SENTINEL_HOST, "%s", r->host);
		*port = r->port;
		return 0;
	}
	if (cam_sentinel_master(r->sentinel, host, port) == 0)
		return 0;
	snprintf(msg, len, "no sentinel has named master %s yet",
		 cam_sentinel_name(r->sentinel));
	cam_sentinel_suspect(r->sentinel);
	return -1;
}

/* With Sentinel: whether c's Redis says ROLE master (else msg filled). */
static int check_role(struct redis *r, redisContext *c, const char *where, char *msg,
		      size_t len)
{
	redisReply *rep = redisCommand(c, "ROLE");
	int ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
		 rep->element[0]->type == REDIS_REPLY_STRING &&
		 strcmp(rep->element[0]->str, "master") == 0;

	if (!ok)
		snprintf(msg, len, "%s is not the master of %s (ROLE %s)", where,
			 cam_sentinel_name(r->sentinel),
			 rep && rep->type == REDIS_REPLY_ARRAY && rep->elements &&
					 rep->element[0]->type == REDIS_REPLY_STRING
				 ? rep->element[0]->str
				 : "did not answer");
	if (rep)
		freeReplyObject(rep);
	return ok ? 0 : -1;
}

/* A connected, authenticated context on the right database of the master,
 * within ms, or NULL with msg filled; where gets "host:port". */
static redisContext *dial(struct redis *r, int ms, char *where, char *msg, size_t len)
{
	char host[CAM_SENTINEL_HOST];
	int port;
	redisContext *c = NULL;
	redisReply *rep = NULL;

	if (master_addr(r, host, &port, msg, len))
		return NULL;
	snprintf(where, WHERE_LEN, "%s:%d", host, port);
	c = redisConnectWithTimeout(host, port, tv_of(ms));
	if (!c || c->err) {
		snprintf(msg, len, "cannot connect to %s: %s", where, c ? c->errstr : "out of memory");
		goto out_free;
	}
	redisSetTimeout(c, tv_of(ms));
	if (r->password[0]) {
		rep = r->user[0] ? redisCommand(c, "AUTH %s %s", r->user, r->password)
				 : redisCommand(c, "AUTH %s", r->password);
		if (!rep || rep->type == REDIS_REPLY_ERROR) {
			snprintf(msg, len, "authentication to %s failed", where);
			goto out_free;
		}
		freeReplyObject(rep);
		rep = NULL;
	}
	if (r->sentinel && check_role(r, c, where, msg, len))
		goto out_free;
	if (r->db) {
		rep = redisCommand(c, "SELECT %d", r->db);
		if (!rep || rep->type == REDIS_REPLY_ERROR) {
			snprintf(msg, len, "SELECT %d on %s failed: %s", r->db, where,
				 rep ? rep->str : c->errstr);
			goto out_free;
		}
		freeReplyObject(rep);
	}
	if (r->sentinel)
		cam_sentinel_master_ok(r->sentinel);
	return c;
out_free:
	if (rep)
		freeReplyObject(rep);
	if (c)
		redisFree(c);
	return NULL;
}

/* Loads the scripts on a new connection (pipelined). */
static int load_scripts(struct conn *k, char *msg, size_t len)
{
	redisReply *rep;
	int rc = 0;

	for (int i = 0; i < NSCRIPTS; i++)
		redisAppendCommand(k->c, "SCRIPT LOAD %s", scripts[i]);
	for (int i = 0; i < NSCRIPTS; i++) {
		if (redisGetReply(k->c, (void **)&rep) != REDIS_OK) {
			snprintf(msg, len, "%s: %s", k->where, k->c->errstr);
			return -1;
		}
		if (rep->type == REDIS_REPLY_STRING && rep->len == 40)
			memcpy(k->sha[i], rep->str, 41);
		else if (!rc) {
			snprintf(msg, len, "SCRIPT LOAD on %s failed: %.80s", k->where,
				 rep->type == REDIS_REPLY_ERROR ? rep->str : "bad reply");
			rc = -1;
		}
		freeReplyObject(rep);
	}
	return rc;
}

static void conn_close(struct conn *k)
{
	if (k->c)
		redisFree(k->c);
	k->c = NULL;
}

/* Thread exit: closes and forgets this thread's connection. */
static void conn_free(void *p)
{
	struct conn *k = p;
	struct redis *r = k->r;

	pthread_mutex_lock(&r->lock);
	if (k->prev)
		k->prev->next = k->next;
	else
		r->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&r->lock);
	conn_close(k);
	free(k);
}

static struct conn *this_conn(struct redis *r)
{
	struct conn *k = pthread_getspecific(r->key);

	if (k)
		return k;
	k = cam_xcalloc(1, sizeof(*k));
	k->r = r;
	pthread_mutex_lock(&r->lock);
	k->next = r->conns;
	if (r->conns)
		r->conns->prev = k;
	r->conns = k;
	pthread_mutex_unlock(&r->lock);
	pthread_setspecific(r->key, k);
	return k;
}

static int deadline_passed(char *why)
{
	return cam_memctx__fail(why, CAM_ETIMEDOUT,
				"the call's deadline passed before Redis answered");
}

/*
 * This thread's usable connection, or NULL with *rc and why filled:
 * CAM_EUNAVAIL at once while Redis is down and the back-off has not
 * passed (after it, one caller claims the retry), CAM_ETIMEDOUT when the
 * deadline leaves no time to connect.
 */
static struct conn *get_conn(struct redis *r, int64_t deadline_ns, int *rc, char *why)
{
	struct conn *k = this_conn(r);
	int64_t until = atomic_load(&r->down_until_ns), now;
	char msg[512];
	bool by_deadline;
	int ms;

	*rc = CAM_EUNAVAIL;
	if (until) {
		now = cam_mono_ns();
		if (now < until ||
		    !atomic_compare_exchange_strong(&r->down_until_ns, &until,
						    now + (int64_t)BACKOFF_MIN_MS * 1000000)) {
			pthread_mutex_lock(&r->lock);
			cam_memctx__fail(why, CAM_EUNAVAIL, "Redis is unavailable (%s); retrying in the background",
				    r->last_error);
			pthread_mutex_unlock(&r->lock);
			return NULL;
		}
	}
	if (k->c && k->epoch != atomic_load(&r->epoch))
		conn_close(k);
	if (k->c)
		return k;
	if (!(ms = budget_ms(r, deadline_ns, &by_deadline))) {
		*rc = deadline_passed(why);
		return NULL;
	}
	k->epoch = atomic_load(&r->epoch);
	k->c = dial(r, ms, k->where, msg, sizeof(msg));
	k->timeout_ms = ms;
	if (k->c && load_scripts(k, msg, sizeof(msg)) == 0) {
		if (k->connected_before)
			atomic_fetch_add(&r->reconnects, 1);
		k->connected_before = 1;
		if (until)
			mark_up(r);
		return k;
	}
	conn_close(k);
	if (by_deadline && (strstr(msg, "timed out") || strstr(msg, "temporarily"))) {
		*rc = deadline_passed(why);
		return NULL;
	}
	mark_down(r, msg);
	cam_memctx__fail(why, CAM_EUNAVAIL, "Redis is unavailable: %s", msg);
	return NULL;
}

/* After a failed command: the connection is unusable (timeout, reset).
 * Cut short by the call's deadline, only this connection goes. */
static int conn_failed(struct conn *k, bool by_deadline, char *why)
{
	struct redis *r = k->r;
	char msg[512];
	bool timed_out = k->c->err == REDIS_ERR_IO &&
			 (errno == EAGAIN || errno == EWOULDBLOCK || strstr(k->c->errstr, "temporarily"));

	if (timed_out && by_deadline) {
		conn_close(k);
		return deadline_passed(why);
	}
	if (timed_out)
		snprintf(msg, sizeof(msg), "%s did not answer within %d ms", k->where, r->timeout_ms);
	else
		snprintf(msg, sizeof(msg), "%s: %s", k->where,
			 k->c->errstr[0] ? k->c->errstr : "connection lost");
	conn_close(k);
	mark_down(r, msg);
	return cam_memctx__fail(why, CAM_EUNAVAIL, "Redis is unavailable: %s", msg);
}

/* An error reply: what it means for the caller. READONLY, MASTERDOWN and
 * NOREPLICAS (min-replicas-to-write) say this is not, or no longer, a
 * master that can take writes: the connection goes and, with Sentinel,
 * the sentinels are asked. */
static int reply_error(struct conn *k, const redisReply *rep, char *why)
{
	/* The first three: not (or no longer) a master that can take writes. */
	static const char *const unavailable[] = { "MASTERDOWN", "READONLY", "NOREPLICAS",
						   "LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN",
						   "NOAUTH", NULL };

	for (size_t i = 0; unavailable[i]; i++) {
		if (strncmp(rep->str, unavailable[i], strlen(unavailable[i])) != 0)
			continue;
		if (i < 3) {
			conn_close(k);
			if (k->r->sentinel)
				cam_sentinel_suspect(k->r->sentinel);
		}
		return cam_memctx__fail(why, CAM_EUNAVAIL, "Redis cannot serve now: %.100s",
					rep->str);
	}
	if (strncmp(rep->str, "OOM", 3) == 0)
		return cam_memctx__fail(why, CAM_ELIMIT, "Redis is out of memory (maxmemory)");
	return cam_memctx__fail(why, CAM_EINTERNAL, "Redis error: %.120s", rep->str);
}

/* Sets k's socket timeout to ms (a system call only when it changes). */
static void conn_timeout(struct conn *k, int ms)
{
	if (k->timeout_ms == ms)
		return;
	redisSetTimeout(k->c, tv_of(ms));
	k->timeout_ms = ms;
}

/*
 * One command on this thread's connection within the deadline: *out gets
 * the reply (caller frees; an error reply is turned into its code here).
 */
static int send_on(struct conn *k, int64_t deadline_ns, int argc, const char **argv,
		   const size_t *lens, redisReply **out, char *why)
{
	struct redis *r = k->r;
	redisReply *rep;
	bool by_deadline;
	int ms, rc;

	if (!(ms = budget_ms(r, deadline_ns, &by_deadline)))
		return deadline_passed(why);
	conn_timeout(k, ms);
	rep = redisCommandArgv(k->c, argc, argv, lens);
	if (!rep)
		return conn_failed(k, by_deadline, why);
	if (atomic_load(&r->down_until_ns))
		mark_up(r);
	if (rep->type == REDIS_REPLY_ERROR) {
		rc = reply_error(k, rep, why);
		freeReplyObject(rep);
		return rc;
	}
	*out = rep;
	return 0;
}

static int command(struct redis *r, int64_t deadline_ns, int argc, const char **argv,
		   const size_t *lens, redisReply **out, char *why)
{
	struct conn *k;
	int rc;

	if (!(k = get_conn(r, deadline_ns, &rc, why)))
		return rc;
	return send_on(k, deadline_ns, argc, argv, lens, out, why);
}

/*
 * Runs script s with nkeys keys then args (lens: byte lengths, for binary
 * values). *out gets an array reply (caller frees) whose first element is
 * an integer status.
 */
static int run_script(struct redis *r, int64_t deadline_ns, int s, int nkeys, int argc,
		      const char **argv, const size_t *lens, redisReply **out, char *why)
{
	const char *av[20];
	size_t al[20];
	char nk[8];
	char w[CAM_MEMCTX_WHY] = "";
	struct conn *k;
	redisReply *rep = NULL;
	int rc;

	if (!(k = get_conn(r, deadline_ns, &rc, why)))
		return rc;
	snprintf(nk, sizeof(nk), "%d", nkeys);
	av[0] = "EVALSHA";
	av[1] = k->sha[s];
	av[2] = nk;
	al[0] = 7;
	al[1] = 40;
	al[2] = strlen(nk);
	for (int i = 0; i < argc; i++) {
		av[3 + i] = argv[i];
		al[3 + i] = lens ? lens[i] : strlen(argv[i]);
	}
	rc = command(r, deadline_ns, argc + 3, av, al, &rep, w);
	if (rc == CAM_EINTERNAL && strstr(w, "NOSCRIPT")) {
		av[0] = "EVAL";
		av[1] = scripts[s];
		al[0] = 4;
		al[1] = strlen(scripts[s]);
		rc = command(r, deadline_ns, argc + 3, av, al, &rep, w);
	}
	if (rc)
		return cam_memctx__fail(why, rc, "%s", w);
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER) {
		freeReplyObject(rep);
		return cam_memctx__fail(why, CAM_EINTERNAL, "Redis script gave an unexpected reply");
	}
	*out = rep;
	return 0;
}

/*
 * After a change that succeeded: with min_replicas_ack, WAIT until that
 * many replicas have it, within the deadline (or the Redis timeout).
 * CAM_EUNAVAIL when fewer confirm in time: the change is on the master
 * but not acknowledged. what names the change in the message.
 */
static int confirm(struct redis *r, int64_t deadline_ns, const char *what, char *why)
{
	char n[16], ms_s[16];
	const char *av[3] = { "WAIT", n, ms_s };
	redisReply *rep = NULL;
	bool by_deadline;
	int ms = budget_ms(r, deadline_ns, &by_deadline), wait_ms, rc;
	long long got = 0;
	struct conn *k = this_conn(r);

	if (!r->min_acks)
		return 0;
	/* WAIT gives up a little before the socket would (WAIT 0 would
	 * block for ever). It must go on the very connection that made the
	 * change: on a new one (the master changed meanwhile) it would
	 * confirm nothing of it. */
	wait_ms = ms - (ms / 10 < 50 ? ms / 10 : 50);
	if (wait_ms >= 1 && k->c && k->epoch == atomic_load(&r->epoch)) {
		snprintf(n, sizeof(n), "%u", r->min_acks);
		snprintf(ms_s, sizeof(ms_s), "%d", wait_ms);
		rc = send_on(k, deadline_ns, 3, av, NULL, &rep, why);
		if (rc == 0 && rep->type == REDIS_REPLY_INTEGER)
			got = rep->integer;
		if (rep)
			freeReplyObject(rep);
		if (got >= (long long)r->min_acks)
			return 0;
	}
	atomic_fetch_add(&r->unconfirmed, 1);
	return cam_memctx__fail(why, CAM_EUNAVAIL,
				"%s reached the Redis master but only %lld of %u replicas confirmed it "
				"in time (CAM_REDIS_MIN_REPLICAS_ACK): not acknowledged",
				what, got, r->min_acks);
}

static long long el_int(const redisReply *rep, size_t i)
{
	const redisReply *e;

	if (i >= rep->elements)
		return 0;
	e = rep->element[i];
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer;
	if (e->type == REDIS_REPLY_STRING)
		return strtoll(e->str, NULL, 10);
	return 0;
}

static const redisReply *el_str(const redisReply *rep, size_t i)
{
	if (i >= rep->elements || rep->element[i]->type != REDIS_REPLY_STRING)
		return NULL;
	return rep->element[i];
}

/* --- key names -------------------------------------------------------- */

struct names {
	char ns[CAM_MEMCTX_MAX_NAME + 16], keys[CAM_MEMCTX_MAX_NAME + 24];
	char kprefix[CAM_MEMCTX_MAX_NAME + 24], key[2 * CAM_MEMCTX_MAX_NAME + 32];
	char snaps[CAM_MEMCTX_MAX_NAME + 24];
};

static void names_of(struct names *n, const char *ns, const char *key)
{
	snprintf(n->ns, sizeof(n->ns), "cam:ctx:ns:%s", ns);
	snprintf(n->keys, sizeof(n->keys), "cam:ctx:ns:%s:keys", ns);
	snprintf(n->kprefix, sizeof(n->kprefix), "cam:ctx:ns:%s:k:", ns);
	snprintf(n->snaps, sizeof(n->snaps), "cam:ctx:ns:%s:snaps", ns);
	snprintf(n->key, sizeof(n->key), "cam:ctx:ns:%s:k:%s", ns, key ? key : "");
}

static const char TOTAL_KEY[] = "cam:ctx:bytes";

/* --- operations ------------------------------------------------------- */

static int rd_write(void *b, int64_t deadline_ns, const char *ns, const char *key,
		    const void *val, size_t len, int64_t expected, int64_t now_ms,
		    struct cam_memctx_version *out, uint64_t *current, char *why)
{
	struct redis *r = b;
	struct names n;
	char exp[24], keep[16], maxk[24], maxt[24], now[24];
	const char *argv[11];
	size_t lens[11];
	redisReply *rep;
	int rc;

	names_of(&n, ns, key);
	snprintf(exp, sizeof(exp), "%lld", (long long)expected);
	snprintf(keep, sizeof(keep), "%u", r->l.keep_versions);
	snprintf(maxk, sizeof(maxk), "%zu", r->l.max_keys);
	snprintf(maxt, sizeof(maxt), "%llu", (unsigned long long)r->l.max_total_bytes);
	snprintf(now, sizeof(now), "%lld", (long long)now_ms);
	argv[0] = n.ns; argv[1] = n.keys; argv[2] = n.key; argv[3] = TOTAL_KEY;
	argv[4] = key; argv[5] = len ? val : ""; argv[6] = exp; argv[7] = keep;
	argv[8] = maxk; argv[9] = maxt; argv[10] = now;
	for (int i = 0; i < 11; i++)
		lens[i] = i == 5 ? len : strlen(argv[i]);
	if ((rc = run_script(r, deadline_ns, S_WRITE, 4, 11, argv, lens, &rep, why)))
		return rc;
	switch (el_int(rep, 0)) {
	case 1: {
		char what[64];

		*out = (struct cam_memctx_version){ (uint64_t)el_int(rep, 1), now_ms, len };
		atomic_store(&r->total, (uint64_t)el_int(rep, 2));
		snprintf(what, sizeof(what), "the write (version %llu)",
			 (unsigned long long)out->version);
		rc = confirm(r, deadline_ns, what, why);
		break;
	}
	case -1:
		*current = (uint64_t)el_int(rep, 1);
		rc = cam_memctx__fail(why, CAM_MEMCTX_ECONFLICT,
				 "expected version %lld but the latest is %llu", (long long)expected,
				 (unsigned long long)*current);
		break;
	case -2:
		rc = cam_memctx__fail(why, CAM_ELIMIT, "namespace is full (%zu keys)", r->l.max_keys);
		break;
	default:
		rc = cam_memctx__fail(why, CAM_ELIMIT,
				 "store is full: %lld of %llu bytes used, value needs %zu",
				 el_int(rep, 1), (unsigned long long)r->l.max_total_bytes, len);
		break;
	}
	freeReplyObject(rep);
	return rc;
}

static int rd_read(void *b, int64_t deadline_ns, const char *ns, const char *key,
		   uint64_t version, struct cam_memctx_value *out, char *why)
{
	struct redis *r = b;
	struct names n;
	char ver[24];
	const char *argv[4];
	const redisReply *v;
	redisReply *rep;
	int rc;

	names_of(&n, ns, key);
	snprintf(ver, sizeof(ver), "%llu", (unsigned long long)version);
	argv[0] = n.keys; argv[1] = n.key; argv[2] = key; argv[3] = ver;
	if ((rc = run_script(r, deadline_ns, S_READ, 2, 4, argv, NULL, &rep, why)))
		return rc;
	switch (el_int(rep, 0)) {
	case 1:
		if (!(v = el_str(rep, 3))) {
			rc = cam_memctx__fail(why, CAM_EINTERNAL, "Redis script gave an unexpected reply");
			break;
		}
		out->v = (struct cam_memctx_version){ (uint64_t)el_int(rep, 1), el_int(rep, 2),
						      v->len };
		out->data = cam_xmalloc(v->len + 1);
		memcpy(out->data, v->str, v->len);
		out->data[v->len] = '\0';
		break;
	case 0:
		rc = cam_memctx__fail(why, CAM_ENOENT, "no key %s in namespace %s", key, ns);
		break;
	default:
		rc = cam_memctx__fail(why, CAM_ENOENT, "key %s has no version %llu (it may have been pruned)",
				 key, (unsigned long long)version);
		break;
	}
	freeReplyObject(rep);
	return rc;
}

static int rd_versions(void *b, int64_t deadline_ns, const char *ns, const char *key,
		       struct cam_memctx_version *out, size_t max, size_t *n, char *why)
{
	struct redis *r = b;
	struct names nm;
	const char *argv[3] = { "HGET", nm.key, "list" };
	redisReply *rep;
	const char *p;
	int rc = 0;

	names_of(&nm, ns, key);
	if ((rc = command(r, deadline_ns, 3, argv, NULL, &rep, why)))
		return rc;
	if (rep->type != REDIS_REPLY_STRING) {
		rc = cam_memctx__fail(why, CAM_ENOENT, "no key %s in namespace %s", key, ns);
	} else {
		for (p = rep->str; *p && *n < max;) {
			unsigned long long v, ms, sz;
			int used = 0;

			if (sscanf(p, "%llu:%llu:%llu%n", &v, &ms, &sz, &used) != 3)
				break;
			out[(*n)++] = (struct cam_memctx_version){ v, (int64_t)ms, (size_t)sz };
			p += used;
			if (*p == ';')
				p++;
		}
	}
	freeReplyObject(rep);
	return rc;
}

static int rd_del(void *b, int64_t deadline_ns, const char *ns, const char *key,
		  size_t *removed, char *why)
{
	struct redis *r = b;
	struct names n;
	const char *argv[5];
	redisReply *rep;
	int rc;

	names_of(&n, ns, key);
	argv[0] = n.ns; argv[1] = n.keys; argv[2] = TOTAL_KEY;
	argv[3] = n.kprefix; argv[4] = key ? key : "";
	if ((rc = run_script(r, deadline_ns, S_DELETE, 3, 5, argv, NULL, &rep, why)))
		return rc;
	*removed = (size_t)el_int(rep, 0);
	if (*removed) {
		atomic_store(&r->total, (uint64_t)el_int(rep, 1));
		rc = confirm(r, deadline_ns, "the delete", why);
	} else if (key)
		rc = cam_memctx__fail(why, CAM_ENOENT, "no key %s in namespace %s", key, ns);
	else
		rc = cam_memctx__fail(why, CAM_ENOENT, "namespace %s has no keys", ns);
	freeReplyObject(rep);
	return rc;
}

static int rd_snapshot(void *b, int64_t deadline_ns, const char *ns, const char *id,
		       int64_t now_ms, size_t *keys, char *why)
{
	struct redis *r = b;
	struct names n;
	char snap[64], maxs[16], maxt[24], now[24];
	const char *argv[12];
	redisReply *rep;
	int rc;

	names_of(&n, ns, NULL);
	snprintf(snap, sizeof(snap), "cam:ctx:snap:%s", id);
	snprintf(maxs, sizeof(maxs), "%u", r->l.max_snapshots);
	snprintf(maxt, sizeof(maxt), "%llu", (unsigned long long)r->l.max_total_bytes);
	snprintf(now, sizeof(now), "%lld", (long long)now_ms);
	argv[0] = n.ns; argv[1] = n.keys; argv[2] = n.snaps; argv[3] = TOTAL_KEY;
	argv[4] = snap; argv[5] = n.kprefix; argv[6] = snap; argv[7] = maxs;
	argv[8] = maxt; argv[9] = now; argv[10] = ns; argv[11] = id;
	if ((rc = run_script(r, deadline_ns, S_SNAPSHOT, 5, 12, argv, NULL, &rep, why)))
		return rc;
	switch (el_int(rep, 0)) {
	case 1:
		*keys = (size_t)el_int(rep, 1);
		atomic_store(&r->total, (uint64_t)el_int(rep, 2));
		rc = confirm(r, deadline_ns, "the snapshot", why);
		break;
	case 0:
		rc = cam_memctx__fail(why, CAM_ENOENT, "namespace %s has no keys", ns);
		break;
	case -2:
		rc = cam_memctx__fail(why, CAM_ELIMIT, "namespace %s already has %u snapshots (the limit)",
				 ns, r->l.max_snapshots);
		break;
	case -3:
		rc = cam_memctx__fail(why, CAM_ELIMIT, "store is full: no room for a snapshot of %s", ns);
		break;
	default:
		rc = cam_memctx__fail(why, CAM_EINTERNAL, "snapshot id collision; try again");
		break;
	}
	freeReplyObject(rep);
	return rc;
}

static int rd_restore(void *b, int64_t deadline_ns, const char *id, char *ns, size_t *keys,
		      char *why)
{
	struct redis *r = b;
	char snap[64], maxt[24];
	const char *argv[4];
	const redisReply *name;
	redisReply *rep;
	int rc;

	snprintf(snap, sizeof(snap), "cam:ctx:snap:%s", id);
	snprintf(maxt, sizeof(maxt), "%llu", (unsigned long long)r->l.max_total_bytes);
	argv[0] = snap; argv[1] = TOTAL_KEY; argv[2] = snap; argv[3] = maxt;
	if ((rc = run_script(r, deadline_ns, S_RESTORE, 2, 4, argv, NULL, &rep, why)))
		return rc;
	switch (el_int(rep, 0)) {
	case 1:
		name = el_str(rep, 1);
		snprintf(ns, CAM_MEMCTX_MAX_NAME + 1, "%s", name ? name->str : "");
		*keys = (size_t)el_int(rep, 2);
		atomic_store(&r->total, (uint64_t)el_int(rep, 3));
		rc = confirm(r, deadline_ns, "the restore", why);
		break;
	case 0:
		rc = cam_memctx__fail(why, CAM_ENOENT, "no snapshot %s", id);
		break;
	default:
		rc = cam_memctx__fail(why, CAM_ELIMIT, "store is full: no room to restore %s", id);
		break;
	}
	freeReplyObject(rep);
	return rc;
}

static int rd_snapshot_delete(void *b, int64_t deadline_ns, const char *id, char *why)
{
	struct redis *r = b;
	char snap[64];
	const char *argv[4];
	redisReply *rep;
	int rc;

	snprintf(snap, sizeof(snap), "cam:ctx:snap:%s", id);
	argv[0] = snap; argv[1] = TOTAL_KEY; argv[2] = snap; argv[3] = id;
	if ((rc = run_script(r, deadline_ns, S_SNAPSHOT_DELETE, 2, 4, argv, NULL, &rep, why)))
		return rc;
	if (el_int(rep, 0) == 1) {
		atomic_store(&r->total, (uint64_t)el_int(rep, 1));
		rc = confirm(r, deadline_ns, "the snapshot delete", why);
	} else
		rc = cam_memctx__fail(why, CAM_ENOENT, "no snapshot %s", id);
	freeReplyObject(rep);
	return rc;
}

static int rd_snapshot_ns(void *b, int64_t deadline_ns, const char *id, char *ns, char *why)
{
	struct redis *r = b;
	char snap[64];
	const char *argv[3] = { "HGET", snap, "ns" };
	redisReply *rep = NULL;
	int rc;

	snprintf(snap, sizeof(snap), "cam:ctx:snap:%s", id);
	if ((rc = command(r, deadline_ns, 3, argv, NULL, &rep, why)))
		return rc;
	if (rep->type == REDIS_REPLY_STRING)
		snprintf(ns, CAM_MEMCTX_MAX_NAME + 1, "%s", rep->str);
	else
		rc = cam_memctx__fail(why, CAM_ENOENT, "no snapshot %s", id);
	freeReplyObject(rep);
	return rc;
}

static uint64_t rd_size_bytes(void *b)
{
	struct redis *r = b;

	return atomic_load(&r->total);
}

static enum cam_component_status rd_health(void *b, char *msg, size_t len)
{
	struct redis *r = b;
	int64_t us = atomic_load(&r->ping_us), since = atomic_load(&r->down_since_ns);
	char group[160] = "";

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

/* --- health thread ---------------------------------------------------- */

/* The health thread's own connection. */
struct health_conn {
	redisContext *c;
	char where[WHERE_LEN];
	uint64_t epoch;
};

/* One PING (and a read of the byte counter) on the health connection. */
static void ping_once(struct redis *r, struct health_conn *h)
{
	char msg[512];
	redisReply *rep = NULL;
	int64_t t0 = cam_mono_ns();

	if (h->c && h->epoch != atomic_load(&r->epoch)) {
		redisFree(h->c);
		h->c = NULL;
	}
	if (!h->c) {
		h->epoch = atomic_load(&r->epoch);
		if (!(h->c = dial(r, r->timeout_ms, h->where, msg, sizeof(msg))))
			goto out_down;
	}
	redisAppendCommand(h->c, "PING");
	redisAppendCommand(h->c, "GET %s", TOTAL_KEY);
	if (redisGetReply(h->c, (void **)&rep) != REDIS_OK)
		goto out_io;
	atomic_store(&r->ping_us, (cam_mono_ns() - t0) / 1000);
	freeReplyObject(rep);
	if (redisGetReply(h->c, (void **)&rep) != REDIS_OK)
		goto out_io;
	if (rep->type == REDIS_REPLY_STRING)
		atomic_store(&r->total, strtoull(rep->str, NULL, 10));
	else if (rep->type == REDIS_REPLY_NIL)
		atomic_store(&r->total, 0);
	freeReplyObject(rep);
	if (atomic_load(&r->down_since_ns))
		mark_up(r);
	return;
out_io:
	snprintf(msg, sizeof(msg), "%s: %s", h->where,
		 h->c->err == REDIS_ERR_IO &&
				 (errno == EAGAIN || strstr(h->c->errstr, "temporarily"))
			 ? "PING timed out" : h->c->errstr);
	redisFree(h->c);
	h->c = NULL;
out_down:
	atomic_store(&r->ping_us, -1);
	mark_down(r, msg);
}

static void *health_main(void *arg)
{
	struct redis *r = arg;
	struct health_conn h = { 0 };
	struct timespec ts;

	pthread_mutex_lock(&r->stop_lock);
	while (!r->stopping) {
		pthread_mutex_unlock(&r->stop_lock);
		ping_once(r, &h);
		pthread_mutex_lock(&r->stop_lock);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += r->ping_ms / 1000;
		ts.tv_nsec += (long)(r->ping_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (!r->stopping)
			pthread_cond_timedwait(&r->stop_cond, &r->stop_lock, &ts);
	}
	pthread_mutex_unlock(&r->stop_lock);
	if (h.c)
		redisFree(h.c);
	return NULL;
}

static uint64_t rd_reconnects(void *b)
{
	struct redis *r = b;

	return atomic_load(&r->reconnects);
}

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
		snprintf(r->master, sizeof(r->master), "%s:%d", host, port);
	else
		snprintf(r->master, sizeof(r->master), "(master %s not known yet)",
			 cam_sentinel_name(r->sentinel));
	return 0;
}

int cam_memctx__redis_new(const struct cam_memctx_opts *o, void **out, char *why)
{
	struct redis *r = cam_xcalloc(1, sizeof(*r));
	bool sentinels = o->sentinels && *o->sentinels;
	pthread_condattr_t ca;
	int rc;

	if (o->redis_url && *o->redis_url && (rc = parse_url(r, o->redis_url, why))) {
		free(r);
		return rc;
	}
	r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 1000;
	r->ping_ms = o->ping_interval_ms > 0 ? o->ping_interval_ms : 1000;
	r->backoff_max_ms = o->backoff_max_ms >= BACKOFF_MIN_MS ? o->backoff_max_ms : 2000;
	r->min_acks = o->min_replicas_ack;
	r->l = o->limits;
	snprintf(r->master, sizeof(r->master), "%s:%d", r->host, r->port);
	pthread_mutex_init(&r->lock, NULL);
	if (sentinels && (rc = start_sentinel(r, o, why))) {
		pthread_mutex_destroy(&r->lock);
		free(r);
		return rc;
	}
	pthread_mutex_init(&r->stop_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->stop_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_key_create(&r->key, conn_free);
	/* The first PING runs now, so state is known before the first call. */
	{
		struct health_conn h = { 0 };

		ping_once(r, &h);
		if (h.c)
			redisFree(h.c);
	}
	if (pthread_create(&r->health, NULL, health_main, r) == 0)
		r->health_started = 1;
	*out = r;
	return 0;
}

static void rd_free(void *b)
{
	struct redis *r = b;
	struct conn *k = pthread_getspecific(r->key);

	pthread_mutex_lock(&r->stop_lock);
	r->stopping = 1;
	pthread_cond_signal(&r->stop_cond);
	pthread_mutex_unlock(&r->stop_lock);
	if (r->health_started)
		pthread_join(r->health, NULL);
	/* No more master changes from here on. */
	cam_sentinel_free(r->sentinel);
	/* Threads that ended already freed theirs; free what is left. */
	if (k)
		pthread_setspecific(r->key, NULL);
	while (r->conns)
		conn_free(r->conns);
	pthread_key_delete(r->key);
	pthread_cond_destroy(&r->stop_cond);
	pthread_mutex_destroy(&r->stop_lock);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

const struct cam_memctx__ops cam_memctx__redis_ops = {
	.name = "redis",
	.write = rd_write,
	.read = rd_read,
	.versions = rd_versions,
	.del = rd_del,
	.snapshot = rd_snapshot,
	.restore = rd_restore,
	.snapshot_delete = rd_snapshot_delete,
	.snapshot_ns = rd_snapshot_ns,
	.size_bytes = rd_size_bytes,
	.reconnects = rd_reconnects,
	.master_changes = rd_master_changes,
	.unconfirmed = rd_unconfirmed,
	.health = rd_health,
	.free = rd_free,
};
