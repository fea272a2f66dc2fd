/*
 * Internals of the gRPC transport shared by its files (not for other
 * modules: the API is server.h). Names with a double underscore are
 * internal and non-static, libuv style.
 *
 *   server.c    connections, the epoll loop, server life
 *   h2.c        nghttp2 callbacks: requests in, responses out
 *   call.c      the call object and the API handlers use
 *   deadline.c  the I/O thread's deadline heap
 *
 * A call is refcounted: the I/O thread holds one reference while its HTTP/2
 * stream is open, a unary handler holds one from dispatch until it replies,
 * and the hand-back queue holds one while the call waits in it. So a client
 * cancel (RST_STREAM) or a dropped connection frees nothing a worker still
 * uses; the worker's reply then lands on a detached call and is dropped.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_GRPC_INTERNAL_H
#define CAM_GRPC_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/metrics.h"
#include "kernel/grpc/pool.h"
#include "kernel/grpc/server.h"
#include "kernel/grpc/tls.h"
#include "kernel/grpc/wire.h"

#define COMPONENT "grpc"
#define MAX_METHODS 64
#define MAX_HOOKS 8
#define MAX_METADATA_BYTES (16 * 1024)
#define MAX_STATUS_TEXT 1024
#define MAX_CONCURRENT_STREAMS 4096
#define STREAM_WINDOW (1 << 20)
#define CONN_WINDOW (32 << 20)
#define WBUF_HIGH (128 * 1024)
/* Request bytes the open unary calls of one connection may hold. */
#define CONN_BUFFER_BUDGET ((size_t)128 << 20)
#define READ_CHUNK (64 * 1024)
#define DEFAULT_DRAIN_MS 5000
#define NO_TIMER SIZE_MAX
#define ACCEPT_PAUSE_NS (100 * 1000000LL)

enum cam_grpc__encoding { ENC_IDENTITY, ENC_GZIP };

/* Reasons a request or connection is refused as malformed (bounded). */
enum cam_grpc__perr {
	PERR_BAD_PREFACE,
	PERR_HTTP2,
	PERR_CONTENT_TYPE,
	PERR_COMPRESSION,
	PERR_HEADER,
	PERR_IO,
	PERR_COUNT
};

struct method {
	char *path;
	cam_grpc_handler unary;                /* NULL for streaming methods */
	cam_grpc_classifier classify;          /* unary only; may be NULL */
	void *classify_arg;
	cam_grpc_refusal_hook refused;         /* unary only; may be NULL */
	void *refused_arg;
	const struct cam_grpc_stream_ops *ops; /* NULL for unary methods */
	void *arg;
};

struct outbuf {
	uint8_t *data;
	size_t off, len, cap;
};

struct conn;

struct cam_grpc_call {
	atomic_int refs;
	cam_grpc_server *srv;
	struct cam_grpc_task task;        /* pool hand-off */
	struct cam_grpc_call *done_next;  /* hand-back queue link */
	atomic_bool queued;               /* in the hand-back queue */
	atomic_bool cancelled;

	/* I/O thread only, then read-only for the handler after dispatch. */
	struct conn *conn;                /* NULL once the stream is gone */
	struct cam_grpc_call *conn_prev, *conn_next;
	int32_t stream_id;
	const struct method *method;
	char *path;
	struct cam_grpc_wire_framer framer;
	uint8_t *msg;
	size_t msg_len;
	unsigned nmsg;
	char *md;                         /* "name\0value\0" pairs */
	size_t md_len, md_cap;
	size_t held;                      /* request bytes counted in conn->held */
	int64_t deadline_ns;
	size_t heap_idx;                  /* in srv->timers, or NO_TIMER */
	enum cam_grpc__encoding encoding;
	int reject_status;                /* set while reading headers */
	const char *reject_text;
	bool ended_io;                    /* refused or answered by the I/O thread */
	bool headers_sent, trailers_sent, deferred;
	char peer[64];

	/* Response side, any thread, under mu. */
	pthread_mutex_t mu;
	struct outbuf out;
	bool finished;
	int status;
	char *status_text;                /* percent-encoded */
};

