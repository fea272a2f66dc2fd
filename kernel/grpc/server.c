/*
 * The gRPC transport (see server.h and internal.h): connections and the
 * epoll loop on one I/O thread that alone touches sockets and nghttp2,
 * calls handed to the worker pool, finished calls handed back through a
 * queue and an eventfd; and the server's life (start, drain, free).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "kernel/grpc/internal.h"
#include "kernel/grpc/listen.h"

static const char *const perr_names[PERR_COUNT] = {
	"bad_preface", "http2", "content_type", "compression", "header", "io",
};

static cam_series *plain_series(const char *name, const char *help,
				enum cam_metric_type type)
{
	struct cam_family_desc d = { .name = name, .help = help, .type = type };
	cam_family *f;

	if (cam_family_register(&d, &f, NULL) != 0)
		return NULL;
	return cam_series_get(f, NULL);
}

static void register_metrics(cam_grpc_server *s)
{
	static const char *const labels[] = { "reason", NULL };
	struct cam_family_desc d = {
		.name = "cam_os_grpc_protocol_errors_total",
		.help = "gRPC requests and connections refused as malformed, by reason.",
		.type = CAM_COUNTER,
		.label_names = labels,
	};
	cam_family *f;

	s->m_conns = plain_series("cam_os_grpc_connections",
				  "Open gRPC (HTTP/2) connections.", CAM_GAUGE);
	s->m_streams = plain_series("cam_os_grpc_streams_in_flight",
				    "Open gRPC streams (calls in flight).", CAM_GAUGE);
	s->m_too_large = plain_series("cam_os_grpc_messages_too_large_total",
				      "Request messages refused as larger than the maximum.",
				      CAM_COUNTER);
	if (cam_family_register(&d, &f, NULL) != 0)
		return;
	for (int i = 0; i < PERR_COUNT; i++) {
		const char *v[] = { perr_names[i], NULL };

		s->m_perr[i] = cam_series_get(f, v);
	}
}

void cam_grpc__count_perr(cam_grpc_server *s, enum cam_grpc__perr why)
{
	atomic_fetch_add_explicit(&s->perrors, 1, memory_order_relaxed);
	cam_counter_inc(s->m_perr[why]);
}

static void conn_mark_dirty(struct conn *conn)
{
	cam_grpc_server *s = conn->srv;

	if (conn->dirty)
		return;
	conn->dirty = true;
	conn->dirty_next = s->dirty;
	s->dirty = conn;
}

static void conn_set_pollout(struct conn *conn, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
				  .data.ptr = conn };

	if (conn->pollout == on)
		return;
	conn->pollout = on;
	epoll_ctl(conn->srv->epfd, EPOLL_CTL_MOD, conn->fd, &ev);
}

static void wbuf_append(struct conn *conn, const uint8_t *p, size_t n)
{
	if (conn->wlen + n > conn->wcap) {
		size_t ncap = conn->wcap ? conn->wcap : 16384;

		while (ncap < conn->wlen + n)
			ncap *= 2;
		conn->wbuf = cam_xrealloc(conn->wbuf, ncap);
		conn->wcap = ncap;
	}
	memcpy(conn->wbuf + conn->wlen, p, n);
	conn->wlen += n;
}

/* Writes what nghttp2 has to send until done or the socket is full.
 * Returns -1 when the connection must be closed. */
static int conn_flush(struct conn *conn)
{
	for (;;) {
		if (conn->woff < conn->wlen && conn->ssl) {
			bool want_write = false;
			ssize_t n = cam_grpc_tls_write(conn->ssl, conn->wbuf + conn->woff,
						       conn->wlen - conn->woff, &want_write);

			if (n < 0)
				return -1;
			if (n == 0) {
				/* A handshake waiting to read resumes from conn_read. */
				conn_set_pollout(conn, want_write);
				return 0;
			}
			conn->woff += (size_t)n;
			continue;
		}
		if (conn->woff < conn->wlen) {
			ssize_t n = send(conn->fd, conn->wbuf + conn->woff,
					 conn->wlen - conn->woff, MSG_NOSIGNAL);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				conn_set_pollout(conn, true);
				return 0;
			}
			if (n < 0)
				return -1;
			conn->woff += (size_t)n;
			continue;
		}
		conn->woff = conn->wlen = 0;
		while (conn->wlen < WBUF_HIGH) {
			const uint8_t *p;
			ssize_t n = nghttp2_session_mem_send(conn->h2, &p);

			if (n < 0)
				return -1;
			if (n == 0)
				break;
			wbuf_append(conn, p, (size_t)n);
		}
		if (conn->wlen == 0)
			break;
	}
	conn_set_pollout(conn, false);
	if (conn->wcap > 4 * WBUF_HIGH) {
		free(conn->wbuf);
		conn->wbuf = NULL;
		conn->wcap = 0;
	}
	if (!nghttp2_session_want_read(conn->h2) && !nghttp2_session_want_write(conn->h2))
		return -1;
	return 0;
}

