/*
 * The gRPC transport (see server.h and internal.h): the epoll loop on one
 * I/O thread that alone touches sockets and nghttp2 (connections are in
 * conn.c), calls handed to the worker pool, finished calls handed back
 * through a queue and an eventfd; and the server's life (start, drain,
 * free).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
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
	cam_grpc__limits_register_metrics(s);
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

static void accept_all(cam_grpc_server *s)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(s->lfd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			cam_grpc__conn_open(s, fd, (struct sockaddr *)&ss);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if ((errno == EMFILE || errno == ENFILE) && s->reserve_fd >= 0) {
			/* Out of descriptors: the reserve one lets the client at
			 * the head of the backlog hear "no" at once. */
			cam_grpc__limits_shed(s);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* The listener stays readable: pause it, or the loop spins. */
			cam_log(CAM_LOG_WARN, COMPONENT,
				"accept: %s; pausing new connections", strerror(errno));
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
			s->accept_resume = cam_mono_ns() + ACCEPT_PAUSE_NS;
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
			cam_grpc__conn_mark_dirty(c->conn);
		}
		cam_grpc_call_unref(c);
	}
}

/* Shutdown began: stop accepting, GOAWAY everywhere, end open streams of
 * streaming methods (they would otherwise hold the drain to its end). */
static void begin_drain(cam_grpc_server *s)
{
	s->draining = true;
	s->drain_deadline = cam_mono_ns() + (int64_t)s->drain_ms * 1000000;
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
		cam_grpc__conn_mark_dirty(conn);
	}
}

static void flush_dirty(cam_grpc_server *s)
{
	while (s->dirty) {
		struct conn *conn = s->dirty;

		s->dirty = conn->dirty_next;
		conn->dirty = false;
		if (!conn->dead && cam_grpc__conn_flush(conn) != 0)
			conn->dead = true;
		if (conn->dead)
			cam_grpc__conn_close(conn);
	}
}

static int epoll_add_ptr(int epfd, int fd, void *ptr)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ptr };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Takes the listener back after an accept pause, when its time is up. */
static void accept_maybe_resume(cam_grpc_server *s)
{
	if (!s->accept_resume || cam_mono_ns() < s->accept_resume)
		return;
	s->accept_resume = 0;
	if (s->lfd >= 0)
		epoll_add_ptr(s->epfd, s->lfd, &s->lfd);
}

static int min_wait(int a, int b)
{
	return a < 0 || (b >= 0 && b < a) ? b : a;
}

static int loop_timeout(cam_grpc_server *s)
{
	int64_t left;
	int t = min_wait(cam_grpc__timers_wait_ms(s), cam_grpc__limits_wait_ms(s)), d;

	if (s->accept_resume)
		t = min_wait(t, (int)(ACCEPT_PAUSE_NS / 1000000));

	if (!s->draining)
		return t;
	left = s->drain_deadline - cam_mono_ns();
	d = left <= 0 ? 0 : (int)(left / 1000000) + 1;
	return t < 0 || d < t ? d : t;
}

static void *io_main(void *arg)
{
	cam_grpc_server *s = arg;
	struct epoll_event evs[128];

	for (;;) {
		int n;

		if (s->draining && (!s->conns || cam_mono_ns() >= s->drain_deadline))
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
				cam_grpc__conn_event(p, evs[i].events);
			}
		}
		cam_grpc__timers_expire(s);
		cam_grpc__limits_sweep(s);
		accept_maybe_resume(s);
		flush_dirty(s);
	}
	while (s->conns)
		cam_grpc__conn_close(s->conns);
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
	cam_grpc__limits_init(s, o);
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

int cam_grpc_server_set_admission(cam_grpc_server *s, const char *path,
				  cam_grpc_admission fn, void *arg)
{
	struct method *m;
	int rc = unary_to_set_up(s, path, &m);

	if (rc)
		return rc;
	m->admit = fn;
	m->admit_arg = arg;
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
	cam_grpc__limits_free(s);
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
	out->buffered_bytes = atomic_load_explicit(&s->buffered, memory_order_relaxed);
	out->refused_total = out->closed_total = 0;
	for (int i = 0; i < REFUSE_COUNT; i++)
		out->refused_total += atomic_load_explicit(&s->refused[i], memory_order_relaxed);
	for (int i = 0; i < CLOSE_COUNT; i++)
		out->closed_total += atomic_load_explicit(&s->closed[i], memory_order_relaxed);
}
