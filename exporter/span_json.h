/*
 * Span batches as JSON for the two wire formats the exporter speaks:
 * OTLP/HTTP JSON (ExportTraceServiceRequest: hex ids, nanosecond times as
 * strings) and Zipkin v2 (a JSON array of spans, microsecond times).
 * Resource attributes: service.name (the span's service, else the
 * exporter's), service.instance.id and service.version (the kernel's).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_SPAN_JSON_H
#define CAM_EXPORTER_SPAN_JSON_H

#include <stddef.h>

#include "exporter/render.h"
#include "proto/bus.pb-c.h"

/* One span and the batch it came in (for instance id and version). */
struct cam_span_ref {
	const Cam__Bus__Span *span;
	const Cam__Bus__SpanBatch *batch;
};

/* Appends an OTLP ExportTraceServiceRequest for spans[0..n) to b. */
void cam_span_json_otlp(struct cam_render_buf *b, const struct cam_span_ref *spans,
			size_t n, const char *default_service);
/* Appends a Zipkin v2 span list for spans[0..n) to b. */
void cam_span_json_zipkin(struct cam_render_buf *b, const struct cam_span_ref *spans,
			  size_t n, const char *default_service);

#endif
