/*
 * One pipelined connection of a lane to a Redis node (redis_store.h):
 * hiredis's asynchronous context on the lane's loop.
 *
 * A new connection first sends its handshake, pipelined: AUTH, SELECT,
 * ROLE (with Sentinel: the node must say master), SCRIPT LOAD of every
 * script (their SHA1s for EVALSHA), and on a single Redis an EXISTS of
 * layout v1's byte counter (found: refused, see redis_health.c). Calls
 * wait in the connection's pending list until it is done, then go out as
 * they come, many calls' commands in one write: at most max_inflight
 * commands (and RS_MAX_INFLIGHT_BYTES) sent and not yet answered, more
 * waiting in order behind them (as many again; past that a call is
 * refused UNAVAILABLE at once). Replies come back in order and complete
 * their calls in order.
 *
 * With min_replicas_ack, one WAIT goes out after the commands of a round
 * that changed the store, and its answer confirms every change sent
 * before it on this connection (Redis answers WAIT about the replication
 * offset of the connection's last write). One WAIT at a time: Redis holds
 * the connection while a WAIT waits, so changes sent meanwhile are all
 * covered by the next one, sent when the first answers; the busier the
 * connection, the larger the batch each WAIT confirms.
 *
 * The watchdog: the oldest command sent must be answered within the Redis
 * timeout (more when a WAIT ahead of it may hold the node); past it, or
 * with no connect and handshake within the timeout, the node is marked
 * down and the connection closed, failing the calls it carried. A call's
 * own deadline never closes a connection: the call completes, and the
 * reply, when it comes, is dropped.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "kernel/memctx/redis_store.h"

enum { HS_AUTH, HS_SELECT, HS_ROLE, HS_V1, HS_SCRIPT };

#define CONN_OF_IO(p) ((struct rconn *)((char *)(p) - offsetof(struct rconn, io)))
#define CONN_OF_TIMER(p) ((struct rconn *)((char *)(p) - offsetof(struct rconn, watchdog)))

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* ---- lists ------------------------------------------------------------------ */

static void push(struct rop **head, struct rop **tail, struct rop *o)
{
	o->next = NULL;
	o->prev = *tail;
	if (*tail)
		(*tail)->next = o;
	else
		*head = o;
	*tail = o;
}

static void unlink_op(struct rop **head, struct rop **tail, struct rop *o)
{
	if (o->prev)
		o->prev->next = o->next;
	else
		*head = o->next;
	if (o->next)
		o->next->prev = o->prev;
	else
		*tail = o->prev;
	o->next = o->prev = NULL;
}

void cam_rs_conn_unqueue(struct rop *o)
{
	struct rconn *c = o->on;

	if (o->queued == RQ_PENDING) {
		unlink_op(&c->pend_head, &c->pend_tail, o);
		c->pending--;
	} else if (o->queued == RQ_AWAIT) {
		unlink_op(&c->await_head, &c->await_tail, o);
	}
	o->queued = RQ_NONE;
	o->on = NULL;
}

/* ---- sending ---------------------------------------------------------------- */

static void mark_dirty(struct rconn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->next_dirty = c->lane->dirty;
	c->lane->dirty = c;
}

static void watchdog_at(struct rconn *c, int64_t at_ns)
{
	if (!c->watchdog.idx || c->watchdog.at_ns > at_ns)
		cam_rloop_timer_set(c->lane->loop, &c->watchdog, at_ns);
}

