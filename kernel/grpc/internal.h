/*
 * Internals of the gRPC transport shared by its files (not for other
 * modules: the API is server.h). Names with a double underscore are
 * internal and non-static, libuv style.
 *
 *   server.c    server life: options, methods, start, drain, free
 *   loop.c      one I/O thread: its epoll loop, accept, the hand-back queue
 *   metrics.c   the transport's metric families, in one table
 *   conn.c      one connection: socket I/O, its nghttp2 session, closing
 *   limits.c    connection limits and timers: handshake and idle timeouts,
 *               the connection cap (oldest idle closed first), the
 *               descriptor kept in reserve, refusal counters
 *   budget.c    the buffer budget: request and response bytes held
 *   h2.c        nghttp2 callbacks: requests in, responses out
 *   http_answer.c  HTTP answers to requests that are not gRPC
 *   stream_ids.c   what a connection remembers of its closed streams
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
#include <sys/socket.h>
#include <time.h>

#include "common/clock.h"
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
/* Streams a client may open at once (SETTINGS_MAX_CONCURRENT_STREAMS);
 * past it a new stream gets REFUSED_STREAM (h2.c). */
#define MAX_CONCURRENT_STREAMS 4096
#define STREAM_WINDOW (1 << 20)
#define CONN_WINDOW (32 << 20)
#define WBUF_HIGH (128 * 1024)
#define READ_CHUNK (64 * 1024)
#define DEFAULT_DRAIN_MS 5000
#define DEFAULT_HANDSHAKE_MS 10000
#define NO_TIMER SIZE_MAX
#define ACCEPT_PAUSE_NS (100 * 1000000LL)
/* Responses at most this large pass a full buffer budget: refusing a
 * ping's answer would save nothing and fail a good client. */
#define SMALL_MESSAGE 4096

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

/* Calls the transport refuses to protect itself (bounded). */
enum cam_grpc__refusal {
	REFUSE_BUFFER_BUDGET,   /* the server-wide buffer budget is spent */
	REFUSE_CONN_BUDGET,     /* this connection's share of request bytes */
	REFUSE_STREAM_LIMIT,    /* past SETTINGS_MAX_CONCURRENT_STREAMS */
	REFUSE_BACKPRESSURE,    /* the connection's unsent answers pass its share */
	REFUSE_ADMISSION,       /* the method's admission check (credentials) */
	REFUSE_NOT_GRPC,        /* an HTTP request that is not gRPC */
	REFUSE_COUNT
};

/* Why the transport closed a connection itself (bounded). */
enum cam_grpc__closing {
	CLOSE_HANDSHAKE_TIMEOUT, /* no preface and SETTINGS in time */
	CLOSE_IDLE_TIMEOUT,      /* no stream open for the idle timeout */
	CLOSE_CONNECTION_LIMIT,  /* the oldest idle one, or a new one, at the cap */
	CLOSE_RESPONSE_BUDGET,   /* unsent answers past the hard limit: GOAWAY */
	CLOSE_COUNT
};

/*
 * The streams of one connection closed lately, by odd stream id, so that a
 * frame on a closed stream gets what RFC 9113 5.1 says (stream_ids.c):
 * ignored after our own RST_STREAM, STREAM_CLOSED otherwise. Covers the
 * newest STREAM_IDS_WINDOW client stream ids; older ones are forgotten,
 * which 5.4.2 allows.
 */
#define STREAM_IDS_WINDOW 1024
struct cam_grpc__stream_ids {
	uint32_t top;                         /* highest index seen (id >> 1) */
	uint64_t opened[STREAM_IDS_WINDOW / 64];
	uint64_t reset_by_us[STREAM_IDS_WINDOW / 64];
	uint64_t reset_by_peer[STREAM_IDS_WINDOW / 64];
};

struct method {
	char *path;
	size_t path_len;
	cam_grpc_handler unary;                /* NULL for streaming methods */
	cam_grpc_classifier classify;          /* unary only; may be NULL */
	void *classify_arg;
	cam_grpc_refusal_hook refused;         /* unary only; may be NULL */
	void *refused_arg;
	cam_grpc_admission admit;              /* unary only; may be NULL */
	void *admit_arg;
	const struct cam_grpc_stream_ops *ops; /* NULL for unary methods */
	void *arg;
};

struct outbuf {
	uint8_t *data;
	size_t off, len, cap;
};

struct conn;

