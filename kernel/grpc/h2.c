/*
 * The nghttp2 side of the transport, on the I/O thread: request headers,
 * messages and end of stream in (checks of path, content-type, deadline,
 * size and encoding, then dispatch), response headers, messages and
 * trailers out.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/metrics.h"
#include "common/str.h"
#include "common/tcache.h"
#include "common/xmalloc.h"
#include "kernel/grpc/internal.h"

/* The I/O thread answers a request itself (refusal); later input is ignored. */
void cam_grpc__call_refuse(struct cam_grpc_call *c, int status, const char *text)
{
	if (c->ended_io)
		return;
	c->ended_io = true;
	/* No handler has seen the request: drop what was buffered of it. */
	cam_grpc_wire_framer_free(&c->framer);
	cam_tcache_free(c->msg);
	c->msg = NULL;
	c->msg_len = 0;
	cam_grpc__budget_give(c->srv, c->req_bytes);
	c->req_bytes = 0;
	if (c->conn) {
		c->conn->held -= c->held;
		c->held = 0;
	}
	cam_grpc_call_end(c, status, text);
}

const struct method *cam_grpc__find_method(const cam_grpc_server *s, const uint8_t *p,
					size_t len)
{
	for (size_t i = 0; i < s->nmethods; i++)
		if (s->methods[i].path_len == len &&
		    memcmp(s->methods[i].path, p, len) == 0)
			return &s->methods[i];
	return NULL;
}

static void set_reject(struct cam_grpc_call *c, enum cam_grpc__perr why, int status,
		       const char *text)
{
	if (c->reject_status)
		return;
	c->reject_status = status;
	c->reject_text = text;
	cam_grpc__count_perr(c->srv, why);
}

static void md_add(struct cam_grpc_call *c, const uint8_t *name, size_t nlen,
		   const uint8_t *value, size_t vlen)
{
	size_t need = c->md_len + nlen + vlen + 2;

	if (need > MAX_METADATA_BYTES) {
		set_reject(c, PERR_HEADER, CAM_GRPC_RESOURCE_EXHAUSTED,
			   "request metadata too large");
		return;
	}
	if (need > c->md_cap) {
		size_t ncap = need < 512 ? 512 : need * 2;

		if (!cam_grpc__budget_take(c->srv, ncap - c->md_cap, false)) {
			cam_grpc__count_refusal(c->srv, REFUSE_BUFFER_BUDGET, NULL);
			set_reject(c, PERR_HEADER, CAM_GRPC_RESOURCE_EXHAUSTED,
				   "the server is out of buffer space for request headers");
			return;
		}
		c->fixed_bytes += ncap - c->md_cap;
		c->md_cap = ncap;
		c->md = cam_xrealloc(c->md, c->md_cap);
	}
	memcpy(c->md + c->md_len, name, nlen);
	c->md[c->md_len + nlen] = '\0';
	memcpy(c->md + c->md_len + nlen + 1, value, vlen);
	c->md[need - 1] = '\0';
	if (CAM_STR_IS(name, nlen, "authorization")) {
		if (!c->md_authorization_n++)
			c->md_authorization = (uint32_t)(c->md_len + nlen + 2);
	} else if (CAM_STR_IS(name, nlen, "traceparent") && !c->md_traceparent) {
		c->md_traceparent = (uint32_t)(c->md_len + nlen + 2);
	}
	c->md_len = need;
}

static void on_pseudo_header(struct cam_grpc_call *c, const uint8_t *name,
			     size_t nlen, const uint8_t *value, size_t vlen)
{
	if (CAM_STR_IS(name, nlen, ":path")) {
		if (vlen + 1 > c->path_cap) {
			/* At most the header list limit: taken from the budget
			 * regardless, like the call itself. */
			cam_grpc__budget_take(c->srv, vlen + 1 - c->path_cap, true);
			c->fixed_bytes += vlen + 1 - c->path_cap;
			c->path_cap = vlen + 1;
			c->path = cam_xrealloc(c->path, c->path_cap);
		}
		memcpy(c->path, value, vlen);
		c->path[vlen] = '\0';
		c->method = cam_grpc__find_method(c->srv, value, vlen);
	} else if (CAM_STR_IS(name, nlen, ":method")) {
		c->is_post = CAM_STR_IS(value, vlen, "POST");
		c->is_head = CAM_STR_IS(value, vlen, "HEAD");
	}
}