/* Feeds bytes read to nghttp2; false when the connection must go. */
static bool conn_feed(struct conn *conn, const uint8_t *buf, size_t n)
{
	ssize_t rv = nghttp2_session_mem_recv(conn->h2, buf, n);

	if (rv >= 0)
		return true;
	cam_grpc__count_perr(conn->srv, rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC ? PERR_BAD_PREFACE
									 : PERR_HTTP2);
	cam_log(CAM_LOG_DEBUG, COMPONENT, "closing %s: %s", conn->peer,
		nghttp2_strerror((int)rv));
	return false;
}

/* TLS: read until OpenSSL wants the socket again, since bytes it already
 * decrypted would never make epoll report the socket readable. */
static void conn_read_tls(struct conn *conn)
{
	uint8_t buf[READ_CHUNK];

	for (;;) {
		bool want_write = false;
		ssize_t n = cam_grpc_tls_read(conn->ssl, buf, sizeof(buf), &want_write);

		if (n < 0) {
			conn->dead = true;
			break;
		}
		if (n == 0) {
			if (want_write)
				conn_set_pollout(conn, true);
			break;
		}
		if (!conn_feed(conn, buf, (size_t)n)) {
			conn->dead = true;
			break;
		}
	}
	conn_mark_dirty(conn);
}

static void conn_read(struct conn *conn)
{
	uint8_t buf[READ_CHUNK];

	if (conn->ssl) {
		conn_read_tls(conn);
		return;
	}
	for (int i = 0; i < 8; i++) {
		ssize_t n = recv(conn->fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn->dead = true;
			break;
		}
		if (!conn_feed(conn, buf, (size_t)n)) {
			conn->dead = true;
			break;
		}
		if ((size_t)n < sizeof(buf))
			break;
	}
	conn_mark_dirty(conn);
}

static void conn_close(struct conn *conn)
{
	cam_grpc_server *s = conn->srv;

	while (conn->calls) {
		struct cam_grpc_call *c = conn->calls;

		nghttp2_session_set_stream_user_data(conn->h2, c->stream_id, NULL);
		cam_grpc__call_detach(c);
	}
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
	cam_grpc_tls_conn_free(conn->ssl);
	close(conn->fd);
	nghttp2_session_del(conn->h2);
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		s->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	atomic_fetch_sub_explicit(&s->nconns, 1, memory_order_relaxed);
	cam_gauge_add(s->m_conns, -1);
	cam_log(CAM_LOG_DEBUG, COMPONENT, "connection from %s closed", conn->peer);
	free(conn->wbuf);
	free(conn);
}

static int conn_start_session(struct conn *conn)
{
	cam_grpc_server *s = conn->srv;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_METADATA_BYTES * 4 },
	};

	if (nghttp2_session_server_new2(&conn->h2, s->cbs, conn, s->h2opt) != 0)
		return CAM_ENOMEM;
	if (nghttp2_submit_settings(conn->h2, NGHTTP2_FLAG_NONE, iv,
				    sizeof(iv) / sizeof(iv[0])) != 0 ||
	    nghttp2_session_set_local_window_size(conn->h2, NGHTTP2_FLAG_NONE, 0,
						  CONN_WINDOW) != 0) {
		nghttp2_session_del(conn->h2);
		return CAM_ENOMEM;
	}
	return 0;
}

static void conn_open(cam_grpc_server *s, int fd, const struct sockaddr *sa)
{
	struct conn *conn = cam_xcalloc(1, sizeof(*conn));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = conn };
	int one = 1;

	conn->fd = fd;
	conn->srv = s;
	cam_grpc_listen_peer_name(sa, conn->peer, sizeof(conn->peer));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (s->tls && !(conn->ssl = cam_grpc_tls_conn_new(s->tls, fd))) {
		close(fd);
		free(conn);
		return;
	}
	if (conn_start_session(conn) != 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		cam_log(CAM_LOG_WARN, COMPONENT, "cannot serve connection from %s",
			conn->peer);
		if (conn->h2)
			nghttp2_session_del(conn->h2);
		cam_grpc_tls_conn_free(conn->ssl);
		close(fd);
		free(conn);
		return;
	}
	conn->next = s->conns;
	if (s->conns)
		s->conns->prev = conn;
	s->conns = conn;
	atomic_fetch_add_explicit(&s->nconns, 1, memory_order_relaxed);
	cam_gauge_add(s->m_conns, 1);
	conn_mark_dirty(conn);
}