/* Digits of n, written backwards from end; returns the start. */
static char *digits(char *end, size_t n)
{
	do {
		*--end = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	return end;
}

/*
 * The command in RESP ("*argc", then "$len" and the bytes of each
 * argument) into the lane's buffer, grown as needed: its length. hiredis's
 * own formatting allocates and prints each length; this is one pass.
 */
static size_t resp_format(struct rlane *ln, int argc, const char **argv, const size_t *lens)
{
	size_t need = 16, n = 0;
	char num[24], *p;

	for (int i = 0; i < argc; i++)
		need += (lens ? lens[i] : strlen(argv[i])) + 32;
	if (need > ln->resp_cap) {
		ln->resp_cap = need > 4096 ? need : 4096;
		ln->resp = cam_xrealloc(ln->resp, ln->resp_cap);
	}
	p = digits(num + sizeof(num), (size_t)argc);
	ln->resp[n++] = '*';
	memcpy(ln->resp + n, p, (size_t)(num + sizeof(num) - p));
	n += (size_t)(num + sizeof(num) - p);
	for (int i = 0; i < argc; i++) {
		size_t len = lens ? lens[i] : strlen(argv[i]);

		memcpy(ln->resp + n, "\r\n$", 3);
		n += 3;
		p = digits(num + sizeof(num), len);
		memcpy(ln->resp + n, p, (size_t)(num + sizeof(num) - p));
		n += (size_t)(num + sizeof(num) - p);
		memcpy(ln->resp + n, "\r\n", 2);
		n += 2;
		memcpy(ln->resp + n, argv[i], len);
		n += len;
	}
	memcpy(ln->resp + n, "\r\n", 2);
	return n + 2;
}

/* Appends cmd to hiredis and to the in-flight list: 0, or -1 when hiredis
 * refuses (the context is going away). */
static int send_cmd(struct rconn *c, struct rcmd *cmd, int argc, const char **argv,
		    const size_t *lens)
{
	int64_t now = cam_mono_ns(), from = now > c->blocked_until_ns ? now : c->blocked_until_ns;
	size_t len;

	if (!c->io.ac)
		return -1;
	len = resp_format(c->lane, argc, argv, lens);
	if (redisAsyncFormattedCommand(c->io.ac, on_reply, cmd, c->lane->resp, len) != REDIS_OK)
		return -1;
	cmd->conn = c;
	cmd->next = NULL;
	if (!cmd->answer_by_ns)
		cmd->answer_by_ns = from + (int64_t)c->lane->r->timeout_ms * 1000000;
	if (c->tail)
		c->tail->next = cmd;
	else
		c->head = cmd;
	c->tail = cmd;
	c->inflight++;
	c->inflight_bytes += cmd->bytes;
	watchdog_at(c, cmd->answer_by_ns);
	return 0;
}

static size_t args_bytes(int argc, const size_t *lens)
{
	size_t n = 16;

	for (int i = 0; i < argc; i++)
		n += lens[i] + 16;
	return n;
}

/* Sends o's step now. */
static void send_op(struct rconn *c, struct rop *o)
{
	struct redis *r = c->lane->r;
	struct rs_args *a = c->lane->args;
	struct rcmd *cmd;
	bool change = false;
	int argc;

	a->used = 0;
	argc = cam_rs_op_build(o, c, a, &change);
	if (o->asking) {
		/* Only the next command is let in; its reply is not ours. */
		if (c->io.ac)
			redisAsyncCommand(c->io.ac, NULL, NULL, "ASKING");
		o->asking = false;
	}
	cmd = cam_xcalloc(1, sizeof(*cmd));
	cmd->kind = RC_OP;
	cmd->op = o;
	cmd->bytes = args_bytes(argc, a->lens);
	if (send_cmd(c, cmd, argc, a->argv, a->lens)) {
		free(cmd);
		cam_rs_op_fail(o, CAM_EUNAVAIL, "Redis is unavailable: the connection to %s is closing",
			       c->where);
		return;
	}
	o->cmd = cmd;
	if (change && r->min_acks) {
		int64_t until = o->caller_deadline ? o->timer.at_ns
						   : cam_mono_ns() + (int64_t)r->timeout_ms * 1000000;

		o->wait_seq = c->wait_seq + 1;
		c->unwaited++;
		if (until > c->wait_until_ns)
			c->wait_until_ns = until;
		mark_dirty(c);
	}
}

static bool has_room(const struct rconn *c, const struct rop *o)
{
	size_t bytes = o->op->kind == CAM_MEMCTX_OP_WRITE ? o->op->len + 1024 : 1024;

	return c->state == RC_READY && c->inflight < c->lane->r->max_inflight &&
	       (!c->inflight || c->inflight_bytes + bytes <= RS_MAX_INFLIGHT_BYTES);
}

/* Sends what waits, as room allows. */
static void pump(struct rconn *c)
{
	while (c->pend_head && has_room(c, c->pend_head)) {
		struct rop *o = c->pend_head;

		cam_rs_conn_unqueue(o);
		send_op(c, o);
	}
}

void cam_rs_conn_send(struct rconn *c, struct rop *o)
{
	struct redis *r = c->lane->r;

	if (!c->pend_head && has_room(c, o)) {
		send_op(c, o);
		return;
	}
	if (c->pending >= r->max_inflight) {
		cam_rs_op_fail(o, CAM_EUNAVAIL,
			       "Redis at %s has %u commands in flight and %u waiting: not taking more "
			       "(CAM_MEMCTX_REDIS_MAX_IN_FLIGHT)",
			       c->where, c->inflight, c->pending);
		return;
	}
	push(&c->pend_head, &c->pend_tail, o);
	c->pending++;
	o->on = c;
	o->queued = RQ_PENDING;
}

/* ---- closing ---------------------------------------------------------------- */

/* The connection is out of use: its waiting calls are routed again (they
 * were never sent) and its unconfirmed changes answered as such. */
static void retire(struct rconn *c, const char *why)
{
	struct rlane *ln = c->lane;

	if (c->state == RC_CLOSED)
		return;
	c->state = RC_CLOSED;
	if (ln->conns[c->node->id] == c)
		ln->conns[c->node->id] = NULL;
	snprintf(c->why_closed, sizeof(c->why_closed), "%s", why);
	cam_rloop_timer_cancel(ln->loop, &c->watchdog);
	while (c->await_head) {
		struct rop *o = c->await_head;

		cam_rs_conn_unqueue(o);
		cam_rs_op_confirmed(o, -1);
	}
	while (c->pend_head) {
		struct rop *o = c->pend_head;

		cam_rs_conn_unqueue(o);
		cam_rs_op_reroute(o);
	}
}

void cam_rs_conn_close(struct rconn *c, const char *why)
{
	if (c->state == RC_CLOSED)
		return;
	retire(c, why);
	/* Every reply still due comes back NULL (the calls fail with why),
	 * then gone; inside a callback hiredis does it after the callback. */
	if (c->io.ac)
		redisAsyncFree(c->io.ac);
}

/* hiredis freed the context: after an error of its own, the node is down. */
static void on_gone(struct cam_rloop_io *io)
{
	struct rconn *c = CONN_OF_IO(io);
	struct rlane *ln = c->lane;
	char msg[512];

	if (c->state != RC_CLOSED) {
		const char *err = io->ac && io->ac->errstr[0] ? io->ac->errstr : "connection lost";

		if (c->state == RC_CONNECTING)
			snprintf(msg, sizeof(msg), "cannot connect to %s: %s", c->where, err);
		else
			snprintf(msg, sizeof(msg), "%s: %s", c->where, err);
		cam_rs_node_down(ln->r, c->node, msg);
		retire(c, msg);
	}
	c->next_dead = ln->dead;
	ln->dead = c;
}

static void on_watchdog(struct cam_rloop_timer *t)
{
	struct rconn *c = CONN_OF_TIMER(t);
	struct redis *r = c->lane->r;
	int64_t now = cam_mono_ns();
	char msg[512];

	if (c->state == RC_READY) {
		if (!c->head)
			return;
		if (c->head->answer_by_ns > now) {
			cam_rloop_timer_set(c->lane->loop, &c->watchdog, c->head->answer_by_ns);
			return;
		}
		snprintf(msg, sizeof(msg), "%s did not answer within %d ms", c->where,
			 r->timeout_ms);
	} else if (c->state == RC_CONNECTING) {
		snprintf(msg, sizeof(msg), "cannot connect to %s: no answer within %d ms", c->where,
			 r->timeout_ms);
	} else {
		snprintf(msg, sizeof(msg), "%s did not answer within %d ms (handshake)", c->where,
			 r->timeout_ms);
	}
	cam_rs_node_down(r, c->node, msg);
	cam_rs_conn_close(c, msg);
}

/* ---- the handshake ------------------------------------------------------------ */

static void hs_send(struct rconn *c, int step, int argc, const char **argv)
{
	struct rcmd *cmd = cam_xcalloc(1, sizeof(*cmd));

	cmd->kind = RC_HANDSHAKE;
	cmd->step = step;
	cmd->bytes = 64;
	/* Counted from the connect's start: the watchdog covers both. */
	if (send_cmd(c, cmd, argc, argv, NULL))
		free(cmd);
	else
		c->hs_left++;
}

static void handshake(struct rconn *c)
{
	struct redis *r = c->lane->r;
	char db[16];

	if (r->password[0]) {
		if (r->user[0])
			hs_send(c, HS_AUTH, 3, (const char *[]){ "AUTH", r->user, r->password });
		else
			hs_send(c, HS_AUTH, 2, (const char *[]){ "AUTH", r->password });
	}
	if (r->db && !r->cluster) {
		snprintf(db, sizeof(db), "%d", r->db);
		hs_send(c, HS_SELECT, 2, (const char *[]){ "SELECT", db });
	}
	if (r->sentinel)
		hs_send(c, HS_ROLE, 1, (const char *[]){ "ROLE" });
	if (!r->cluster)
		hs_send(c, HS_V1, 2, (const char *[]){ "EXISTS", "cam:ctx:bytes" });
	for (int i = 0; i < RS_NSCRIPTS; i++)
		hs_send(c, HS_SCRIPT + i, 3, (const char *[]){ "SCRIPT", "LOAD", cam_rs_scripts[i] });
}

/* What a handshake reply says: NULL when fine, else why the connection
 * cannot serve (into msg). */
static const char *hs_check(struct rconn *c, const struct rcmd *cmd, const redisReply *rep,
			    char *msg, size_t len)
{
	struct redis *r = c->lane->r;

	switch (cmd->step) {
	case HS_AUTH:
		if (rep->type == REDIS_REPLY_ERROR)
			snprintf(msg, len, "authentication to %s failed", c->where);
		break;
	case HS_SELECT:
		if (rep->type == REDIS_REPLY_ERROR)
			snprintf(msg, len, "SELECT %d on %s failed: %.100s", r->db, c->where,
				 rep->str);
		break;
	case HS_ROLE:
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    strcmp(rep->element[0]->str, "master") != 0)
			snprintf(msg, len, "%s is not the master of %s (ROLE %s)", c->where,
				 cam_sentinel_name(r->sentinel),
				 rep->type == REDIS_REPLY_ARRAY && rep->elements &&
						 rep->element[0]->type == REDIS_REPLY_STRING
					 ? rep->element[0]->str
					 : "did not answer");
		break;
	case HS_V1:
		if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1)
			snprintf(msg, len, "%s holds the memory context in key layout v1 "
				 "(cam:ctx:bytes); this kernel reads and writes only v2: "
				 "migrate it (README, Key layout v2) or use an empty Redis",
				 c->where);
		break;
	default:
		if (rep->type == REDIS_REPLY_STRING && rep->len == 40)
			memcpy(c->sha[cmd->step - HS_SCRIPT], rep->str, 41);
		else
			snprintf(msg, len, "SCRIPT LOAD on %s failed: %.80s", c->where,
				 rep->type == REDIS_REPLY_ERROR ? rep->str : "bad reply");
		break;
	}
	return msg[0] ? msg : NULL;
}