/* Where a connection is in a graceful end (lifetime.c). */
enum cam_grpc__ending {
	ENDING_NONE,
	ENDING_NOTICE,   /* GOAWAY with the highest stream id sent: no new calls */
	ENDING_GOAWAY,   /* GOAWAY with the last stream id sent: calls finish */
};

/* Lists of connections waiting on a timer (limits.c), oldest first. */
enum cam_grpc__conn_list_id {
	CONN_LIST_NONE,
	CONN_LIST_SHAKING,  /* handshake not done, no stream */
	CONN_LIST_IDLE,     /* handshake done, no stream open */
	CONN_LIST_CLOSING,  /* GOAWAY sent to end it */
	CONN_LIST_COUNT
};
struct cam_grpc__conn_list {
	struct conn *head, *tail;
};
/* How long a connection told GOAWAY gets to read it before it is closed. */
#define CLOSING_GRACE_MS 1000
/* I/O threads at most (CAM_GRPC_IO_THREADS). */
#define MAX_IO_THREADS 64

struct cam_grpc__loop;

struct cam_grpc_call {
	atomic_int refs;
	cam_grpc_server *srv;
	struct cam_grpc__loop *loop;      /* the I/O thread of its connection */
	struct cam_grpc_task task;        /* pool hand-off */
	struct cam_grpc_call *done_next;  /* hand-back queue link */
	atomic_bool queued;               /* in the hand-back queue */
	atomic_bool cancelled;

	/* I/O thread only, then read-only for the handler after dispatch. */
	struct conn *conn;                /* NULL once the stream is gone */
	struct cam_grpc_call *conn_prev, *conn_next;
	int32_t stream_id;
	const struct method *method;
	char *path;                       /* path_cap bytes */
	size_t path_cap;
	size_t fixed_bytes;               /* the call itself, md and path, in srv->buffered */
	struct cam_grpc_wire_framer framer;
	uint8_t *msg;
	size_t msg_len;
	unsigned nmsg;
	char *md;                         /* "name\0value\0" pairs */
	size_t md_len, md_cap;
	/* The headers looked up on every call, found as they arrive: offset
	 * of the first value + 1 (0: absent), and how many authorization. */
	uint32_t md_authorization, md_traceparent;
	unsigned md_authorization_n;
	size_t held;                      /* request bytes counted in conn->held */
	int64_t deadline_ns;
	size_t heap_idx;                  /* in srv->timers, or NO_TIMER */
	enum cam_grpc__encoding encoding;
	int reject_status;                /* set while reading headers */
	const char *reject_text;
	bool ended_io;                    /* refused or answered by the I/O thread */
	bool headers_sent, trailers_sent, deferred;
	bool remote_ended;                /* the client sent END_STREAM */
	bool is_post, is_grpc, is_head;   /* from :method and content-type */
	size_t req_bytes;                 /* request bytes in srv->buffered */
	size_t out_seen;                  /* of out_total, what conn->out_held has seen */
	size_t out_unsent;                /* answer bytes in conn->out_held */
	/* An HTTP answer to a request that is not gRPC (http_answer.c),
	 * sent once the client ends its stream. */
	int http_status;
	char *http_body;
	size_t http_len, http_off;
	char peer[64];
	struct cam_grpc_peer_id *peer_id; /* the connection's client certificate; NULL: none */

	/* Response side, any thread, under mu. */
	pthread_mutex_t mu;
	struct outbuf out;
	size_t out_total;                 /* bytes ever appended to out */
	bool finished;
	int status;
	char *status_text;                /* percent-encoded */
	char request_id[40];              /* sent as cam-request-id in a failure's trailers */
};

