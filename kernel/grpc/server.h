/*
 * The gRPC transport: cleartext HTTP/2 (prior knowledge) or TLS served
 * with libnghttp2 from epoll I/O threads (each with its own connections),
 * handlers on worker threads.
 *
 * A connection's I/O thread alone touches its socket and nghttp2 session. It reassembles request
 * messages, checks path, deadline, size and encoding, and hands a call to a
 * worker (pool.h). The handler finishes the call from any thread; the
 * finished call goes back to the I/O thread through a queue and an eventfd.
 *
 * It must not fall to one hostile client: request and response bytes held
 * count against one budget (max_buffered_bytes) and a share of it per
 * connection; connections have a handshake and an idle timeout and a cap
 * (the oldest idle one is closed first); HTTP/2 is spoken as RFC 9113 says
 * (a request is answered once its client ends the stream, or refused with
 * RST_STREAM; streams past the advertised limit get REFUSED_STREAM); a
 * request that is not gRPC gets an HTTP status with a short text.
 *
 * Unary methods: cam_grpc_server_add_method(). Streaming methods (cheap,
 * non-blocking work such as reflection and health Watch) get callbacks on
 * the I/O thread: cam_grpc_server_add_stream_method().
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_GRPC_SERVER_H
#define CAM_GRPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The status codes calls are answered with: enum cam_grpc_status. */
#include "common/grpc_status.h"

typedef struct cam_grpc_server cam_grpc_server;

struct cam_grpc_executor;
struct cam_grpc_sched;
struct cam_grpc_task;

struct cam_grpc_server_opts {
	const char *listen;   /* "127.0.0.1:50051", "[::1]:50051", ":50051" (all) */
	unsigned workers;     /* FIFO pool size, 0 = one per online CPU */
	/* Runs the unary handlers instead of the FIFO pool (pool.h). Borrowed:
	 * it must outlive the server, whose shutdown stops it. */
	struct cam_grpc_executor *executor;
	size_t max_msg_bytes; /* largest request message; 0 = 4 MiB */
	int drain_ms;         /* shutdown: time in-flight calls get; <=0 = 5000 */
	/* Both set: TLS (ALPN h2) on the port instead of cleartext HTTP/2. */
	const char *tls_cert_file; /* PEM certificate chain */
	const char *tls_key_file;  /* PEM private key */
	/* Client certificates (with TLS): the CA that signs them; NULL: none
	 * asked for. tls_client_require: a connection without one fails its
	 * handshake. tls_trust_domain: of their SPIFFE IDs (tls.h). */
	const char *tls_client_ca_file;
	bool tls_client_require;
	const char *tls_trust_domain;
	/* Request and response bytes all connections may hold; 0 = sized for
	 * the machine (cam_grpc_default_buffer_budget). */
	size_t max_buffered_bytes;
	/* Open connections at most; 0 = from the descriptor limit
	 * (cam_grpc_default_max_connections). */
	unsigned max_connections;
	int handshake_timeout_ms; /* preface + SETTINGS; 0 = 10000, < 0 = none */
	int idle_timeout_ms;      /* no stream open this long: GOAWAY; <= 0 = none */
	/* I/O threads, each with its epoll and its share of the connections;
	 * 0 = cam_grpc_default_io_threads(). */
	unsigned io_threads;
	/* A connection older than this (each within +-10 %, so a fleet does
	 * not reconnect at once) is told GOAWAY; its calls then get
	 * max_age_grace_ms before it is closed. 0 = no limit; grace 0 = none. */
	int max_age_ms, max_age_grace_ms;
	/* Keepalive policy, as grpc-go enforces it: a client that pings more
	 * often than this (or at all while it has no call open, unless
	 * permitted) gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings" after
	 * three strikes. 0 = 300000 (5 min), < 0 = no policy. */
	int keepalive_min_time_ms;
	bool keepalive_permit_without_calls;
};

/* One per online CPU, at most 8. */
unsigned cam_grpc_default_io_threads(void);

/* An eighth of the memory this process may use (RAM or its cgroup's
 * limit), between 16 MiB and 256 MiB. */
size_t cam_grpc_default_buffer_budget(void);
/* What the descriptor limit leaves for connections once descriptors for
 * everything else are kept back. */
unsigned cam_grpc_default_max_connections(void);

/* One RPC as a handler sees it. Opaque; refcounted. */
struct cam_grpc_call;