static void accept_all(cam_grpc_server *s)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(s->lfd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			conn_open(s, fd, (struct sockaddr *)&ss);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* The listener stays readable: pause it, or the loop spins. */
			cam_log(CAM_LOG_WARN, COMPONENT,
				"accept: %s; pausing new connections", strerror(errno));
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
			s->accept_resume = cam_grpc__now_ns() + ACCEPT_PAUSE_NS;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			cam_log(CAM_LOG_WARN, COMPONENT, "accept: %s", strerror(errno));
		}
		break;
	}
}

static void drain_done(cam_grpc_server *s)
{
	struct cam_grpc_call *c, *next;
	uint64_t v;

	if (read(s->evfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing new, the list below may still hold calls. */
	}
	pthread_mutex_lock(&s->done_mu);
	c = s->done_head;
	s->done_head = s->done_tail = NULL;
	pthread_mutex_unlock(&s->done_mu);
	for (; c; c = next) {
		next = c->done_next;
		atomic_store(&c->queued, false);
		if (c->conn) {
			cam_grpc__call_push(c);
			conn_mark_dirty(c->conn);
		}
		cam_grpc_call_unref(c);
	}
}

/* Shutdown began: stop accepting, GOAWAY everywhere, end open streams of
 * streaming methods (they would otherwise hold the drain to its end). */
static void begin_drain(cam_grpc_server *s)
{
	s->draining = true;
	s->drain_deadline = cam_grpc__now_ns() + (int64_t)s->drain_ms * 1000000;
	if (s->lfd >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
		close(s->lfd);
		s->lfd = -1;
	}
	s->accept_resume = 0;
	for (struct conn *conn = s->conns; conn; conn = conn->next) {
		nghttp2_submit_goaway(conn->h2, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(conn->h2),
				      NGHTTP2_NO_ERROR, NULL, 0);
		for (struct cam_grpc_call *c = conn->calls; c; c = c->conn_next)
			if (c->method && c->method->ops)
				cam_grpc_call_end(c, CAM_GRPC_UNAVAILABLE,
						  "server shutting down");
		conn_mark_dirty(conn);
	}
}

static void flush_dirty(cam_grpc_server *s)
{
	while (s->dirty) {
		struct conn *conn = s->dirty;

		s->dirty = conn->dirty_next;
		conn->dirty = false;
		if (!conn->dead && conn_flush(conn) != 0)
			conn->dead = true;
		if (conn->dead)
			conn_close(conn);
	}
}

static void conn_event(struct conn *conn, uint32_t events)
{
	if (conn->dead)
		return;
	/* A TLS handshake may wait for the socket to be writable mid-read. */
	if ((events & EPOLLIN) || (conn->ssl && (events & EPOLLOUT)))
		conn_read(conn);
	else if (events & (EPOLLERR | EPOLLHUP))
		conn->dead = true;
	conn_mark_dirty(conn);
}

static int epoll_add_ptr(int epfd, int fd, void *ptr)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ptr };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Takes the listener back after an accept pause, when its time is up. */
static void accept_maybe_resume(cam_grpc_server *s)
{
	if (!s->accept_resume || cam_grpc__now_ns() < s->accept_resume)
		return;
	s->accept_resume = 0;
	if (s->lfd >= 0)
		epoll_add_ptr(s->epfd, s->lfd, &s->lfd);
}

static int loop_timeout(cam_grpc_server *s)
{
	int64_t left;
	int t = cam_grpc__timers_wait_ms(s), d;

	if (s->accept_resume && (t < 0 || t > (int)(ACCEPT_PAUSE_NS / 1000000)))
		t = (int)(ACCEPT_PAUSE_NS / 1000000);

	if (!s->draining)
		return t;
	left = s->drain_deadline - cam_grpc__now_ns();
	d = left <= 0 ? 0 : (int)(left / 1000000) + 1;
	return t < 0 || d < t ? d : t;
}