struct conn {
	int fd;
	SSL *ssl;                         /* NULL: cleartext (prior knowledge) */
	cam_grpc_server *srv;
	struct cam_grpc__loop *loop;      /* the I/O thread that owns it */
	nghttp2_session *h2;
	struct conn *prev, *next;
	struct conn *dirty_next;
	struct conn *list_prev, *list_next; /* in srv->lists[list] */
	enum cam_grpc__conn_list_id list;
	int64_t list_since_ns;            /* when it joined that list */
	struct cam_grpc_call *calls;
	unsigned ncalls;                  /* open streams */
	/* The call whose header block is being read (h2.c): its headers
	 * need no lookup of the stream each. */
	struct cam_grpc_call *hdr_call;
	int32_t hdr_stream;
	size_t held;                      /* sum of the calls' held bytes */
	size_t out_held;                  /* answer bytes queued, not yet sent */
	int64_t out_progress_ns;          /* when answer bytes last went out */
	uint8_t *wbuf;
	size_t woff, wlen, wcap;
	bool pollout, dirty, dead, goaway;
	bool close_when_written;          /* close once the write buffer is out */
	bool handshaken;                  /* preface and client SETTINGS seen */
	bool settings_sent;               /* our first SETTINGS went out */
	/* Lifetime (lifetime.c): a graceful GOAWAY in two steps. */
	enum cam_grpc__ending ending;
	int64_t age_at_ns;                /* when the max age is reached; 0: never */
	int64_t ending_next_ns;           /* when its next step is due */
	int64_t age_grace_ns;             /* after the last GOAWAY; 0: until done */
	int64_t last_ping_ns;             /* last PING from the client; 0: none yet */
	unsigned ping_strikes;
	bool reset_strikes;               /* we sent HEADERS/DATA since the last PING */
	/* Where the input stands in the frame sequence (conn.c, conn_feed). */
	uint32_t scan_skip;               /* preface or payload bytes left */
	uint8_t scan_hdr[9], scan_have;
	struct cam_grpc__stream_ids ids;
	char peer[64];
	struct cam_grpc_peer_id *peer_id; /* its client certificate, once handshaken */
	bool peer_checked;
};

struct hook {
	void (*fn)(void *arg);
	void *arg;
};

/* A connection accepted by loop 0 for another loop (loop.c). */
struct cam_grpc__newconn {
	struct cam_grpc__newconn *next;
	int fd;
	struct sockaddr_storage addr;
};

/*
 * One I/O thread: its epoll, its connections and their timers, and the
 * queue through which handlers hand finished calls back. Loop 0 also owns
 * the listener and hands each new connection to the loop with the fewest
 * (through the same queue). Everything here but the queue is touched by
 * that thread only: nothing is shared between I/O threads per call.
 */
struct cam_grpc__loop {
	cam_grpc_server *srv;
	unsigned index;
	int lfd, evfd, epfd;              /* lfd: loop 0 only, else -1 */
	int reserve_fd;                   /* closed to accept-and-close at EMFILE */
	pthread_t thread;
	bool running;
	_Atomic unsigned nconns;          /* read by loop 0 to place new ones */
	/* Written by this loop's thread only, read by any (budget.c, server.c):
	 * the budget it took ahead, and its open streams and calls. */
	_Atomic size_t budget_reserve;
	_Atomic uint64_t nstreams, calls_total;

	/* Hand-back queue: workers push finished calls, loop 0 pushes new
	 * connections; the I/O thread drains both. */
	pthread_mutex_t done_mu;
	struct cam_grpc_call *done_head, *done_tail;
	struct cam_grpc__newconn *inbox;
	/* Calls finished on this loop's own thread (inline handlers): no lock,
	 * no eventfd. */
	struct cam_grpc_call *ready_head, *ready_tail;
	/* Calls freed on this thread, kept with their buffers for new
	 * streams (call.c): once warm, a call allocates nothing. */
	struct cam_grpc_call *free_calls;
	unsigned nfree_calls;

	/* I/O thread only. */
	struct conn *conns;
	struct cam_grpc__conn_list lists[CONN_LIST_COUNT]; /* limits.c */
	struct conn *dirty;
	struct cam_grpc_call **timers;    /* min-heap of open calls by deadline */
	size_t ntimers, cap_timers;
	bool draining;
	int64_t drain_deadline;
	int64_t accept_resume;            /* listener paused (out of fds) until */
	int64_t next_stall_scan_ns;       /* limits.c */
	int64_t next_ending_ns;           /* lifetime.c: next age or GOAWAY step; 0: none */
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

	size_t max_buffered;              /* request + response bytes, all connections */
	size_t conn_share;                /* one connection's share of it */
	size_t conn_hard;                 /* unsent answers past this: GOAWAY */
	size_t budget_chunk;              /* what an I/O thread takes ahead (budget.c) */
	unsigned max_conns;
	int64_t handshake_ns, idle_ns;    /* 0: none */
	int64_t max_age_ns, age_grace_ns; /* 0: none */
	int64_t ping_min_ns;              /* 0: no keepalive policy */
	bool ping_without_calls;
	_Atomic size_t buffered;

	unsigned nloops;
	struct cam_grpc__loop *loops;
	int port;
	pthread_mutex_t life_mu;
	bool started, shut;
	atomic_bool stopping;
	cam_grpc_pool *pool;              /* the default executor, or NULL */
	struct cam_grpc_executor *ex;     /* runs unary handlers */
	nghttp2_session_callbacks *cbs;
	nghttp2_option *h2opt;