static void on_timeout_header(struct cam_grpc_call *c, const uint8_t *v, size_t len)
{
	int64_t ns, now;

	if (cam_grpc_wire_timeout_parse((const char *)v, len, &ns) != 0) {
		set_reject(c, PERR_HEADER, CAM_GRPC_INTERNAL, "malformed grpc-timeout");
		return;
	}
	now = cam_mono_ns();
	c->deadline_ns = ns > INT64_MAX - now ? 0 : now + ns;
	if (c->deadline_ns == 0 && ns == 0)
		c->deadline_ns = now; /* "0n": already expired */
}

static bool is_grpc_content_type(const uint8_t *v, size_t len)
{
	static const char ct[] = "application/grpc";
	size_t n = sizeof(ct) - 1;

	return len >= n && memcmp(v, ct, n) == 0 &&
	       (len == n || v[n] == '+' || v[n] == ';');
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame,
		     const uint8_t *name, size_t nlen, const uint8_t *value,
		     size_t vlen, uint8_t flags, void *ud)
{
	struct cam_grpc_call *c;

	(void)flags;
	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	c = frame->hd.stream_id == ((struct conn *)ud)->hdr_stream
		    ? ((struct conn *)ud)->hdr_call
		    : nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
	if (!c)
		return 0;
	if (nlen > 0 && name[0] == ':') {
		on_pseudo_header(c, name, nlen, value, vlen);
		return 0;
	}
	if (CAM_STR_IS(name, nlen, "content-type")) {
		c->is_grpc = is_grpc_content_type(value, vlen);
	} else if (CAM_STR_IS(name, nlen, "grpc-timeout")) {
		on_timeout_header(c, value, vlen);
	} else if (CAM_STR_IS(name, nlen, "grpc-encoding")) {
		if (CAM_STR_IS(value, vlen, "gzip"))
			c->encoding = ENC_GZIP;
		else if (!CAM_STR_IS(value, vlen, "identity"))
			set_reject(c, PERR_COMPRESSION, CAM_GRPC_UNIMPLEMENTED,
				   "grpc-encoding not supported (identity, gzip)");
	}
	md_add(c, name, nlen, value, vlen);
	return 0;
}

/* A new stream the connection may not open now: past the advertised
 * limit, or while it leaves too many answers unread. REFUSED_STREAM says
 * it was not processed, so the client may try again. */
static bool refuse_stream(struct conn *conn, int32_t stream_id)
{
	cam_grpc_server *s = conn->srv;
	enum cam_grpc__refusal why;

	if (conn->ncalls >= MAX_CONCURRENT_STREAMS)
		why = REFUSE_STREAM_LIMIT;
	else if (conn->out_held > s->conn_share)
		why = REFUSE_BACKPRESSURE;
	else if (!cam_grpc__budget_take(s, sizeof(struct cam_grpc_call), false))
		why = REFUSE_BUFFER_BUDGET; /* every open stream costs a call */
	else
		return false;
	cam_grpc__count_refusal(s, why, conn->peer);
	nghttp2_submit_rst_stream(conn->h2, NGHTTP2_FLAG_NONE, stream_id,
				  NGHTTP2_REFUSED_STREAM);
	return true;
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *ud)
{
	struct conn *conn = ud;
	struct cam_grpc_call *c;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	cam_grpc__ids_opened(&conn->ids, frame->hd.stream_id);
	if (refuse_stream(conn, frame->hd.stream_id))
		return 0; /* no call: its headers are decoded and dropped */
	c = cam_grpc__call_new(conn, frame->hd.stream_id);
	nghttp2_session_set_stream_user_data(h2, frame->hd.stream_id, c);
	conn->hdr_call = c;
	conn->hdr_stream = frame->hd.stream_id;
	cam_grpc__loop_count(&conn->loop->nstreams, 1);
	return 0;
}