static void *io_main(void *arg)
{
	cam_grpc_server *s = arg;
	struct epoll_event evs[128];

	for (;;) {
		int n;

		if (s->draining && (!s->conns || cam_grpc__now_ns() >= s->drain_deadline))
			break;
		n = epoll_wait(s->epfd, evs, 128, loop_timeout(s));
		if (n < 0 && errno != EINTR) {
			cam_log(CAM_LOG_ERROR, COMPONENT, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &s->lfd) {
				accept_all(s);
			} else if (p == &s->evfd) {
				drain_done(s);
				if (atomic_load(&s->stopping) && !s->draining)
					begin_drain(s);
			} else {
				conn_event(p, evs[i].events);
			}
		}
		cam_grpc__timers_expire(s);
		accept_maybe_resume(s);
		flush_dirty(s);
	}
	while (s->conns)
		conn_close(s->conns);
	return NULL;
}

int cam_grpc_server_new(const struct cam_grpc_server_opts *o, cam_grpc_server **out)
{
	cam_grpc_server *s;

	if (!o || !o->listen || !*o->listen)
		return CAM_EINVAL;
	s = cam_xcalloc(1, sizeof(*s));
	s->listen = cam_xstrdup(o->listen);
	s->workers = o->workers;
	s->ex = o->executor;
	s->max_msg = o->max_msg_bytes ? o->max_msg_bytes : CAM_GRPC_WIRE_DEFAULT_MAX;
	if (s->max_msg > UINT32_MAX)
		s->max_msg = UINT32_MAX;
	s->drain_ms = o->drain_ms > 0 ? o->drain_ms : DEFAULT_DRAIN_MS;
	if (o->tls_cert_file || o->tls_key_file) {
		char why[300];
		int rc = CAM_EINVAL;

		if (!o->tls_cert_file || !o->tls_key_file)
			snprintf(why, sizeof(why), "TLS needs both a certificate and a key file");
		else
			rc = cam_grpc_tls_new(o->tls_cert_file, o->tls_key_file, &s->tls, why,
					      sizeof(why));
		if (rc) {
			cam_log(CAM_LOG_ERROR, COMPONENT, "%s", why);
			free(s->listen);
			free(s);
			return rc;
		}
	}
	s->lfd = s->evfd = s->epfd = -1;
	pthread_mutex_init(&s->life_mu, NULL);
	pthread_mutex_init(&s->done_mu, NULL);
	if (cam_grpc__h2_setup(s) != 0) {
		cam_grpc_server_free(s);
		return CAM_ENOMEM;
	}
	register_metrics(s);
	*out = s;
	return 0;
}

static int add_method(cam_grpc_server *s, const char *path, cam_grpc_handler h,
		      const struct cam_grpc_stream_ops *ops, void *arg)
{
	if (!path || path[0] != '/' || s->started || (!h && (!ops || !ops->on_message)))
		return CAM_EINVAL;
	if (cam_grpc__find_method(s, (const uint8_t *)path, strlen(path)))
		return CAM_EEXIST;
	if (s->nmethods == MAX_METHODS)
		return CAM_ELIMIT;
	s->methods[s->nmethods++] = (struct method){ .path = cam_xstrdup(path), .unary = h,
						     .ops = ops, .arg = arg };
	return 0;
}

int cam_grpc_server_add_method(cam_grpc_server *s, const char *path,
			       cam_grpc_handler h, void *arg)
{
	return add_method(s, path, h, NULL, arg);
}

int cam_grpc_server_add_stream_method(cam_grpc_server *s, const char *path,
				      const struct cam_grpc_stream_ops *ops,
				      void *arg)
{
	return add_method(s, path, NULL, ops, arg);
}

/* The unary method at path, to be set up before start: 0 and *out, or
 * CAM_EINVAL (started) or CAM_ENOENT (no such unary method). */
static int unary_to_set_up(cam_grpc_server *s, const char *path, struct method **out)
{
	if (s->started)
		return CAM_EINVAL;
	for (size_t i = 0; i < s->nmethods; i++)
		if (strcmp(s->methods[i].path, path) == 0 && s->methods[i].unary) {
			*out = &s->methods[i];
			return 0;
		}
	return CAM_ENOENT;
}

int cam_grpc_server_set_classifier(cam_grpc_server *s, const char *path,
				   cam_grpc_classifier fn, void *arg)
{
	struct method *m;
	int rc = unary_to_set_up(s, path, &m);

	if (rc)
		return rc;
	m->classify = fn;
	m->classify_arg = arg;
	return 0;
}

int cam_grpc_server_set_refusal_hook(cam_grpc_server *s, const char *path,
				     cam_grpc_refusal_hook fn, void *arg)
{
	struct method *m;
	int rc = unary_to_set_up(s, path, &m);

	if (rc)
		return rc;
	m->refused = fn;
	m->refused_arg = arg;
	return 0;
}