/* The request message (unary methods); valid until the call is finished. */
const uint8_t *cam_grpc_call_message(const struct cam_grpc_call *c, size_t *len);
/* Request metadata by lower-case name; NULL if absent. Binary ("-bin")
 * values are given as sent (base64). Valid while the caller holds the call. */
const char *cam_grpc_call_metadata(const struct cam_grpc_call *c, const char *name);
/* How many times the request carried header name (a repeated credential
 * is a reason to refuse). */
unsigned cam_grpc_call_metadata_count(const struct cam_grpc_call *c, const char *name);
/* Absolute deadline on CLOCK_MONOTONIC in ns; 0 = none. */
int64_t cam_grpc_call_deadline_ns(const struct cam_grpc_call *c);
/* "ipv4:127.0.0.1:4242" / "ipv6:[::1]:4242". */
const char *cam_grpc_call_peer(const struct cam_grpc_call *c);
/*
 * The connection's verified client certificate: true when it has one,
 * with *caller the caller it names ("" when none acceptable) and *error
 * why not. Valid while the caller holds the call.
 */
bool cam_grpc_call_client_cert(const struct cam_grpc_call *c, const char **caller,
			       const char **error);
/* "/cam.SyscallService/Execute". */
const char *cam_grpc_call_method(const struct cam_grpc_call *c);
/* True once the client cancelled (RST_STREAM, connection gone). */
bool cam_grpc_call_cancelled(const struct cam_grpc_call *c);
/* The call's executor task, with what the scheduler decided (pool.h). */
const struct cam_grpc_task *cam_grpc_call_task(const struct cam_grpc_call *c);

/*
 * Finishing a unary call. A unary handler is handed one reference to the
 * call and must finish it exactly once, from any thread and at any time
 * (it may queue the call and finish later): reply or fail consumes that
 * reference, and the call must not be touched afterwards. Finishing a
 * cancelled call is harmless. A reply past the deadline is dropped and the
 * client gets DEADLINE_EXCEEDED instead. msg is copied.
 */
void cam_grpc_call_reply(struct cam_grpc_call *c, const uint8_t *msg, size_t len);
/* Like reply, without a copy: pack(arg, out) writes the len-byte message
 * straight into the call's output buffer (under the call's lock: it must
 * be quick and must not touch the call). Not called when the call is
 * already over, past its deadline or refused by the buffer budget. */
void cam_grpc_call_reply_packed(struct cam_grpc_call *c, size_t len,
				void (*pack)(void *arg, uint8_t *out), void *arg);
void cam_grpc_call_fail(struct cam_grpc_call *c, int grpc_status, const char *message);
/* The id a failure's trailers carry as cam-request-id (a success carries
 * its own in the message); before the call is answered. */
void cam_grpc_call_set_request_id(struct cam_grpc_call *c, const char *id);

typedef void (*cam_grpc_handler)(void *arg, struct cam_grpc_call *c);

/*
 * Streaming methods. Every callback runs on the I/O thread and must not
 * block; c is borrowed for the callback (cam_grpc_call_ref to keep it).
 */
struct cam_grpc_stream_ops {
	/* A request message; msg is valid during the callback only. */
	void (*on_message)(void *arg, struct cam_grpc_call *c, const uint8_t *msg,
			   size_t len);
	/* The client sent its last message. May be NULL. */
	void (*on_half_close)(void *arg, struct cam_grpc_call *c);
	/* The stream is gone (ended or cancelled): the last callback for c.
	 * May be NULL. */
	void (*on_close)(void *arg, struct cam_grpc_call *c);
};

/* Takes and drops a reference; the last unref frees the call. */
void cam_grpc_call_ref(struct cam_grpc_call *c);
void cam_grpc_call_unref(struct cam_grpc_call *c);
/*
 * Streaming replies, from any thread, on a call the caller holds a
 * reference to (neither consumes it). send queues one response message
 * (copied): 0, or CAM_ECLOSED once the call is ended or cancelled, or
 * CAM_ENOMEM. end sends the trailers; later sends and ends are ignored.
 */
int cam_grpc_call_send(struct cam_grpc_call *c, const uint8_t *msg, size_t len);
void cam_grpc_call_end(struct cam_grpc_call *c, int grpc_status, const char *message);