/* The method's admission check (credentials), before any DATA is kept. */
static bool admitted(struct cam_grpc_call *c)
{
	char why[200];
	int status;

	if (!c->method->admit)
		return true;
	memcpy(why, "refused", sizeof("refused")); /* not all 200 bytes per call */
	status = c->method->admit(c->method->admit_arg, c, why, sizeof(why));
	if (status == CAM_GRPC_OK)
		return true;
	cam_grpc__count_refusal(c->srv, REFUSE_ADMISSION, NULL);
	cam_grpc__call_refused(c, status, why);
	cam_grpc__call_refuse(c, status, why);
	return false;
}

/* The request headers are complete: refuse now what cannot be served.
 * A request that is not gRPC is answered in HTTP once the client ends its
 * stream; a gRPC one that cannot be served is answered at once, and the
 * early answer ends its stream with RST_STREAM (on_frame_send). */
static void call_headers_done(struct cam_grpc_call *c)
{
	char text[160];

	cam_grpc__http_classify(c);
	if (c->http_status)
		return;
	if (c->reject_status) {
		cam_grpc__call_refuse(c, c->reject_status, c->reject_text);
	} else if (!c->method) {
		snprintf(text, sizeof(text), "unknown method %.100s",
			 c->path ? c->path : "");
		cam_grpc__call_refuse(c, CAM_GRPC_UNIMPLEMENTED, text);
	} else if (cam_grpc__past_deadline(c)) {
		cam_grpc__call_refuse(c, CAM_GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
	} else if (!c->method->ops && !admitted(c)) {
		return;
	} else if (c->deadline_ns) {
		cam_grpc__timer_add(c->loop, c);
	}
}

/* Decompresses msg when flagged; returns the plain message or NULL (refused). */
static uint8_t *plain_message(struct cam_grpc_call *c, uint8_t flags, uint8_t *msg,
			      size_t *len)
{
	uint8_t *plain = NULL;
	int rc;

	if (flags == 0)
		return msg;
	if (flags != 1 || c->encoding != ENC_GZIP) {
		cam_tcache_free(msg);
		cam_grpc__count_perr(c->srv, PERR_COMPRESSION);
		cam_grpc__call_refuse(c, CAM_GRPC_INTERNAL,
			    "compressed message without grpc-encoding");
		return NULL;
	}
	rc = cam_grpc_wire_gunzip(msg, *len, c->srv->max_msg, &plain, len);
	cam_tcache_free(msg);
	if (rc == CAM_ELIMIT) {
		atomic_fetch_add_explicit(&c->srv->too_large, 1, memory_order_relaxed);
		cam_counter_inc(c->srv->m_too_large);
		cam_grpc__call_refuse(c, CAM_GRPC_RESOURCE_EXHAUSTED,
			    "decompressed message larger than the maximum");
	} else if (rc) {
		cam_grpc__count_perr(c->srv, PERR_COMPRESSION);
		cam_grpc__call_refuse(c, CAM_GRPC_INTERNAL, "bad gzip message");
	}
	return rc ? NULL : plain;
}

static int on_message(void *arg, uint8_t flags, uint8_t *msg, size_t len)
{
	struct cam_grpc_call *c = arg;

	msg = plain_message(c, flags, msg, &len);
	if (!msg && c->ended_io)
		return CAM_EPROTO;
	if (c->method->ops) {
		c->method->ops->on_message(c->method->arg, c, msg, len);
		cam_tcache_free(msg);
		return 0;
	}
	if (c->nmsg++ > 0) {
		cam_tcache_free(msg);
		cam_grpc__call_refuse(c, CAM_GRPC_UNIMPLEMENTED,
			    "unary method got more than one request message");
		return CAM_EPROTO;
	}
	c->msg = msg;
	c->msg_len = len;
	return 0;
}

/* What a unary call's request holds in memory now. */
static size_t request_footprint(const struct cam_grpc_call *c)
{
	return c->framer.cap + (c->msg ? c->msg_len : 0);
}

/* Whether what len more request bytes will allocate fits the call's
 * connection share and the server's budget; refuses the call when it does
 * not. The bytes are taken from the budget now, before the framer
 * allocates them. */
static bool request_fits(struct cam_grpc_call *c, size_t len)
{
	cam_grpc_server *s = c->srv;
	size_t grow = cam_grpc_wire_framer_growth(&c->framer, len);

	if (!grow)
		return true;
	if (c->conn->held + grow > s->conn_share) {
		cam_grpc__count_refusal(s, REFUSE_CONN_BUDGET, c->peer);
		cam_grpc__call_refuse(c, CAM_GRPC_RESOURCE_EXHAUSTED,
				      "too much request data buffered on this connection");
		return false;
	}
	if (!cam_grpc__budget_take(s, grow, false)) {
		cam_grpc__count_refusal(s, REFUSE_BUFFER_BUDGET, c->peer);
		cam_grpc__call_refuse(c, CAM_GRPC_RESOURCE_EXHAUSTED,
				      "the server is out of buffer space for requests; retry later");
		return false;
	}
	c->req_bytes += grow;
	return true;
}

/* After a feed: the budget and the connection hold what the call really
 * allocated (the framer grows by doubling, a message may be inflated). */
static void request_account(struct cam_grpc_call *c)
{
	size_t now = request_footprint(c);

	if (now > c->req_bytes)
		cam_grpc__budget_take(c->srv, now - c->req_bytes, true);
	else
		cam_grpc__budget_give(c->srv, c->req_bytes - now);
	c->req_bytes = now;
	c->conn->held += now - c->held;
	c->held = now;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *ud)
{
	struct cam_grpc_call *c = nghttp2_session_get_stream_user_data(h2, stream_id);
	char text[128];
	int rc;

	(void)flags;
	(void)ud;
	if (!c || c->ended_io || !c->method)
		return 0;
	if (!c->method->ops && !request_fits(c, len))
		return 0;
	rc = cam_grpc_wire_framer_feed(&c->framer, data, len, on_message, c);
	if (!c->method->ops && !c->ended_io)
		request_account(c);
	if (rc == CAM_ELIMIT) {
		atomic_fetch_add_explicit(&c->srv->too_large, 1, memory_order_relaxed);
		cam_counter_inc(c->srv->m_too_large);
		snprintf(text, sizeof(text),
			 "received message larger than max (%u vs. %zu)",
			 c->framer.msg_len, c->srv->max_msg);
		cam_grpc__call_refuse(c, CAM_GRPC_RESOURCE_EXHAUSTED, text);
	} else if (rc == CAM_ENOMEM) {
		cam_grpc__call_refuse(c, CAM_GRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	return 0;
}

/* The client sent END_STREAM: run a unary call, tell a streaming one. */
static void call_half_close(struct cam_grpc_call *c)
{
	cam_grpc_server *s = c->srv;

	c->remote_ended = true;
	if (c->http_status) {
		cam_grpc__http_answer(c);
		return;
	}
	if (c->ended_io || !c->method)
		return;
	if (!cam_grpc_wire_framer_idle(&c->framer)) {
		cam_grpc__call_refuse(c, CAM_GRPC_INTERNAL, "stream ended inside a message");
		return;
	}
	if (c->method->ops) {
		if (c->method->ops->on_half_close)
			c->method->ops->on_half_close(c->method->arg, c);
		return;
	}
	if (c->nmsg != 1) {
		cam_grpc__call_refuse(c, CAM_GRPC_UNIMPLEMENTED,
			    "unary method got no request message");
		return;
	}
	if (cam_grpc__past_deadline(c)) {
		cam_grpc__call_refuse(c, CAM_GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
		return;
	}
	c->task.run = cam_grpc__call_run;
	c->task.drop = cam_grpc__call_drop;
	c->task.deadline_ns = c->deadline_ns;
	c->task.sched = (struct cam_grpc_sched){ .priority = 5 };
	if (c->method->classify)
		c->method->classify(c->method->classify_arg, c, c->msg, c->msg_len,
				    &c->task.sched);
	c->ended_io = true; /* the handler has it now */
	cam_grpc_call_ref(c);
	if (c->task.sched.may_inline && s->ex->ops->try_inline &&
	    s->ex->ops->try_inline(s->ex, &c->task)) {
		/* A handler that never blocks, with nothing ahead of it: run it
		 * here, with no thread hand-off either way (call.c). */
		c->task.sched.ran_inline = true;
		cam_grpc__loop_count(&c->loop->calls_total, 1);
		cam_grpc__call_run(&c->task);
		return;
	}
	if (s->ex->ops->submit(s->ex, &c->task) != 0) {
		/* Refused at once (queue full): nothing ran, the ref is ours. */
		const char *why = c->task.sched.reject ? c->task.sched.reject : "server busy";

		cam_grpc_call_unref(c);
		c->ended_io = false;
		cam_grpc__call_refused(c, CAM_GRPC_RESOURCE_EXHAUSTED, why);
		cam_grpc__call_refuse(c, CAM_GRPC_RESOURCE_EXHAUSTED, why);
		return;
	}
	cam_grpc__loop_count(&c->loop->calls_total, 1);
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *ud)
{
	struct conn *conn = ud;
	struct cam_grpc_call *c;

	if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK))
		cam_grpc__conn_handshaken(conn);
	if (frame->hd.type == NGHTTP2_PING && !(frame->hd.flags & NGHTTP2_FLAG_ACK))
		cam_grpc__lifetime_ping(conn);
	if (frame->hd.type == NGHTTP2_RST_STREAM)
		cam_grpc__ids_reset_by_peer(&conn->ids, frame->hd.stream_id);
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	if (frame->hd.stream_id == conn->hdr_stream) {
		c = conn->hdr_call; /* the header block just read */
		conn->hdr_call = NULL;
		conn->hdr_stream = 0;
	} else {
		c = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
	}
	if (!c)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS &&
	    frame->headers.cat == NGHTTP2_HCAT_REQUEST)
		call_headers_done(c);
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
		call_half_close(c);
	return 0;
}

/* The stream is gone: detach the call from the connection and drop the
 * I/O thread's reference. */
void cam_grpc__call_detach(struct cam_grpc_call *c)
{
	struct conn *conn = c->conn;

	if (c->conn_prev)
		c->conn_prev->conn_next = c->conn_next;
	else
		conn->calls = c->conn_next;
	if (c->conn_next)
		c->conn_next->conn_prev = c->conn_prev;
	conn->held -= c->held;
	c->held = 0;
	cam_grpc__conn_out_sub(conn, c->out_unsent);
	c->out_unsent = 0;
	cam_grpc__timer_remove(c->loop, c);
	c->conn = NULL;
	if (--conn->ncalls == 0)
		cam_grpc__conn_idle(conn);
	if (!c->trailers_sent)
		atomic_store(&c->cancelled, true);
	if (c->method && c->method->ops && c->method->ops->on_close)
		c->method->ops->on_close(c->method->arg, c);
	cam_grpc__loop_count(&conn->loop->nstreams, -1);
	cam_grpc_call_unref(c);
}

static int on_stream_close(nghttp2_session *h2, int32_t stream_id,
			   uint32_t error_code, void *ud)
{
	struct cam_grpc_call *c = nghttp2_session_get_stream_user_data(h2, stream_id);

	(void)error_code;
	if (stream_id == ((struct conn *)ud)->hdr_stream) {
		((struct conn *)ud)->hdr_call = NULL;
		((struct conn *)ud)->hdr_stream = 0;
	}
	if (c) {
		nghttp2_session_set_stream_user_data(h2, stream_id, NULL);
		cam_grpc__call_detach(c);
	}
	return 0;
}

static const char *status_digits(int status)
{
	static const char *const d[] = { "0", "1", "2", "3", "4", "5", "6", "7", "8",
					 "9", "10", "11", "12", "13", "14", "15", "16" };

	return status >= 0 && status <= 16 ? d[status] : "2";
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), \
		   NGHTTP2_NV_FLAG_NO_COPY_NAME }

