/*
 * The transport's metric families, described once in one table
 * (common/metrics_table.h), and the series the transport counts in,
 * resolved when the server is made.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/log.h"
#include "common/metrics_table.h"
#include "kernel/grpc/internal.h"

enum {
	M_CONNS, M_STREAMS, M_TOO_LARGE, M_PERR, M_REFUSED, M_CLOSED, M_ACCEPTED,
	M_BUFFERED, M_BUDGET, M_MAX_CONNS, M_IO_THREADS, NMETRICS
};
static const char *const L_REASON[] = { "reason", NULL };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_CONNS] = { .name = "cam_os_grpc_connections", .help = "Open gRPC (HTTP/2) connections.",
		      .type = CAM_GAUGE },
	[M_STREAMS] = { .name = "cam_os_grpc_streams_in_flight",
			.help = "Open gRPC streams (calls in flight).", .type = CAM_GAUGE },
	[M_TOO_LARGE] = { .name = "cam_os_grpc_messages_too_large_total",
			  .help = "Request messages refused as larger than the maximum.",
			  .type = CAM_COUNTER },
	[M_PERR] = { .name = "cam_os_grpc_protocol_errors_total",
		     .help = "gRPC requests and connections refused as malformed, by reason.",
		     .type = CAM_COUNTER, .label_names = L_REASON },
	[M_REFUSED] = { .name = "cam_os_grpc_calls_refused_total",
			.help = "gRPC calls and streams the transport refused to protect itself, "
				"by reason.",
			.type = CAM_COUNTER, .label_names = L_REASON },
	[M_CLOSED] = { .name = "cam_os_grpc_connections_closed_total",
		       .help = "gRPC connections the transport closed itself, by reason.",
		       .type = CAM_COUNTER, .label_names = L_REASON },
	[M_ACCEPTED] = { .name = "cam_os_grpc_connections_accepted_total",
			 .help = "gRPC connections accepted and served since start.",
			 .type = CAM_COUNTER },
	[M_BUFFERED] = { .name = "cam_os_grpc_buffered_bytes",
			 .help = "Request and response bytes the gRPC transport holds now.",
			 .type = CAM_GAUGE },
	[M_BUDGET] = { .name = "cam_os_grpc_buffer_budget_bytes",
		       .help = "The most request and response bytes the gRPC transport may hold "
			       "(CAM_GRPC_MAX_BUFFERED_BYTES).",
		       .type = CAM_GAUGE },
	[M_MAX_CONNS] = { .name = "cam_os_grpc_max_connections",
			  .help = "The most gRPC connections served at once (CAM_GRPC_MAX_CONNECTIONS).",
			  .type = CAM_GAUGE },
	[M_IO_THREADS] = { .name = "cam_os_grpc_io_threads",
			   .help = "I/O threads serving gRPC connections (CAM_GRPC_IO_THREADS).",
			   .type = CAM_GAUGE },
};

/* Label values of the reasons, in the order of their enums (internal.h). */
static const char *const perr_names[PERR_COUNT] = {
	"bad_preface", "http2", "content_type", "compression", "header", "io",
};
static const char *const refusal_names[REFUSE_COUNT] = {
	"buffer_budget", "connection_budget", "stream_limit", "backpressure",
	"admission", "not_grpc",
};
static const char *const closing_names[CLOSE_COUNT] = {
	"handshake_timeout", "idle_timeout", "connection_limit", "response_budget",
};

static cam_series *label(cam_family *f, const char *value)
{
	return cam_series_get(f, (const char *[]){ value, NULL });
}

/* Gauges of counts the I/O threads keep for themselves (budget.c): read
 * when a snapshot is made, not moved per call. */
static void collect(void *arg)
{
	cam_grpc_server *s = arg;

	cam_gauge_set(s->m_buffered, (double)cam_grpc__budget_held(s));
	cam_gauge_set(s->m_streams,
		      (double)cam_grpc__loops_sum(s, offsetof(struct cam_grpc__loop, nstreams)));
}

int cam_grpc__metrics_register(cam_grpc_server *s)
{
	cam_family *f[NMETRICS];
	char why[160];
	int rc = cam_metrics_table_register(metrics, NMETRICS, f, why, sizeof(why));

	if (rc) {
		cam_log(CAM_LOG_ERROR, COMPONENT, "%s", why);
		return rc;
	}
	s->m_conns = cam_series_get(f[M_CONNS], NULL);
	s->m_streams = cam_series_get(f[M_STREAMS], NULL);
	s->m_too_large = cam_series_get(f[M_TOO_LARGE], NULL);
	for (int i = 0; i < PERR_COUNT; i++)
		s->m_perr[i] = label(f[M_PERR], perr_names[i]);
	for (int i = 0; i < REFUSE_COUNT; i++)
		s->m_refused[i] = label(f[M_REFUSED], refusal_names[i]);
	for (int i = 0; i < CLOSE_COUNT; i++)
		s->m_closed[i] = label(f[M_CLOSED], closing_names[i]);
	s->m_accepted = cam_series_get(f[M_ACCEPTED], NULL);
	s->m_buffered = cam_series_get(f[M_BUFFERED], NULL);
	s->m_budget = cam_series_get(f[M_BUDGET], NULL);
	s->m_max_conns = cam_series_get(f[M_MAX_CONNS], NULL);
	s->m_io_threads = cam_series_get(f[M_IO_THREADS], NULL);
	cam_gauge_set(s->m_budget, (double)s->max_buffered);
	cam_gauge_set(s->m_max_conns, (double)s->max_conns);
	if ((rc = cam_metrics_add_collector(collect, s)))
		cam_log(CAM_LOG_ERROR, COMPONENT, "no room for the transport's metrics collector");
	return rc;
}

void cam_grpc__metrics_unregister(cam_grpc_server *s)
{
	cam_metrics_remove_collector(collect, s);
}