int cam_grpc_server_on_shutdown(cam_grpc_server *s, void (*fn)(void *arg), void *arg)
{
	if (!fn || s->started)
		return CAM_EINVAL;
	if (s->nhooks == MAX_HOOKS)
		return CAM_ELIMIT;
	s->hooks[s->nhooks++] = (struct hook){ fn, arg };
	return 0;
}

int cam_grpc_server_start(cam_grpc_server *s)
{
	int rc;

	if (s->started)
		return CAM_EINVAL;
	rc = cam_grpc_listen_open(s->listen, 1024, &s->lfd, &s->port);
	if (rc) {
		cam_log(CAM_LOG_ERROR, COMPONENT, "cannot listen on %s: %s", s->listen,
			cam_strerror(rc));
		return rc;
	}
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->evfd < 0 || s->epfd < 0 || epoll_add_ptr(s->epfd, s->lfd, &s->lfd) ||
	    epoll_add_ptr(s->epfd, s->evfd, &s->evfd)) {
		rc = cam_err_from_errno(errno);
		goto out_close;
	}
	if (!s->ex) {
		rc = cam_grpc_pool_new(s->workers, &s->pool);
		if (rc)
			goto out_close;
		s->ex = cam_grpc_pool_executor(s->pool);
	}
	if (pthread_create(&s->io, NULL, io_main, s) != 0) {
		rc = CAM_EIO;
		goto out_free_pool;
	}
	s->started = true;
	cam_log(CAM_LOG_INFO, COMPONENT, "gRPC server bound to %s, port %d",
		s->listen, s->port);
	return 0;

out_free_pool:
	if (s->pool) {
		cam_grpc_pool_free(s->pool);
		s->pool = NULL;
		s->ex = NULL;
	}
out_close:
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->evfd >= 0)
		close(s->evfd);
	close(s->lfd);
	s->lfd = s->evfd = s->epfd = -1;
	return rc;
}

int cam_grpc_server_port(const cam_grpc_server *s)
{
	return s->port;
}

/* Drops the references the hand-back queue still holds. */
static void drop_done(cam_grpc_server *s)
{
	struct cam_grpc_call *c, *next;

	pthread_mutex_lock(&s->done_mu);
	c = s->done_head;
	s->done_head = s->done_tail = NULL;
	pthread_mutex_unlock(&s->done_mu);
	for (; c; c = next) {
		next = c->done_next;
		atomic_store(&c->queued, false);
		cam_grpc_call_unref(c);
	}
}

void cam_grpc_server_shutdown(cam_grpc_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	pthread_mutex_lock(&s->life_mu);
	if (!s->started || s->shut) {
		pthread_mutex_unlock(&s->life_mu);
		return;
	}
	s->shut = true;
	pthread_mutex_unlock(&s->life_mu);
	for (size_t i = 0; i < s->nhooks; i++)
		s->hooks[i].fn(s->hooks[i].arg);
	atomic_store(&s->stopping, true);
	if (write(s->evfd, &one, sizeof(one)) < 0) {
		/* The counter is non-zero already: a wake is pending. */
	}
	pthread_join(s->io, NULL);
	s->ex->ops->stop(s->ex);
	drop_done(s);
	cam_log(CAM_LOG_INFO, COMPONENT, "gRPC server stopped");
}

void cam_grpc_server_free(cam_grpc_server *s)
{
	if (!s)
		return;
	cam_grpc_server_shutdown(s);
	cam_grpc_pool_free(s->pool);
	drop_done(s);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->evfd >= 0)
		close(s->evfd);
	if (s->lfd >= 0)
		close(s->lfd);
	for (size_t i = 0; i < s->nmethods; i++)
		free(s->methods[i].path);
	free(s->timers);
	nghttp2_option_del(s->h2opt);
	nghttp2_session_callbacks_del(s->cbs);
	cam_grpc_tls_free(s->tls);
	pthread_mutex_destroy(&s->done_mu);
	pthread_mutex_destroy(&s->life_mu);
	free(s->listen);
	free(s);
}

void cam_grpc_server_stats(cam_grpc_server *s, struct cam_grpc_server_stats *out)
{
	out->connections = atomic_load_explicit(&s->nconns, memory_order_relaxed);
	out->streams = atomic_load_explicit(&s->nstreams, memory_order_relaxed);
	out->calls_total = atomic_load_explicit(&s->calls_total, memory_order_relaxed);
	out->protocol_errors = atomic_load_explicit(&s->perrors, memory_order_relaxed);
	out->too_large_total = atomic_load_explicit(&s->too_large, memory_order_relaxed);
	out->queued = s->ex ? s->ex->ops->queued(s->ex) : 0;
}