static void hs_reply(struct rconn *c, const struct rcmd *cmd, const redisReply *rep)
{
	struct rlane *ln = c->lane;
	char msg[512] = "";

	if (c->state != RC_HANDSHAKING)
		return;
	if (hs_check(c, cmd, rep, msg, sizeof(msg))) {
		cam_rs_node_down(ln->r, c->node, msg);
		if (cmd->step == HS_ROLE && ln->r->sentinel)
			cam_sentinel_suspect(ln->r->sentinel);
		cam_rs_conn_close(c, msg);
		return;
	}
	if (--c->hs_left)
		return;
	c->state = RC_READY;
	if (ln->ever[c->node->id])
		atomic_fetch_add(&ln->r->reconnects, 1);
	ln->ever[c->node->id] = true;
	if (ln->r->sentinel)
		cam_sentinel_master_ok(ln->r->sentinel);
	cam_rs_node_up(ln->r, c->node);
	pump(c);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct rconn *c = ac->data;

	if (status != REDIS_OK)
		return; /* gone follows, with hiredis's reason */
	c->state = RC_HANDSHAKING;
	cam_rloop_connected(&c->io);
}

/* ---- replies ------------------------------------------------------------------ */

static void wait_reply(struct rconn *c, const struct rcmd *cmd, const redisReply *rep)
{
	long long n = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;

	c->wait_out = false;
	if (c->unwaited)
		mark_dirty(c);

	while (c->await_head && c->await_head->wait_seq <= cmd->wait_seq) {
		struct rop *o = c->await_head;

		cam_rs_conn_unqueue(o);
		cam_rs_op_confirmed(o, n);
	}
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rcmd *cmd = privdata;
	struct rconn *c = cmd->conn;
	redisReply *rep = reply;
	char why[320];

	/* Replies come in order: this is the oldest command. */
	c->head = cmd->next;
	if (!c->head)
		c->tail = NULL;
	c->inflight--;
	c->inflight_bytes -= cmd->bytes;
	if (!rep && c->why_closed[0])
		snprintf(why, sizeof(why), "%s", c->why_closed);
	else if (!rep)
		snprintf(why, sizeof(why), "%s: %s", c->where,
			 ac->errstr[0] ? ac->errstr : "connection lost");
	switch (cmd->kind) {
	case RC_HANDSHAKE:
		if (rep)
			hs_reply(c, cmd, rep);
		break;
	case RC_OP:
		if (cmd->op) {
			cmd->op->cmd = NULL;
			cam_rs_op_reply(cmd->op, c, rep, rep ? NULL : why);
		}
		break;
	case RC_WAIT:
		wait_reply(c, cmd, rep);
		break;
	}
	free(cmd);
	if (rep && c->state == RC_READY)
		pump(c);
}

