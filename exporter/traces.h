/*
 * The exporter's span shipper: span batches from the bus go out to an
 * OTLP/HTTP endpoint (JSON encoding; Jaeger and the OpenTelemetry collector
 * take it) and/or a Zipkin v2 endpoint, over libcurl.
 *
 * Each destination has its own bounded buffer and sender thread, so a slow
 * or absent receiver holds up neither the bus nor the other destination.
 * Spans are sampled on arrival (by trace id, so a trace is kept or dropped
 * whole), buffered, and sent in batches when a batch is full or the flush
 * interval has passed. A failed send (no connection, timeout, 408, 429,
 * 5xx) is retried with exponential back-off and the spans stay buffered; a
 * receiver that refuses the batch (other 4xx) drops it. A full buffer
 * drops the newest spans. Every drop is counted in
 * cam_os_exporter_spans_dropped_total{destination,reason}.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_TRACES_H
#define CAM_EXPORTER_TRACES_H

#include <stddef.h>
#include <stdint.h>

#include "exporter/otlp_kv.h"
#include "proto/bus.pb-c.h"

typedef struct cam_traces cam_traces;

struct cam_traces_config {
	const char *otlp_endpoint;   /* NULL or "": no OTLP */
	const struct cam_otlp_kv_list *otlp_headers; /* NULL: none (CAM_OTLP_HEADERS) */
	const char *otlp_ca_file;    /* TLS of the OTLP endpoint; NULL: defaults */
	const char *otlp_client_cert;
	const char *otlp_client_key;
	const char *zipkin_endpoint; /* NULL or "": no Zipkin */
	const char *service_name;    /* for spans that name none; NULL: "cam-os" */
	double sample_ratio;         /* 0..1 of traces kept */
	size_t buffer_spans;         /* per destination; 0: 10000 */
	size_t batch_spans;          /* per request; 0: 512 */
	uint32_t flush_ms;           /* longest wait for a full batch; 0: 1000 */
	uint32_t timeout_ms;         /* per request; 0: 5000 */
	uint32_t retry_max_ms;       /* back-off ceiling; 0: 30000 */
};

/*
 * Checks the endpoints (http:// or https:// URLs), registers the metrics
 * and starts one sender per destination. With no endpoint, *out is NULL
 * and 0 is returned: tracing is off. CAM_EINVAL (reason in err) for a bad
 * URL or setting.
 */
int cam_traces_start(const struct cam_traces_config *c, cam_traces **out,
		     char *err, size_t errlen);

/*
 * Takes a span batch envelope (ownership passes; see
 * cam_subscriber_set_span_sink). Never blocks beyond a short mutex.
 */
void cam_traces_sink(void *arg, Cam__Bus__Envelope *env);

/*
 * Gives each sender one last try (bounded by the request timeout) to send
 * what it holds, counts the rest as dropped, stops and frees. NULL is a
 * no-op.
 */
void cam_traces_stop(cam_traces *t);

/* The URL a destination posts to: endpoint with the default path added
 * when it has none. Writes into out; for tests and logs. */
const char *cam_traces_url(const char *endpoint, const char *default_path,
			   char *out, size_t n);

/* Whether a trace is kept at this ratio (its low 64 bits against it). */
int cam_traces_sampled(const char *trace_id, double ratio);

#endif