/* Fills the grpc-status/grpc-message pair; returns how many were set.
 * status and status_text are immutable once finished. */
static size_t status_nv(const struct cam_grpc_call *c, nghttp2_nv *nv)
{
	nghttp2_nv st = NV("grpc-status", status_digits(c->status));
	nghttp2_nv msg = NV("grpc-message", c->status_text ? c->status_text : "");
	nghttp2_nv id = NV("cam-request-id", c->request_id);
	size_t n = 1;

	nv[0] = st;
	if (c->status_text)
		nv[n++] = msg;
	if (c->request_id[0] && c->status != CAM_GRPC_OK)
		nv[n++] = id;
	return n;
}

/* The connection's count of unsent answer bytes learns what handlers
 * queued since it last looked (I/O thread; total read under c->mu). */
static void account_out(struct cam_grpc_call *c, size_t total)
{
	size_t delta = total - c->out_seen;

	c->out_seen = total;
	c->out_unsent += delta;
	if (delta && c->conn)
		cam_grpc__conn_out_add(c->conn, delta);
}

static ssize_t read_body(nghttp2_session *h2, int32_t stream_id, uint8_t *buf,
			 size_t length, uint32_t *data_flags,
			 nghttp2_data_source *source, void *ud)
{
	struct cam_grpc_call *c = source->ptr;
	struct outbuf *o = &c->out;
	size_t n, total;
	bool eof = false;

	(void)ud;
	pthread_mutex_lock(&c->mu);
	total = c->out_total;
	n = o->len - o->off;
	if (n > length)
		n = length;
	memcpy(buf, o->data + o->off, n);
	o->off += n;
	if (o->off == o->len) {
		o->off = o->len = 0;
		if (o->cap > WBUF_HIGH) {
			free(o->data);
			o->data = NULL;
			o->cap = 0;
		}
		eof = c->finished;
	}
	pthread_mutex_unlock(&c->mu);
	account_out(c, total);
	c->out_unsent -= n;
	if (c->conn)
		cam_grpc__conn_out_sub(c->conn, n);
	cam_grpc__budget_give(c->srv, n);
	if (eof) {
		nghttp2_nv nv[3];

		*data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		nghttp2_submit_trailer(h2, stream_id, nv, status_nv(c, nv));
		c->trailers_sent = true;
	} else if (n == 0) {
		c->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	return (ssize_t)n;
}

/* Hands what the call has queued to nghttp2 (I/O thread). */
void cam_grpc__call_push(struct cam_grpc_call *c)
{
	nghttp2_session *h2 = c->conn->h2;
	bool finished, pending;
	size_t total;

	if (c->trailers_sent)
		return;
	pthread_mutex_lock(&c->mu);
	finished = c->finished;
	pending = c->out.len > c->out.off;
	total = c->out_total;
	pthread_mutex_unlock(&c->mu);
	account_out(c, total);
	if (c->headers_sent) {
		if (c->deferred) {
			c->deferred = false;
			nghttp2_session_resume_data(h2, c->stream_id);
		}
		return;
	}
	if (!pending && finished) {
		/* Trailers-only response. */
		nghttp2_nv nv[5] = { NV(":status", "200"),
				     NV("content-type", "application/grpc") };
		size_t n = 2 + status_nv(c, nv + 2);

		nghttp2_submit_response(h2, c->stream_id, nv, n, NULL);
		c->headers_sent = c->trailers_sent = true;
	} else if (pending) {
		nghttp2_nv nv[2] = { NV(":status", "200"),
				     NV("content-type", "application/grpc") };
		nghttp2_data_provider prd = { .source.ptr = c, .read_callback = read_body };

		nghttp2_submit_response(h2, c->stream_id, nv, 2, &prd);
		c->headers_sent = true;
	}
}

/*
 * A DATA or HEADERS frame on a client stream the session no longer has is
 * on a closed stream: RFC 9113 5.1 says what it gets (stream_ids.c), where
 * nghttp2 would drop it unseen. Called before the frame is processed, with
 * every frame before it processed: for HEADERS from on_begin_frame, for
 * DATA (which nghttp2 ignores before any callback) from conn.c's scan of
 * the input.
 */
void cam_grpc__closed_stream_frame(struct conn *conn, uint8_t type, int32_t id)
{
	nghttp2_session *h2 = conn->h2;

	if (id <= 0 || !(id & 1) || id > nghttp2_session_get_last_proc_stream_id(h2) ||
	    nghttp2_session_find_stream(h2, id))
		return;
	switch (cam_grpc__ids_closed_frame(&conn->ids, id)) {
	case CLOSED_FRAME_STREAM_ERROR:
		nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, id, NGHTTP2_STREAM_CLOSED);
		break;
	case CLOSED_FRAME_CONN_ERROR:
		cam_grpc__count_perr(conn->srv, PERR_HTTP2);
		nghttp2_session_terminate_session(h2, NGHTTP2_STREAM_CLOSED);
		break;
	case CLOSED_FRAME_NEVER_OPENED:
		cam_grpc__count_perr(conn->srv, PERR_HTTP2);
		nghttp2_session_terminate_session(h2, type == NGHTTP2_HEADERS
						  ? NGHTTP2_PROTOCOL_ERROR : NGHTTP2_STREAM_CLOSED);
		break;
	case CLOSED_FRAME_IGNORE:
		break;
	}
}