	/* Rate-limited log lines (limits.c), claimed by any thread. */
	_Atomic int64_t log_next[REFUSE_COUNT + CLOSE_COUNT];
	_Atomic uint64_t log_quiet[REFUSE_COUNT + CLOSE_COUNT];

	_Atomic uint64_t nconns, perrors, too_large;
	_Atomic uint64_t refused[REFUSE_COUNT], closed[CLOSE_COUNT];
	cam_series *m_conns, *m_streams, *m_too_large, *m_perr[PERR_COUNT];
	cam_series *m_refused[REFUSE_COUNT], *m_closed[CLOSE_COUNT];
	cam_series *m_buffered, *m_budget, *m_max_conns, *m_io_threads, *m_accepted;
};

static inline bool cam_grpc__past_deadline(const struct cam_grpc_call *c)
{
	return c->deadline_ns && cam_mono_ns() >= c->deadline_ns;
}

/* server.c */
void cam_grpc__count_perr(cam_grpc_server *s, enum cam_grpc__perr why);

/* loop.c */
/* The loop whose thread this is; NULL on other threads. */
extern _Thread_local struct cam_grpc__loop *cam_grpc__this_loop;
/* Pushes the calls finished on this loop's thread (I/O thread). */
void cam_grpc__loop_push_ready(struct cam_grpc__loop *l);
/* Sets up loop l (epoll, eventfd; the listener for loop 0), then starts
 * its thread. CAM_E* on failure, with nothing left open. */
int cam_grpc__loop_start(struct cam_grpc__loop *l);
/* Wakes the loop's thread (the stop flag, new work). Any thread. */
void cam_grpc__loop_wake(struct cam_grpc__loop *l);
/* After the thread is joined (or never ran): closes and frees it all. */
void cam_grpc__loop_free(struct cam_grpc__loop *l);

/* conn.c (I/O thread) */
void cam_grpc__conn_mark_dirty(struct conn *conn);
void cam_grpc__conn_open(struct cam_grpc__loop *l, int fd, const struct sockaddr *sa);
void cam_grpc__conn_event(struct conn *conn, uint32_t events);
/* Writes what nghttp2 has to send; -1 when the connection must close. */
int cam_grpc__conn_flush(struct conn *conn);
void cam_grpc__conn_close(struct conn *conn);
/* GOAWAY with code and close once it is written (or at once when nothing
 * can be written). */
void cam_grpc__conn_terminate(struct conn *conn, uint32_t code);

/* limits.c (I/O thread unless said otherwise) */
void cam_grpc__limits_init(cam_grpc_server *s, const struct cam_grpc_server_opts *o);

/* metrics.c: registers the transport's families and resolves its series. */
int cam_grpc__metrics_register(cam_grpc_server *s);
void cam_grpc__metrics_unregister(cam_grpc_server *s);
/* Counts a refusal and logs it, at most one line per reason per 10 s
 * (any thread for the count; the log line from the I/O thread only). */
void cam_grpc__count_refusal(cam_grpc_server *s, enum cam_grpc__refusal why,
			     const char *peer);
void cam_grpc__count_closing(cam_grpc_server *s, enum cam_grpc__closing why,
			     const char *peer);
/* The connection has no stream open now / has one again. */
void cam_grpc__conn_idle(struct conn *conn);
void cam_grpc__conn_busy(struct conn *conn);
/* The client's preface and SETTINGS have arrived. */
void cam_grpc__conn_handshaken(struct conn *conn);
/* The connection was told GOAWAY to end it / is being closed. */
void cam_grpc__conn_closing(struct conn *conn);
void cam_grpc__conn_unlist(struct conn *conn);
/* Before a new connection is served: false when it must be closed at
 * once (at the cap with no idle connection to close instead). */
bool cam_grpc__limits_admit(struct cam_grpc__loop *l);
/* Closes connections past their handshake or idle time. */
void cam_grpc__limits_sweep(struct cam_grpc__loop *l);
/* Milliseconds until the next sweep is due, or -1. */
int cam_grpc__limits_wait_ms(const struct cam_grpc__loop *l);
/* accept() failed with EMFILE/ENFILE: take one connection with the
 * reserve descriptor and close it, so the client learns at once. */
void cam_grpc__limits_shed(struct cam_grpc__loop *l);

/* lifetime.c (I/O thread) */
void cam_grpc__lifetime_init(cam_grpc_server *s, const struct cam_grpc_server_opts *o);
/* A new connection: when its max age is reached. */
void cam_grpc__lifetime_open(struct conn *conn);
/* Starts a graceful end of conn: GOAWAY with the highest stream id now,
 * the one with the last stream id a little later, then close after grace
 * (grace_ns 0: when its calls are done). */
