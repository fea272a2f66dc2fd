/*
 * The call object: refcounting, the response queue any thread may fill,
 * the hand-back to the I/O thread, and the API handlers use (server.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/tcache.h"
#include "common/xmalloc.h"
#include "kernel/grpc/internal.h"

/* Calls a loop keeps for reuse, and the largest buffers they keep. */
#define CALL_CACHE_MAX 1024
#define KEEP_BUFFER_MAX 4096

/* A call from the loop's cache, its buffers kept, or a new one. */
static struct cam_grpc_call *call_alloc(struct cam_grpc__loop *l)
{
	struct cam_grpc_call *c = l->free_calls;
	char *md, *path;
	uint8_t *out;
	size_t md_cap, path_cap, out_cap;

	if (!c)
		return cam_xcalloc(1, sizeof(*c));
	l->free_calls = c->done_next;
	l->nfree_calls--;
	md = c->md, md_cap = c->md_cap;
	path = c->path, path_cap = c->path_cap;
	out = c->out.data, out_cap = c->out.cap;
	memset(c, 0, sizeof(*c));
	c->md = md, c->md_cap = md_cap;
	c->path = path, c->path_cap = path_cap;
	c->out.data = out, c->out.cap = out_cap;
	if (path)
		path[0] = '\0'; /* no stale path before :path arrives */
	return c;
}

void cam_grpc__calls_free_cache(struct cam_grpc__loop *l)
{
	while (l->free_calls) {
		struct cam_grpc_call *c = l->free_calls;

		l->free_calls = c->done_next;
		free(c->md);
		free(c->path);
		free(c->out.data);
		free(c);
	}
	l->nfree_calls = 0;
}

struct cam_grpc_call *cam_grpc__call_new(struct conn *conn, int32_t stream_id)
{
	struct cam_grpc_call *c = call_alloc(conn->loop);

	/* The budget holds the call (taken by h2.c) and what it kept. */
	c->fixed_bytes = sizeof(*c) + c->md_cap + c->path_cap;
	cam_grpc__budget_take(conn->srv, c->md_cap + c->path_cap, true);
	atomic_init(&c->refs, 1);
	atomic_init(&c->queued, false);
	atomic_init(&c->cancelled, false);
	c->srv = conn->srv;
	c->loop = conn->loop;
	c->conn = conn;
	c->stream_id = stream_id;
	c->heap_idx = NO_TIMER;
	c->request_id[0] = '\0';
	cam_grpc_wire_framer_init(&c->framer, conn->srv->max_msg);
	memcpy(c->peer, conn->peer, sizeof(c->peer));
	if ((c->peer_id = conn->peer_id))
		cam_grpc_peer_id_ref(c->peer_id);
	pthread_mutex_init(&c->mu, NULL);
	c->conn_next = conn->calls;
	if (conn->calls)
		conn->calls->conn_prev = c;
	conn->calls = c;
	if (conn->ncalls++ == 0)
		cam_grpc__conn_busy(conn);
	return c;
}

/* Drops a buffer above the size a cached call may keep. */
static void trim(void *pp, size_t *cap, size_t keep)
{
	void **p = pp;

	if (*cap > keep) {
		free(*p);
		*p = NULL;
		*cap = 0;
	}
}

static void call_free(struct cam_grpc_call *c)
{
	struct cam_grpc__loop *l = c->loop;

	/* What the budget still counts for it: the call and its buffers,
	 * request bytes kept for the handler, answer bytes never sent. */
	cam_grpc__budget_give(c->srv, c->fixed_bytes + c->req_bytes + (c->out.len - c->out.off));
	free(c->http_body);
	cam_grpc_wire_framer_free(&c->framer);
	pthread_mutex_destroy(&c->mu);
	cam_tcache_free(c->msg);
	free(c->status_text);
	cam_grpc_peer_id_unref(c->peer_id);
	c->peer_id = NULL;
	/* On its loop's thread it is kept for the next stream. */
	if (cam_grpc__this_loop == l && l->nfree_calls < CALL_CACHE_MAX) {
		trim(&c->md, &c->md_cap, KEEP_BUFFER_MAX);
		trim(&c->path, &c->path_cap, KEEP_BUFFER_MAX);
		trim(&c->out.data, &c->out.cap, 4 * KEEP_BUFFER_MAX);
		c->done_next = l->free_calls;
		l->free_calls = c;
		l->nfree_calls++;
		return;
	}
	free(c->md);
	free(c->path);
	free(c->out.data);
	free(c);
}