static int on_begin_frame(nghttp2_session *h2, const nghttp2_frame_hd *hd, void *ud)
{
	(void)h2;
	if (hd->type == NGHTTP2_HEADERS)
		cam_grpc__closed_stream_frame(ud, hd->type, hd->stream_id);
	return 0;
}

/*
 * A frame went out. An answer that ended our side of a stream before the
 * client ended its own (an early refusal) is followed by RST_STREAM
 * NO_ERROR, so the client stops sending (RFC 9113 8.1) and the stream
 * closes; every RST_STREAM we send is remembered (stream_ids.c).
 */
static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *frame, void *ud)
{
	struct conn *conn = ud;
	struct cam_grpc_call *c;

	if (frame->hd.type == NGHTTP2_RST_STREAM) {
		cam_grpc__ids_reset_by_us(&conn->ids, frame->hd.stream_id);
		return 0;
	}
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	cam_grpc__lifetime_sent_data(conn);
	if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	c = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
	if (c && !c->remote_ended)
		nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
					  NGHTTP2_NO_ERROR);
	return 0;
}

int cam_grpc__h2_setup(cam_grpc_server *s)
{
	nghttp2_session_callbacks *cbs;

	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return CAM_ENOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, on_begin_frame);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
	s->cbs = cbs;
	if (nghttp2_option_new(&s->h2opt) != 0)
		return CAM_ENOMEM;
	/* Peers may open many streams; the default of 100 closed streams kept
	 * for priority is not needed by gRPC. */
	nghttp2_option_set_no_closed_streams(s->h2opt, 1);
	return 0;
}