void cam_grpc__lifetime_end(struct conn *conn, int64_t grace_ns);
/* Steps every connection whose age or GOAWAY step is due. */
void cam_grpc__lifetime_sweep(struct cam_grpc__loop *l);
int cam_grpc__lifetime_wait_ms(const struct cam_grpc__loop *l);
/* A PING from the client (keepalive policy); we sent HEADERS or DATA. */
void cam_grpc__lifetime_ping(struct conn *conn);
void cam_grpc__lifetime_sent_data(struct conn *conn);

/* budget.c (any thread) */
/* Takes n bytes of the budget; false (nothing taken) when they do not fit.
 * force takes them regardless (small answers). */
bool cam_grpc__budget_take(cam_grpc_server *s, size_t n, bool force);
void cam_grpc__budget_give(cam_grpc_server *s, size_t n);
/* The most budget one I/O thread takes ahead of its calls. */
#define BUDGET_CHUNK_MAX (64 * 1024)
/* Bytes held now: the budget taken less what the loops took ahead. */
size_t cam_grpc__budget_held(cam_grpc_server *s);
/* Moves a count only the loop's own thread writes: no locked
 * instruction, and any thread may read it whole. */
static inline void cam_grpc__loop_count(_Atomic uint64_t *n, int64_t d)
{
	atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + (uint64_t)d,
			      memory_order_relaxed);
}
/* A per-loop count summed over every loop. */
uint64_t cam_grpc__loops_sum(cam_grpc_server *s, size_t offset);
/* I/O thread: the connection's unsent answers grew by n / shrank by n
 * (n bytes went out). Past the hard limit, a connection that has not
 * taken an answer byte for STALL_MS is ended with GOAWAY. */
#define STALL_MS 1000
#define SHARE_STALL_MS 5000
void cam_grpc__conn_out_add(struct conn *conn, size_t n);
void cam_grpc__conn_out_sub(struct conn *conn, size_t n);
/* Ends the connection if it holds past the hard limit and does not read. */
void cam_grpc__conn_check_stall(struct conn *conn, int64_t now);

/* stream_ids.c (I/O thread) */
void cam_grpc__ids_opened(struct cam_grpc__stream_ids *ids, int32_t id);
void cam_grpc__ids_reset_by_us(struct cam_grpc__stream_ids *ids, int32_t id);
void cam_grpc__ids_reset_by_peer(struct cam_grpc__stream_ids *ids, int32_t id);
enum cam_grpc__closed_frame {
	CLOSED_FRAME_IGNORE,      /* we reset it, or too old to know */
	CLOSED_FRAME_STREAM_ERROR,/* the client reset it: RST_STREAM STREAM_CLOSED */
	CLOSED_FRAME_CONN_ERROR,  /* ended both ways: GOAWAY STREAM_CLOSED */
	CLOSED_FRAME_NEVER_OPENED,/* an id skipped over: implicitly closed */
};
enum cam_grpc__closed_frame cam_grpc__ids_closed_frame(const struct cam_grpc__stream_ids *ids,
						       int32_t id);

/* h2.c: a DATA or HEADERS frame may be on a closed stream (RFC 9113 5.1). */
void cam_grpc__closed_stream_frame(struct conn *conn, uint8_t type, int32_t id);

/* http_answer.c (I/O thread) */
/* Decides, once the headers are read, whether the request is gRPC; for one
 * that is not, sets c->http_status and the text of the answer. */
void cam_grpc__http_classify(struct cam_grpc_call *c);
/* Sends the HTTP answer (the client has ended its stream). */
void cam_grpc__http_answer(struct cam_grpc_call *c);

/* call.c: a new call on a stream of conn, holding the I/O thread's
 * reference; its size was taken from the budget already. */
struct cam_grpc_call *cam_grpc__call_new(struct conn *conn, int32_t stream_id);
/* Frees the calls a loop keeps for reuse (the loop has stopped). */
void cam_grpc__calls_free_cache(struct cam_grpc__loop *l);
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
void cam_grpc__timer_add(struct cam_grpc__loop *l, struct cam_grpc_call *c);
void cam_grpc__timer_remove(struct cam_grpc__loop *l, struct cam_grpc_call *c);
void cam_grpc__timers_expire(struct cam_grpc__loop *l);
int cam_grpc__timers_wait_ms(const struct cam_grpc__loop *l);

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