struct conn {
	int fd;
	SSL *ssl;                         /* NULL: cleartext (prior knowledge) */
	cam_grpc_server *srv;
	nghttp2_session *h2;
	struct conn *prev, *next;
	struct conn *dirty_next;
	struct cam_grpc_call *calls;
	size_t held;                      /* sum of the calls' held bytes */
	uint8_t *wbuf;
	size_t woff, wlen, wcap;
	bool pollout, dirty, dead, goaway;
	char peer[64];
};

struct hook {
	void (*fn)(void *arg);
	void *arg;
};

struct cam_grpc_server {
	char *listen;
	cam_grpc_tls *tls;                /* NULL: cleartext */
	unsigned workers;
	size_t max_msg;
	int drain_ms;
	struct method methods[MAX_METHODS];
	size_t nmethods;
	struct hook hooks[MAX_HOOKS];
	size_t nhooks;

	int lfd, evfd, epfd, port;
	pthread_t io;
	pthread_mutex_t life_mu;
	bool started, shut;
	atomic_bool stopping;
	cam_grpc_pool *pool;              /* the default executor, or NULL */
	struct cam_grpc_executor *ex;     /* runs unary handlers */
	nghttp2_session_callbacks *cbs;
	nghttp2_option *h2opt;

	/* Hand-back queue: workers push finished calls, the I/O thread drains. */
	pthread_mutex_t done_mu;
	struct cam_grpc_call *done_head, *done_tail;

	/* I/O thread only. */
	struct conn *conns;
	struct conn *dirty;
	struct cam_grpc_call **timers;    /* min-heap of open calls by deadline */
	size_t ntimers, cap_timers;
	bool draining;
	int64_t drain_deadline;
	int64_t accept_resume;            /* listener paused (out of fds) until */

	_Atomic uint64_t nconns, nstreams, calls_total, perrors, too_large;
	cam_series *m_conns, *m_streams, *m_too_large, *m_perr[PERR_COUNT];
};

static inline int64_t cam_grpc__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline bool cam_grpc__past_deadline(const struct cam_grpc_call *c)
{
	return c->deadline_ns && cam_grpc__now_ns() >= c->deadline_ns;
}

/* server.c */
void cam_grpc__count_perr(cam_grpc_server *s, enum cam_grpc__perr why);

/* call.c: a new call on a stream of conn, holding the I/O thread's reference. */
struct cam_grpc_call *cam_grpc__call_new(struct conn *conn, int32_t stream_id);
/* Queues an optional message and, when end is set, the status (any
 * thread). CAM_ECLOSED when the call is already ended or cancelled. */
int cam_grpc__call_push_out(struct cam_grpc_call *c, const uint8_t *msg, size_t len,
			    bool with_msg, bool end, int status, const char *text);
/* The executor task of a unary call (worker thread): run the handler, or
 * finish the call without running it. */
void cam_grpc__call_run(struct cam_grpc_task *t);
void cam_grpc__call_drop(struct cam_grpc_task *t, int status, const char *why);
/* Tells the method's refusal hook, if any, that c is answered without
 * its handler. */
void cam_grpc__call_refused(struct cam_grpc_call *c, int status, const char *why);

/* deadline.c (I/O thread) */
void cam_grpc__timer_add(cam_grpc_server *s, struct cam_grpc_call *c);
void cam_grpc__timer_remove(cam_grpc_server *s, struct cam_grpc_call *c);
void cam_grpc__timers_expire(cam_grpc_server *s);
int cam_grpc__timers_wait_ms(const cam_grpc_server *s);

/* h2.c (I/O thread) */
int cam_grpc__h2_setup(cam_grpc_server *s);
const struct method *cam_grpc__find_method(const cam_grpc_server *s, const uint8_t *p,
					   size_t len);
/* The I/O thread answers a request itself; later input is ignored. */
void cam_grpc__call_refuse(struct cam_grpc_call *c, int status, const char *text);
/* The stream is gone: unlink from conn, drop the I/O thread's reference. */
void cam_grpc__call_detach(struct cam_grpc_call *c);
/* Hands what the call has queued to nghttp2. */
void cam_grpc__call_push(struct cam_grpc_call *c);

#endif
