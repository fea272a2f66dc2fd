/*
 * cam-exporter: the Prometheus sidecar of cam-kernel.
 *
 * It subscribes to the kernel's snapshots on the nng bus and serves them
 * over HTTP with its own metrics, ships the kernel's spans to OTLP/Zipkin
 * endpoints (traces.h) and proxies its profiles (pprof.h). Startup order:
 * settings, logger, self metrics, span shipper, subscriber (which dials in
 * the background, so the kernel may start later), HTTP. Signals are
 * blocked in every thread and taken here with sigwait; SIGTERM or SIGINT
 * stops in reverse order.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <malloc.h>
#include <sys/resource.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/notify.h"
#include "common/version.h"
#include "exporter/http.h"
#include "exporter/listen.h"
#include "exporter/selfmetrics.h"
#include "exporter/otlp.h"
#include "exporter/otlp_push.h"
#include "exporter/otlp_settings.h"
#include "exporter/pprof.h"
#include "exporter/subscriber.h"
#include "exporter/traces.h"

#define COMPONENT "exporter"
/* The exporter writes a few lines a minute, not one per call as the kernel
 * may: 256 slots (260 KB, every page touched at start) are plenty. */
#define LOG_RING_LINES 256

static struct cam_option opts[] = {
	{"CAM_EXPORTER_LISTEN", ":8080",
	 "HTTP address: host:port, :port (all interfaces) or [ipv6]:port", NULL, 0},
	{"CAM_EXPORTER_THREADS", "2",
	 "HTTP threads (1-64), each serving many connections without waiting on "
	 "any; two more with profiling", NULL, 0},
	{"CAM_EXPORTER_CONNECTION_TIMEOUT_S", "5",
	 "close a connection idle this long, seconds (1-3600): a slow client "
	 "sending a byte now and then is idle in between", NULL, 0},
	{"CAM_EXPORTER_MAX_CONNECTIONS", NULL,
	 "most HTTP connections at once (default: the descriptor limit less a "
	 "reserve, at most 4096)", NULL, 0},
	{"CAM_EXPORTER_MAX_CONNECTIONS_PER_IP", "100",
	 "most HTTP connections one client address may hold (1-65535)", NULL, 0},
	{"CAM_BUS_ADDR", NULL,
	 "nng bus to the kernel (default ipc://$XDG_RUNTIME_DIR/cam-os/bus.ipc, "
	 "else ipc:///tmp/cam-os-$UID/bus.ipc)", NULL, 0},
	{"CAM_PUBLISH_INTERVAL_MS", "1000",
	 "kernel snapshot period in ms, for staleness until a snapshot states "
	 "its own (50-60000)", NULL, 0},
	{"CAM_LOG_LEVEL", "info", "debug, info, warn or error", NULL, 0},
	{"CAM_LOG_FORMAT", "json", "log field names: json (the seed's) or ecs (Elastic Common Schema)", NULL, 0},
	{"CAM_PROFILING_ENABLED", "false",
	 "serve /debug/pprof/: profiles of cam-kernel, taken over the profiling "
	 "channel", NULL, 1},
	{"CAM_PROFILING_ADDR", NULL,
	 "nng req/rep address of the kernel's profiler (default: the bus "
	 "address with -pprof before .ipc)", NULL, 0},
	{"CAM_OTLP_ENDPOINT", NULL,
	 "OTLP/HTTP base URL for all three signals, e.g. http://collector:4318: "
	 "metrics to /v1/metrics, logs to /v1/logs (set it on cam-kernel too, "
	 "which then puts its log lines on the bus), spans to /v1/traces; "
	 "OTEL_EXPORTER_OTLP_ENDPOINT when unset; unset both: no OTLP", NULL, 0},
	{"CAM_OTLP_METRICS_ENDPOINT", NULL,
	 "OTLP/HTTP endpoint for metrics alone (/v1/metrics added when it has no "
	 "path); OTEL_EXPORTER_OTLP_METRICS_ENDPOINT when unset", NULL, 0},
	{"CAM_OTLP_LOGS_ENDPOINT", NULL,
	 "OTLP/HTTP endpoint for logs alone (/v1/logs added when it has no path; "
	 "set it on cam-kernel too); OTEL_EXPORTER_OTLP_LOGS_ENDPOINT when unset",
	 NULL, 0},
	{"CAM_OTLP_METRICS_INTERVAL_MS", NULL,
	 "period of the OTLP metrics push in ms, 100-86400000 (default "
	 "OTEL_METRIC_EXPORT_INTERVAL, else 15000)", NULL, 0},
	{"CAM_OTLP_HEADERS", NULL,
	 "headers on every OTLP request, key=value,key2=value2 (percent-encoded "
	 "values), e.g. an API key; default OTEL_EXPORTER_OTLP_[SIGNAL_]HEADERS",
	 NULL, 0},
	{"CAM_OTLP_TIMEOUT_MS", NULL,
	 "timeout of one OTLP metrics or logs request, 1-600000 (default "
	 "OTEL_EXPORTER_OTLP_[SIGNAL_]TIMEOUT, else 10000)", NULL, 0},
	{"CAM_OTLP_COMPRESSION", NULL,
	 "gzip or none (default OTEL_EXPORTER_OTLP_[SIGNAL_]COMPRESSION, else none)",
	 NULL, 0},
	{"CAM_OTLP_CERTIFICATE", NULL,
	 "PEM CA bundle to trust for https:// OTLP endpoints (default "
	 "OTEL_EXPORTER_OTLP_[SIGNAL_]CERTIFICATE, else the system's)", NULL, 0},
	{"CAM_OTLP_CLIENT_CERTIFICATE", NULL,
	 "PEM client certificate for mutual TLS to OTLP endpoints (default "
	 "OTEL_EXPORTER_OTLP_[SIGNAL_]CLIENT_CERTIFICATE)", NULL, 0},
	{"CAM_OTLP_CLIENT_KEY", NULL,
	 "PEM key of CAM_OTLP_CLIENT_CERTIFICATE (default "
	 "OTEL_EXPORTER_OTLP_[SIGNAL_]CLIENT_KEY)", NULL, 0},
	{"CAM_OTLP_QUEUE_BYTES", NULL,
	 "encoded OTLP requests each signal may hold while its endpoint is down "
	 "or slow, 65536-1073741824 (default 16777216); past it the oldest are "
	 "dropped and counted", NULL, 0},
	{"CAM_OTLP_RETRY_MAX_MS", NULL,
	 "longest back-off between OTLP retries, 100-3600000 (default 30000); a "
	 "server's Retry-After is honoured", NULL, 0},
	{"CAM_OTLP_LOGS_BATCH", NULL,
	 "log records per OTLP request (default OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, "
	 "else 512)", NULL, 0},
	{"CAM_OTLP_LOGS_FLUSH_MS", NULL,
	 "longest wait of a log record for its batch, ms (default "
	 "OTEL_BLRP_SCHEDULE_DELAY, else 1000)", NULL, 0},
	{"CAM_OTLP_LOGS_BUFFER", NULL,
	 "log lines held before they are encoded; more are dropped and counted "
	 "(default OTEL_BLRP_MAX_QUEUE_SIZE, else 8192)", NULL, 0},
	{"CAM_K8S_POD_NAME", NULL,
	 "k8s.pod.name of the OTLP resource (the pod's name, from the downward "
	 "API); OTEL_RESOURCE_ATTRIBUTES adds any others", NULL, 0},
	{"CAM_K8S_NAMESPACE", NULL, "k8s.namespace.name of the OTLP resource", NULL, 0},
	{"CAM_ZIPKIN_ENDPOINT", NULL,
	 "Zipkin v2 endpoint for spans, e.g. http://zipkin:9411 (/api/v2/spans "
	 "is added when no path is given); unset: no Zipkin", NULL, 0},
	{"CAM_TRACE_SERVICE_NAME", "cam-os",
	 "service.name of spans that name no service", NULL, 0},
	{"CAM_TRACE_SAMPLE_RATIO", "1",
	 "share of traces exported, 0-1 (by trace id: a trace is whole or "
	 "absent)", NULL, 0},
	{"CAM_TRACE_BUFFER_SPANS", "10000",
	 "spans each endpoint may have waiting before new ones are dropped",
	 NULL, 0},
	{"CAM_TRACE_BATCH_SPANS", "512", "spans per export request", NULL, 0},
	{"CAM_TRACE_FLUSH_MS", "1000",
	 "longest time a span waits for its batch to fill", NULL, 0},
	{"CAM_TRACE_TIMEOUT_MS", "5000", "timeout of one export request", NULL,
	 0},
	{"CAM_TRACE_RETRY_MAX_MS", "30000",
	 "longest back-off between retries of a failing endpoint", NULL, 0},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

struct settings {
	const char *listen;
	long threads, timeout_s, max_connections, max_per_ip;
	char bus_addr[512];
	char pprof_addr[540];
	long interval_ms;
	bool profiling;
	struct cam_traces_config traces;
	struct cam_otlp_settings otlp;
};

static const char *opt(const char *env)
{
	return cam_config_get(opts, NOPTS, env);
}

static const char *otlp_get(void *arg, const char *name)
{
	(void)arg;
	return strncmp(name, "CAM_", 4) == 0 ? opt(name) : getenv(name);
}

/* The span shipper's settings (traces.h), after the OTLP ones (its OTLP
 * URL, headers and TLS); logs what is wrong. */
static int read_trace_settings(struct cam_traces_config *t, const struct cam_otlp_settings *o)
{
	const struct cam_otlp_signal_settings *ot = &o->sig[CAM_OTLP_TRACES];
	long buffer, batch, flush, timeout, retry;
	char *end;

	t->otlp_endpoint = ot->on ? ot->url : NULL;
	t->otlp_headers = &ot->headers;
	t->otlp_ca_file = ot->ca_file;
	t->otlp_client_cert = ot->client_cert;
	t->otlp_client_key = ot->client_key;
	t->zipkin_endpoint = opt("CAM_ZIPKIN_ENDPOINT");
	t->service_name = opt("CAM_TRACE_SERVICE_NAME");
	t->sample_ratio = strtod(opt("CAM_TRACE_SAMPLE_RATIO"), &end);
	if (*end || !(t->sample_ratio >= 0 && t->sample_ratio <= 1)) {
		cam_log(CAM_LOG_ERROR, COMPONENT,
			"CAM_TRACE_SAMPLE_RATIO must be a number from 0 to 1");
		return CAM_EINVAL;
	}
	if (cam_config_long(opt("CAM_TRACE_BUFFER_SPANS"), 1, 10000000, &buffer) ||
	    cam_config_long(opt("CAM_TRACE_BATCH_SPANS"), 1, 100000, &batch) ||
	    cam_config_long(opt("CAM_TRACE_FLUSH_MS"), 1, 600000, &flush) ||
	    cam_config_long(opt("CAM_TRACE_TIMEOUT_MS"), 1, 600000, &timeout) ||
	    cam_config_long(opt("CAM_TRACE_RETRY_MAX_MS"), 1, 3600000, &retry)) {
		cam_log(CAM_LOG_ERROR, COMPONENT,
			"CAM_TRACE_BUFFER_SPANS (1-10000000), CAM_TRACE_BATCH_SPANS "
			"(1-100000), CAM_TRACE_FLUSH_MS, CAM_TRACE_TIMEOUT_MS "
			"(1-600000) and CAM_TRACE_RETRY_MAX_MS (1-3600000) must be "
			"numbers in range");
		return CAM_EINVAL;
	}
	t->buffer_spans = (size_t)buffer;
	t->batch_spans = (size_t)batch;
	t->flush_ms = (uint32_t)flush;
	t->timeout_ms = (uint32_t)timeout;
	t->retry_max_ms = (uint32_t)retry;
	return 0;
}

/* Descriptors kept for the bus, logs, span export and accepts past the
 * limit (libmicrohttpd accepts, then closes what is over). */
#define FD_RESERVE 64

/*
 * Raises the descriptor limit to the hard limit (as Go programs such as
 * node_exporter do) and returns the default connection limit it allows.
 */
static long default_max_connections(void)
{
	struct rlimit rl;
	long n;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 256;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = { rl.rlim_max, rl.rlim_max };
		if (want.rlim_cur > 65536)
			want.rlim_cur = 65536;
		if (want.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl.rlim_cur = want.rlim_cur;
	}
	n = (long)rl.rlim_cur - FD_RESERVE;
	return n < 16 ? 16 : n > 4096 ? 4096 : n;
}

/* The HTTP server's limits against slow and hostile clients. */
static int read_http_settings(struct settings *s)
{
	if (cam_config_long(opt("CAM_EXPORTER_THREADS"), 1, 64, &s->threads) ||
	    cam_config_long(opt("CAM_EXPORTER_CONNECTION_TIMEOUT_S"), 1, 3600, &s->timeout_s) ||
	    cam_config_long(opt("CAM_EXPORTER_MAX_CONNECTIONS_PER_IP"), 1, 65535,
			    &s->max_per_ip)) {
		cam_log(CAM_LOG_ERROR, COMPONENT,
			"CAM_EXPORTER_THREADS (1-64), CAM_EXPORTER_CONNECTION_TIMEOUT_S (1-3600) "
			"and CAM_EXPORTER_MAX_CONNECTIONS_PER_IP (1-65535) must be numbers in range");
		return CAM_EINVAL;
	}
	s->max_connections = default_max_connections();
	if (opt("CAM_EXPORTER_MAX_CONNECTIONS") &&
	    cam_config_long(opt("CAM_EXPORTER_MAX_CONNECTIONS"), 1, 1000000,
			    &s->max_connections)) {
		cam_log(CAM_LOG_ERROR, COMPONENT,
			"CAM_EXPORTER_MAX_CONNECTIONS must be a number from 1 to 1000000");
		return CAM_EINVAL;
	}
	return 0;
}

/* Checks every setting before anything starts; logs what is wrong. */
static int read_settings(struct settings *s)
{
	char err[512];
	struct cam_listen_spec spec;
	enum cam_log_level level;
	const char *why;
	int profiling;

	if (cam_log_parse_level(opt("CAM_LOG_LEVEL"), &level)) {
		cam_log(CAM_LOG_ERROR, COMPONENT,
			"CAM_LOG_LEVEL must be debug, info, warn or error");
		return CAM_EINVAL;
	}
	cam_log_set_level(level);
	if (cam_log_configure(opt("CAM_LOG_FORMAT"), "cam-exporter")) {
		cam_log(CAM_LOG_ERROR, COMPONENT, "CAM_LOG_FORMAT must be json or ecs");
		return CAM_EINVAL;
	}
	if (cam_config_long(opt("CAM_PUBLISH_INTERVAL_MS"), 50, 60000,
			    &s->interval_ms)) {
		cam_log(CAM_LOG_ERROR, COMPONENT,
			"CAM_PUBLISH_INTERVAL_MS must be 50-60000");
		return CAM_EINVAL;
	}
	if (cam_config_bool(opt("CAM_PROFILING_ENABLED"), &profiling)) {
		cam_log(CAM_LOG_ERROR, COMPONENT,
			"CAM_PROFILING_ENABLED must be true or false");
		return CAM_EINVAL;
	}
	s->profiling = profiling != 0;
	s->listen = opt("CAM_EXPORTER_LISTEN");
	if (cam_listen_parse(s->listen, &spec, &why)) {
		cam_log(CAM_LOG_ERROR, COMPONENT,
			"CAM_EXPORTER_LISTEN \"%s\": %s",
			s->listen ? s->listen : "", why);
		return CAM_EINVAL;
	}
	if (opt("CAM_BUS_ADDR"))
		snprintf(s->bus_addr, sizeof(s->bus_addr), "%s",
			 opt("CAM_BUS_ADDR"));
	else
		cam_config_default_bus_addr(s->bus_addr, sizeof(s->bus_addr));
	if (opt("CAM_PROFILING_ADDR"))
		snprintf(s->pprof_addr, sizeof(s->pprof_addr), "%s",
			 opt("CAM_PROFILING_ADDR"));
	else
		cam_pprof_default_addr(s->bus_addr, s->pprof_addr,
				       sizeof(s->pprof_addr));
	if (read_http_settings(s))
		return CAM_EINVAL;
	if (cam_otlp_settings_read(&s->otlp, otlp_get, NULL, err, sizeof(err))) {
		cam_log(CAM_LOG_ERROR, COMPONENT, "%s", err);
		return CAM_EINVAL;
	}
	return read_trace_settings(&s->traces, &s->otlp);
}

static void log_started(const struct settings *s, const cam_http *h)
{
	struct cam_log_line l;

	if (!cam_log_begin(&l, CAM_LOG_INFO, COMPONENT, "cam-exporter started"))
		return;
	cam_log_str(&l, "version", CAM_VERSION);
	cam_log_str(&l, "listen", cam_http_address(h));
	cam_log_str(&l, "bus", s->bus_addr);
	cam_log_int(&l, "publish_interval_ms", s->interval_ms);
	cam_log_bool(&l, "profiling_enabled", s->profiling);
	cam_log_int(&l, "http_threads", s->threads);
	cam_log_int(&l, "connection_timeout_s", s->timeout_s);
	cam_log_int(&l, "max_connections", s->max_connections);
	cam_log_int(&l, "max_connections_per_ip", s->max_per_ip);
	if (s->profiling)
		cam_log_str(&l, "profiling_addr", s->pprof_addr);
	if (s->traces.otlp_endpoint)
		cam_log_str(&l, "otlp_traces_url", s->traces.otlp_endpoint);
	if (s->otlp.sig[CAM_OTLP_METRICS].on) {
		cam_log_str(&l, "otlp_metrics_url", s->otlp.sig[CAM_OTLP_METRICS].url);
		cam_log_int(&l, "otlp_metrics_interval_ms", s->otlp.metrics_interval_ms);
	}
	if (s->otlp.sig[CAM_OTLP_LOGS].on)
		cam_log_str(&l, "otlp_logs_url", s->otlp.sig[CAM_OTLP_LOGS].url);
	if (s->traces.zipkin_endpoint)
		cam_log_str(&l, "zipkin_endpoint", s->traces.zipkin_endpoint);
	cam_log_end(&l);
}

static void log_failure(const char *what, const char *target, int rc,
			const char *detail)
{
	struct cam_log_line l;

	if (!cam_log_begin(&l, CAM_LOG_ERROR, COMPONENT, what))
		return;
	cam_log_str(&l, "address", target);
	cam_log_str(&l, "error", cam_errname(rc));
	cam_log_str(&l, "detail", detail);
	cam_log_end(&l);
}

/* Waits for SIGTERM or SIGINT; returns the signal. */
static int wait_for_stop(const sigset_t *sigs)
{
	int sig = 0;

	for (;;) {
		if (sigwait(sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			cam_log(CAM_LOG_INFO, COMPONENT,
				"SIGHUP: nothing to reload");
			continue;
		}
		return sig;
	}
}

static int run(const struct settings *s, const sigset_t *sigs)
{
	struct cam_selfmetrics self;
	struct cam_http_config hc;
	cam_subscriber *sub;
	cam_http *http = NULL;
	cam_traces *traces = NULL;
	cam_otlp *otlp = NULL;
	cam_notify *notify = NULL;
	char err[256];
	int rc, sig;

	rc = cam_selfmetrics_register(&self);
	if (rc || (rc = cam_otlp_push_register_metrics()))
		return rc;
	sub = cam_subscriber_new((uint32_t)s->interval_ms);
	rc = cam_traces_start(&s->traces, &traces, err, sizeof(err));
	if (rc) {
		log_failure("cannot start span export", "", rc, err);
		goto out_free_sub;
	}
	if (traces)
		cam_subscriber_set_span_sink(sub, cam_traces_sink, traces);
	rc = cam_otlp_start(&s->otlp, sub, &self, &otlp, err, sizeof(err));
	if (rc) {
		log_failure("cannot start the OTLP push", "", rc, err);
		goto out_free_sub;
	}
	if (cam_otlp_wants_logs(otlp))
		cam_subscriber_set_log_sink(sub, cam_otlp_log_sink, otlp);
	rc = cam_subscriber_start(sub, s->bus_addr);
	if (rc) {
		log_failure("cannot open the bus", s->bus_addr, rc,
			    cam_strerror(rc));
		goto out_free_sub;
	}
	hc = (struct cam_http_config){
		.listen = s->listen,
		.profiling = s->profiling,
		.pprof_addr = s->pprof_addr,
		.sub = sub,
		.self = &self,
		.threads = (unsigned)s->threads,
		.timeout_s = (unsigned)s->timeout_s,
		.max_connections = (unsigned)s->max_connections,
		.max_per_ip = (unsigned)s->max_per_ip,
	};
	rc = cam_http_start(&hc, &http, err, sizeof(err));
	if (rc) {
		log_failure("cannot listen for HTTP", s->listen, rc, err);
		goto out_free_sub;
	}
	log_started(s, http);
	cam_notify_ready("serving HTTP", &notify);
	sig = wait_for_stop(sigs);
	cam_log(CAM_LOG_INFO, COMPONENT, "%s received, shutting down",
		strsignal(sig));
	cam_notify_stopping(notify);
	cam_http_stop(http);
out_free_sub:
	/* No more batches, then the pushers (which read the latest
	 * snapshot), then the subscriber, then the span shipper. */
	cam_subscriber_stop(sub);
	cam_otlp_stop(otlp);
	cam_subscriber_free(sub);
	cam_traces_stop(traces);
	return rc;
}

int main(int argc, char **argv)
{
	struct settings s = {0};
	sigset_t sigs;
	int rc;

	rc = cam_config_parse(opts, NOPTS, argc, argv,
			      "usage: cam-exporter [--flag value ...]\n"
			      "CAM-OS Prometheus exporter " CAM_VERSION,
			      stderr);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (read_settings(&s))
		return 2;

	/* Before any thread starts, so every thread inherits the mask. */
	cam_signals_block(&sigs);

	/*
	 * Memory stays near what the latest snapshot needs: few malloc arenas
	 * (each HTTP thread would keep its own heap of freed scrape buffers),
	 * and response bodies (megabytes with 10k series) in their own
	 * mappings, returned to the system as soon as they are sent.
	 */
	mallopt(M_ARENA_MAX, 2);
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	cam_log_start(LOG_RING_LINES);
	rc = run(&s, &sigs);
	cam_otlp_settings_free(&s.otlp);
	if (rc)
		cam_log(CAM_LOG_ERROR, COMPONENT, "cam-exporter failed to start");
	else
		cam_log(CAM_LOG_INFO, COMPONENT, "cam-exporter stopped");
	cam_log_stop();
	return rc ? 1 : 0;
}
