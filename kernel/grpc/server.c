/*
 * The gRPC transport (see server.h and internal.h): the server's life
 * (options, methods, start, drain, free) and its figures. The I/O threads
 * are in loop.c, connections in conn.c.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "kernel/grpc/internal.h"
#include "kernel/grpc/listen.h"

void cam_grpc__count_perr(cam_grpc_server *s, enum cam_grpc__perr why)
{
	atomic_fetch_add_explicit(&s->perrors, 1, memory_order_relaxed);
	cam_counter_inc(s->m_perr[why]);
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
	s->nloops = o->io_threads ? o->io_threads : cam_grpc_default_io_threads();
	if (s->nloops > MAX_IO_THREADS)
		s->nloops = MAX_IO_THREADS;
	if (o->tls_cert_file || o->tls_key_file) {
		char why[300];
		int rc = CAM_EINVAL;

		if (!o->tls_cert_file || !o->tls_key_file)
			snprintf(why, sizeof(why), "TLS needs both a certificate and a key file");
		else
			rc = cam_grpc_tls_new(o->tls_cert_file, o->tls_key_file,
					      &(struct cam_grpc_tls_clients){
						      .ca_file = o->tls_client_ca_file,
						      .require = o->tls_client_require,
						      .trust_domain = o->tls_trust_domain },
					      &s->tls, why, sizeof(why));
		if (rc) {
			cam_log(CAM_LOG_ERROR, COMPONENT, "%s", why);
			free(s->listen);
			free(s);
			return rc;
		}
	}
	s->loops = cam_xcalloc(s->nloops, sizeof(*s->loops));
	for (unsigned i = 0; i < s->nloops; i++) {
		struct cam_grpc__loop *l = &s->loops[i];

		l->srv = s;
		l->index = i;
		l->lfd = l->evfd = l->epfd = l->reserve_fd = -1;
		pthread_mutex_init(&l->done_mu, NULL);
	}
	cam_grpc__limits_init(s, o);
	cam_grpc__lifetime_init(s, o);
	pthread_mutex_init(&s->life_mu, NULL);
	if (cam_grpc__h2_setup(s) != 0) {
		cam_grpc_server_free(s);
		return CAM_ENOMEM;
	}
	if (cam_grpc__metrics_register(s) != 0) {
		cam_grpc_server_free(s);
		return CAM_EINVAL;
	}
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
	s->methods[s->nmethods++] = (struct method){ .path = cam_xstrdup(path),
						     .path_len = strlen(path), .unary = h,
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

/* Stops and joins every loop that was started (shutdown, or a failed start). */
static void join_loops(cam_grpc_server *s)
{
	for (unsigned i = 0; i < s->nloops; i++)
		if (s->loops[i].running)
			cam_grpc__loop_wake(&s->loops[i]);
	for (unsigned i = 0; i < s->nloops; i++)
		if (s->loops[i].running) {
			pthread_join(s->loops[i].thread, NULL);
			s->loops[i].running = false;
		}
}

int cam_grpc_server_start(cam_grpc_server *s)
{
	char why[160];
	int rc;

	if (s->started)
		return CAM_EINVAL;
	rc = cam_grpc_listen_open(s->listen, 1024, &s->loops[0].lfd, &s->port, why, sizeof(why));
	if (rc) {
		cam_log(CAM_LOG_ERROR, COMPONENT, "cannot listen on %s: %s", s->listen, why);
		return rc;
	}
	if (!s->ex) {
		rc = cam_grpc_pool_new(s->workers, &s->pool);
		if (rc)
			goto out_close;
		s->ex = cam_grpc_pool_executor(s->pool);
	}
	for (unsigned i = 0; i < s->nloops; i++)
		if ((rc = cam_grpc__loop_start(&s->loops[i])))
			goto out_stop_loops;
	s->started = true;
	cam_gauge_set(s->m_io_threads, (double)s->nloops);
	cam_log(CAM_LOG_INFO, COMPONENT, "gRPC server bound to %s, port %d, %u I/O threads",
		s->listen, s->port, s->nloops);
	return 0;

out_stop_loops:
	atomic_store(&s->stopping, true);
	join_loops(s);
	if (s->pool) {
		cam_grpc_pool_free(s->pool);
		s->pool = NULL;
		s->ex = NULL;
	}
out_close:
	for (unsigned i = 0; i < s->nloops; i++)
		cam_grpc__loop_free(&s->loops[i]);
	return rc;
}

int cam_grpc_server_port(const cam_grpc_server *s)
{
	return s->port;
}

void cam_grpc_server_shutdown(cam_grpc_server *s)
{
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
	join_loops(s);
	s->ex->ops->stop(s->ex);
	cam_log(CAM_LOG_INFO, COMPONENT, "gRPC server stopped");
}

void cam_grpc_server_free(cam_grpc_server *s)
{
	if (!s)
		return;
	cam_grpc_server_shutdown(s);
	cam_grpc__metrics_unregister(s);
	cam_grpc_pool_free(s->pool);
	for (unsigned i = 0; i < s->nloops; i++)
		cam_grpc__loop_free(&s->loops[i]);
	free(s->loops);
	for (size_t i = 0; i < s->nmethods; i++)
		free(s->methods[i].path);
	nghttp2_option_del(s->h2opt);
	nghttp2_session_callbacks_del(s->cbs);
	cam_grpc_tls_free(s->tls);
	pthread_mutex_destroy(&s->life_mu);
	free(s->listen);
	free(s);
}

void cam_grpc_server_stats(cam_grpc_server *s, struct cam_grpc_server_stats *out)
{
	out->connections = atomic_load_explicit(&s->nconns, memory_order_relaxed);
	out->streams = cam_grpc__loops_sum(s, offsetof(struct cam_grpc__loop, nstreams));
	out->calls_total = cam_grpc__loops_sum(s, offsetof(struct cam_grpc__loop, calls_total));
	out->protocol_errors = atomic_load_explicit(&s->perrors, memory_order_relaxed);
	out->too_large_total = atomic_load_explicit(&s->too_large, memory_order_relaxed);
	out->queued = s->ex ? s->ex->ops->queued(s->ex) : 0;
	out->buffered_bytes = cam_grpc__budget_held(s);
	out->refused_total = out->closed_total = 0;
	for (int i = 0; i < REFUSE_COUNT; i++)
		out->refused_total += atomic_load_explicit(&s->refused[i], memory_order_relaxed);
	for (int i = 0; i < CLOSE_COUNT; i++)
		out->closed_total += atomic_load_explicit(&s->closed[i], memory_order_relaxed);
}