void cam_grpc_call_ref(struct cam_grpc_call *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void cam_grpc_call_unref(struct cam_grpc_call *c)
{
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		call_free(c);
}

/* Puts c in its I/O thread's hand-back queue so that thread pushes what
 * it has. */
static void call_kick(struct cam_grpc_call *c)
{
	struct cam_grpc__loop *s = c->loop;
	bool was_empty;
	uint64_t one = 1;

	if (atomic_exchange(&c->queued, true))
		return;
	cam_grpc_call_ref(c);
	c->done_next = NULL;
	if (cam_grpc__this_loop == s) {
		/* Finished on its own I/O thread: pushed before this turn ends. */
		if (s->ready_tail)
			s->ready_tail->done_next = c;
		else
			s->ready_head = c;
		s->ready_tail = c;
		return;
	}
	pthread_mutex_lock(&s->done_mu);
	was_empty = !s->done_head;
	if (s->done_tail)
		s->done_tail->done_next = c;
	else
		s->done_head = c;
	s->done_tail = c;
	pthread_mutex_unlock(&s->done_mu);
	if (was_empty && write(s->evfd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, so a wake is due. */
	}
}

/* Makes room for a framed message of len bytes at the end of c->out,
 * taking its bytes from the buffer budget (small ones always pass), and
 * returns where its body goes; the caller fills it and then calls
 * out_commit. NULL with *rc CAM_ELIMIT (budget spent, too large) or
 * CAM_ENOMEM. Caller holds mu. */
static uint8_t *out_reserve(struct cam_grpc_call *c, size_t len, int *rc)
{
	struct outbuf *o = &c->out;
	size_t need, framed = CAM_GRPC_WIRE_HEADER + len;

	*rc = CAM_ELIMIT;
	if (len > UINT32_MAX)
		return NULL;
	if (!cam_grpc__budget_take(c->srv, framed, len <= SMALL_MESSAGE)) {
		cam_grpc__count_refusal(c->srv, REFUSE_BUFFER_BUDGET, NULL);
		return NULL;
	}
	if (o->off == o->len)
		o->off = o->len = 0;
	need = o->len + framed;
	if (need > o->cap) {
		size_t ncap = o->cap ? o->cap * 2 : need;
		uint8_t *n;

		while (ncap < need)
			ncap *= 2;
		n = realloc(o->data, ncap);
		if (!n) {
			cam_grpc__budget_give(c->srv, framed);
			*rc = CAM_ENOMEM;
			return NULL;
		}
		o->data = n;
		o->cap = ncap;
	}
	cam_grpc_wire_put_header(o->data + o->len, len);
	*rc = 0;
	return o->data + o->len + CAM_GRPC_WIRE_HEADER;
}

static void out_commit(struct cam_grpc_call *c, size_t len)
{
	c->out.len += CAM_GRPC_WIRE_HEADER + len;
	c->out_total += CAM_GRPC_WIRE_HEADER + len;
}

/* Appends a framed copy of msg to c->out; caller holds mu. */
static int out_append(struct cam_grpc_call *c, const uint8_t *msg, size_t len)
{
	int rc;
	uint8_t *body = out_reserve(c, len, &rc);

	if (!body)
		return rc;
	if (len)
		memcpy(body, msg, len);
	out_commit(c, len);
	return 0;
}

/* Records the status; caller holds mu and has checked !finished. */
static void set_status_locked(struct cam_grpc_call *c, int status, const char *text)
{
	char buf[MAX_STATUS_TEXT];

	c->finished = true;
	c->status = status;
	if (text && *text) {
		cam_grpc_wire_percent_encode(buf, sizeof(buf), text);
		c->status_text = cam_xstrdup(buf);
	}
}

static const char *refusal_text(int rc, size_t len)
{
	return rc == CAM_ELIMIT && len <= UINT32_MAX
		       ? "the server is out of buffer space for answers; retry later"
		       : "response message too large";
}

/*
 * Queues an optional message and, when end is set, the status; one lock
 * and one kick. Returns CAM_ECLOSED when the call was already ended or
 * cancelled (nothing queued then).
 */
int cam_grpc__call_push_out(struct cam_grpc_call *c, const uint8_t *msg, size_t len,
			 bool with_msg, bool end, int status, const char *text)
{
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	if (c->finished || atomic_load(&c->cancelled)) {
		pthread_mutex_unlock(&c->mu);
		return CAM_ECLOSED;
	}
	if (with_msg)
		rc = out_append(c, msg, len);
	if (rc && end) {
		status = CAM_GRPC_RESOURCE_EXHAUSTED;
		text = refusal_text(rc, len);
	}
	if (end)
		set_status_locked(c, status, text);
	pthread_mutex_unlock(&c->mu);
	if (rc == 0 || end)
		call_kick(c);
	return rc;
}

int cam_grpc_call_send(struct cam_grpc_call *c, const uint8_t *msg, size_t len)
{
	return cam_grpc__call_push_out(c, msg, len, true, false, 0, NULL);
}

void cam_grpc_call_end(struct cam_grpc_call *c, int grpc_status, const char *message)
{
	cam_grpc__call_push_out(c, NULL, 0, false, true, grpc_status, message);
}

void cam_grpc_call_reply(struct cam_grpc_call *c, const uint8_t *msg, size_t len)
{
	if (cam_grpc__past_deadline(c))
		cam_grpc__call_push_out(c, NULL, 0, false, true, CAM_GRPC_DEADLINE_EXCEEDED,
			      "deadline exceeded");
	else
		cam_grpc__call_push_out(c, msg, len, true, true, CAM_GRPC_OK, NULL);
	cam_grpc_call_unref(c);
}

void cam_grpc_call_reply_packed(struct cam_grpc_call *c, size_t len,
				void (*pack)(void *arg, uint8_t *out), void *arg)
{
	uint8_t *body = NULL;
	int rc = 0, status = CAM_GRPC_OK;
	const char *text = NULL;
	bool queued = false;

	pthread_mutex_lock(&c->mu);
	if (!c->finished && !atomic_load(&c->cancelled)) {
		if (cam_grpc__past_deadline(c)) {
			status = CAM_GRPC_DEADLINE_EXCEEDED;
			text = "deadline exceeded";
		} else if (!(body = out_reserve(c, len, &rc))) {
			status = CAM_GRPC_RESOURCE_EXHAUSTED;
			text = refusal_text(rc, len);
		} else {
			pack(arg, body);
			out_commit(c, len);
		}
		set_status_locked(c, status, text);
		queued = true;
	}
	pthread_mutex_unlock(&c->mu);
	if (queued)
		call_kick(c);
	cam_grpc_call_unref(c);
}

void cam_grpc_call_fail(struct cam_grpc_call *c, int grpc_status, const char *message)
{
	if (grpc_status == CAM_GRPC_OK || grpc_status < 0 || grpc_status > 16)
		grpc_status = CAM_GRPC_UNKNOWN;
	if (cam_grpc__past_deadline(c)) {
		grpc_status = CAM_GRPC_DEADLINE_EXCEEDED;
		message = "deadline exceeded";
	}
	cam_grpc_call_end(c, grpc_status, message);
	cam_grpc_call_unref(c);
}

void cam_grpc_call_set_request_id(struct cam_grpc_call *c, const char *id)
{
	size_t n = strnlen(id, sizeof(c->request_id) - 1);

	memcpy(c->request_id, id, n);
	c->request_id[n] = '\0';
}

const uint8_t *cam_grpc_call_message(const struct cam_grpc_call *c, size_t *len)
{
	*len = c->msg_len;
	return c->msg ? c->msg : (const uint8_t *)"";
}

const char *cam_grpc_call_metadata(const struct cam_grpc_call *c, const char *name)
{
	size_t off = 0;

	if (strcmp(name, "authorization") == 0)
		return c->md_authorization ? c->md + c->md_authorization - 1 : NULL;
	if (strcmp(name, "traceparent") == 0)
		return c->md_traceparent ? c->md + c->md_traceparent - 1 : NULL;
	while (off < c->md_len) {
		const char *n = c->md + off, *v = n + strlen(n) + 1;

		if (strcmp(n, name) == 0)
			return v;
		off = (size_t)(v + strlen(v) + 1 - c->md);
	}
	return NULL;
}

unsigned cam_grpc_call_metadata_count(const struct cam_grpc_call *c, const char *name)
{
	size_t off = 0;
	unsigned n = 0;

	if (strcmp(name, "authorization") == 0)
		return c->md_authorization_n;
	while (off < c->md_len) {
		const char *k = c->md + off, *v = k + strlen(k) + 1;

		n += strcmp(k, name) == 0;
		off = (size_t)(v + strlen(v) + 1 - c->md);
	}
	return n;
}

int64_t cam_grpc_call_deadline_ns(const struct cam_grpc_call *c)
{
	return c->deadline_ns;
}

bool cam_grpc_call_client_cert(const struct cam_grpc_call *c, const char **caller,
			       const char **error)
{
	if (!c->peer_id)
		return false;
	*caller = c->peer_id->caller;
	*error = c->peer_id->error;
	return true;
}

const char *cam_grpc_call_peer(const struct cam_grpc_call *c)
{
	return c->peer;
}

const char *cam_grpc_call_method(const struct cam_grpc_call *c)
{
	return c->path ? c->path : "";
}

bool cam_grpc_call_cancelled(const struct cam_grpc_call *c)
{
	return atomic_load(&c->cancelled);
}

const struct cam_grpc_task *cam_grpc_call_task(const struct cam_grpc_call *c)
{
	return &c->task;
}

static struct cam_grpc_call *task_call(struct cam_grpc_task *t)
{
	return (struct cam_grpc_call *)((char *)t - offsetof(struct cam_grpc_call, task));
}

void cam_grpc__call_refused(struct cam_grpc_call *c, int status, const char *why)
{
	if (c->method && c->method->refused)
		c->method->refused(c->method->refused_arg, c, status, why);
}

/*
 * Answers a call its handler will not see, telling the refusal hook; a
 * call whose client has gone is only let go. Past its deadline the call
 * counts as DEADLINE_EXCEEDED even when the client, whose own deadline
 * passed too, cancelled it.
 */
static void not_run(struct cam_grpc_call *c, int status, const char *why)
{
	bool cancelled = atomic_load(&c->cancelled);

	if (cancelled && status != CAM_GRPC_DEADLINE_EXCEEDED) {
		status = CAM_GRPC_CANCELLED;
		why = "cancelled by the client while queued";
	}
	cam_grpc__call_refused(c, status, why);
	if (cancelled)
		cam_grpc_call_unref(c);
	else
		cam_grpc_call_fail(c, status, why);
}

/* Executor side of a unary call that must not run. */
void cam_grpc__call_drop(struct cam_grpc_task *t, int status, const char *why)
{
	not_run(task_call(t), status, why);
}

/* Worker side of a unary call. */
void cam_grpc__call_run(struct cam_grpc_task *t)
{
	struct cam_grpc_call *c = task_call(t);

	if (cam_grpc__past_deadline(c)) {
		not_run(c, CAM_GRPC_DEADLINE_EXCEEDED, "deadline exceeded before the call ran");
		return;
	}
	if (atomic_load(&c->cancelled)) {
		not_run(c, CAM_GRPC_CANCELLED, NULL);
		return;
	}
	c->method->unary(c->method->arg, c);
}