/* Creates a stopped server; CAM_EINVAL for bad options, *out untouched then. */
int cam_grpc_server_new(const struct cam_grpc_server_opts *o, cam_grpc_server **out);
/* Before start only. CAM_EEXIST for a path already added, CAM_EINVAL. */
int cam_grpc_server_add_method(cam_grpc_server *s, const char *path,
			       cam_grpc_handler h, void *arg);
/*
 * A classifier reads a unary call's request message on the I/O thread,
 * just before the call is handed to the executor, and fills out (priority,
 * factors, who calls: pool.h); call gives its metadata. It must be quick
 * and must not keep msg past the call. Before start, on a unary method
 * already added; CAM_ENOENT otherwise.
 */
typedef void (*cam_grpc_classifier)(void *arg, const struct cam_grpc_call *call,
				    const uint8_t *msg, size_t len, struct cam_grpc_sched *out);
int cam_grpc_server_set_classifier(cam_grpc_server *s, const char *path,
				   cam_grpc_classifier fn, void *arg);
/*
 * A refusal hook hears of each unary call of its method that the
 * transport answers without running the handler: the executor refused it
 * (queue full: RESOURCE_EXHAUSTED), dropped it or found it expired before
 * it ran (DEADLINE_EXCEEDED), or its client cancelled it first
 * (CANCELLED). It runs on the I/O thread or a worker, before the answer
 * goes out; it must be quick, may read the request message, and must not
 * finish the call. Before start, on a unary method; CAM_ENOENT otherwise.
 */
typedef void (*cam_grpc_refusal_hook)(void *arg, struct cam_grpc_call *c, int grpc_status,
				      const char *why);
int cam_grpc_server_set_refusal_hook(cam_grpc_server *s, const char *path,
				     cam_grpc_refusal_hook fn, void *arg);
/*
 * An admission check reads a unary call's request headers on the I/O
 * thread as soon as they are complete, before any of its DATA is
 * buffered: a call without valid credentials costs no memory. It returns
 * 0 to admit the call, or a gRPC status with why (why_len bytes) filled to
 * answer it at once; the refusal hook then hears of it too. Quick,
 * non-blocking. Before start, on a unary method; CAM_ENOENT otherwise.
 */
typedef int (*cam_grpc_admission)(void *arg, const struct cam_grpc_call *c, char *why,
				  size_t why_len);
int cam_grpc_server_set_admission(cam_grpc_server *s, const char *path,
				  cam_grpc_admission fn, void *arg);
int cam_grpc_server_add_stream_method(cam_grpc_server *s, const char *path,
				      const struct cam_grpc_stream_ops *ops,
				      void *arg);
/*
 * Runs fn(arg) at the start of cam_grpc_server_shutdown(), on the caller's
 * thread, before GOAWAY (health uses it to answer NOT_SERVING). Before start.
 */
int cam_grpc_server_on_shutdown(cam_grpc_server *s, void (*fn)(void *arg), void *arg);
/* Binds (an error if it cannot: CAM_EINVAL bad address, CAM_EIO and the
 * like from the OS), then starts the I/O thread and the workers. */
int cam_grpc_server_start(cam_grpc_server *s);
/* The bound port (useful after listening on port 0); 0 before start. */
int cam_grpc_server_port(const cam_grpc_server *s);
/*
 * GOAWAY to every connection, stop accepting, let in-flight calls finish
 * for up to drain_ms, close what is left and join every thread. Idempotent;
 * NULL is a no-op.
 */
void cam_grpc_server_shutdown(cam_grpc_server *s);
/* Shuts down if needed, then frees. NULL is fine. */
void cam_grpc_server_free(cam_grpc_server *s);

/* Figures for 'observe' (also exported as metrics). */
struct cam_grpc_server_stats {
	uint64_t connections;      /* open now */
	uint64_t streams;          /* HTTP/2 streams open now (calls in flight) */
	uint64_t calls_total;      /* calls dispatched since start */
	uint64_t protocol_errors;  /* connections closed for bad input */
	uint64_t too_large_total;  /* messages refused as too large */
	uint64_t queued;           /* calls waiting for a worker */
	uint64_t buffered_bytes;   /* request + response bytes held now */
	uint64_t refused_total;    /* calls refused to protect the server */
	uint64_t closed_total;     /* connections it closed itself */
};
void cam_grpc_server_stats(cam_grpc_server *s, struct cam_grpc_server_stats *out);

#endif