/* ---- making one ---------------------------------------------------------------- */

static struct rconn *conn_new(struct rlane *ln, struct rnode *n, int *rc, char *why)
{
	struct redis *r = ln->r;
	char host[CAM_RCLUSTER_ADDR], msg[512];
	redisAsyncContext *ac;
	struct rconn *c;
	int port;

	*rc = CAM_EUNAVAIL;
	if (cam_rs_dial_addr(r, n, host, &port, msg, sizeof(msg))) {
		cam_memctx__fail(why, CAM_EUNAVAIL, "Redis is unavailable: %s", msg);
		return NULL;
	}
	ac = redisAsyncConnect(host, port);
	if (!ac || ac->err) {
		snprintf(msg, sizeof(msg), "cannot connect to %s:%d: %s", host, port,
			 ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		cam_rs_node_down(r, n, msg);
		cam_memctx__fail(why, CAM_EUNAVAIL, "Redis is unavailable: %s", msg);
		return NULL;
	}
	c = cam_xcalloc(1, sizeof(*c));
	c->lane = ln;
	c->node = n;
	snprintf(c->where, sizeof(c->where), "%.200s:%d", host, port);
	c->epoch = atomic_load(&n->epoch);
	c->state = RC_CONNECTING;
	c->io.gone = on_gone;
	c->watchdog.fn = on_watchdog;
	ac->data = c;
	if (cam_rloop_attach(ln->loop, &c->io, ac)) {
		redisAsyncFree(ac);
		free(c);
		cam_memctx__fail(why, CAM_EUNAVAIL, "Redis is unavailable: cannot watch a socket");
		return NULL;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	ln->conns[n->id] = c;
	handshake(c);
	watchdog_at(c, cam_mono_ns() + (int64_t)r->timeout_ms * 1000000);
	return c;
}

struct rconn *cam_rs_conn_get(struct rlane *ln, struct rnode *n, int *rc, char *why)
{
	struct rconn *c = ln->conns[n->id];
	int64_t until, now;

	*rc = CAM_EUNAVAIL;
	if (ln->stopping) {
		cam_memctx__fail(why, CAM_EUNAVAIL, "the memory context store is closing");
		return NULL;
	}
	if (c && c->epoch != atomic_load(&n->epoch)) {
		cam_rs_conn_close(c, "Redis is unavailable: the connection was reset (master changed or "
				     "node marked down); try again");
		c = NULL;
	}
	until = atomic_load(&n->down_until_ns);
	if (c && (c->state == RC_READY || !until))
		return c;
	if (until) {
		now = cam_mono_ns();
		/* Down: one call per back-off period tries again; the others
		 * (and those arriving while it tries) fail at once. */
		if (c || now < until ||
		    !atomic_compare_exchange_strong(&n->down_until_ns, &until,
						    now + (int64_t)RS_BACKOFF_MIN_MS * 1000000)) {
			pthread_mutex_lock(&n->lock);
			cam_memctx__fail(why, CAM_EUNAVAIL,
					 "Redis is unavailable (%s); retrying in the background",
					 n->last_error);
			pthread_mutex_unlock(&n->lock);
			return NULL;
		}
	}
	return conn_new(ln, n, rc, why);
}

/* ---- once per round -------------------------------------------------------------- */

static void send_wait(struct rconn *c)
{
	struct redis *r = c->lane->r;
	int64_t now = cam_mono_ns();
	int64_t left = (c->wait_until_ns - now) / 1000000;
	int ms = left < r->timeout_ms ? (int)left : r->timeout_ms, wait_ms;
	char n[16], ms_s[16];
	struct rcmd *cmd;

	/* WAIT gives up before the call would (WAIT 0 would block for ever),
	 * with room for Redis, which notices a WAIT's timeout only when its
	 * event loop wakes (at least every 100 ms, hz 10). */
	wait_ms = ms - (ms / 2 < 100 ? ms / 2 : 100);
	if (wait_ms < 1)
		wait_ms = 1;
	snprintf(n, sizeof(n), "%u", r->min_acks);
	snprintf(ms_s, sizeof(ms_s), "%d", wait_ms);
	cmd = cam_xcalloc(1, sizeof(*cmd));
	cmd->kind = RC_WAIT;
	cmd->wait_seq = ++c->wait_seq;
	cmd->bytes = 32;
	cmd->answer_by_ns = now + (int64_t)(wait_ms + r->timeout_ms) * 1000000;
	if (send_cmd(c, cmd, 3, (const char *[]){ "WAIT", n, ms_s }, NULL)) {
		free(cmd);
		return;
	}
	if (now + (int64_t)wait_ms * 1000000 > c->blocked_until_ns)
		c->blocked_until_ns = now + (int64_t)wait_ms * 1000000;
	c->wait_out = true;
	c->unwaited = 0;
	c->wait_until_ns = 0;
}

void cam_rs_lane_round(struct rlane *ln)
{
	while (ln->dirty) {
		struct rconn *c = ln->dirty;

		ln->dirty = c->next_dirty;
		c->dirty = false;
		if (c->unwaited && c->state == RC_READY && !c->wait_out)
			send_wait(c);
	}
	while (ln->dead) {
		struct rconn *c = ln->dead;

		ln->dead = c->next_dead;
		cam_rloop_timer_cancel(ln->loop, &c->watchdog);
		free(c);
	}
}
