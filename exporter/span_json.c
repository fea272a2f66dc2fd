/*
 * OTLP JSON and Zipkin v2 JSON encoders (span_json.h). Strings are escaped
 * for JSON (control characters as \u00XX); ids are already checked hex.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/span_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void put(struct cam_render_buf *b, const char *s)
{
	cam_render_buf_append(b, s, strlen(s));
}

static void put_json_str(struct cam_render_buf *b, const char *s)
{
	char esc[8];

	cam_render_buf_append(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			cam_render_buf_append(b, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			cam_render_buf_append(b, esc, 6);
		} else {
			cam_render_buf_append(b, s, 1);
		}
	}
	cam_render_buf_append(b, "\"", 1);
}

static void put_i64(struct cam_render_buf *b, int64_t v, int quoted)
{
	char num[32];

	snprintf(num, sizeof(num), quoted ? "\"%" PRId64 "\"" : "%" PRId64, v);
	put(b, num);
}

static const char *service_of(const struct cam_span_ref *r, const char *def)
{
	return r->span->service[0] ? r->span->service : def;
}

/* Spans i and j share a resource: same service, instance and version. */
static int same_resource(const struct cam_span_ref *a, const struct cam_span_ref *b,
			 const char *def)
{
	return strcmp(service_of(a, def), service_of(b, def)) == 0 &&
	       strcmp(a->batch->instance_id, b->batch->instance_id) == 0 &&
	       strcmp(a->batch->version, b->batch->version) == 0;
}

static void otlp_attr(struct cam_render_buf *b, int first, const char *k, const char *v)
{
	put(b, first ? "{\"key\":" : ",{\"key\":");
	put_json_str(b, k);
	put(b, ",\"value\":{\"stringValue\":");
	put_json_str(b, v);
	put(b, "}}");
}

static void otlp_resource(struct cam_render_buf *b, const struct cam_span_ref *r,
			  const char *def)
{
	put(b, "{\"resource\":{\"attributes\":[");
	otlp_attr(b, 1, "service.name", service_of(r, def));
	if (r->batch->instance_id[0])
		otlp_attr(b, 0, "service.instance.id", r->batch->instance_id);
	if (r->batch->version[0])
		otlp_attr(b, 0, "service.version", r->batch->version);
	otlp_attr(b, 0, "telemetry.sdk.name", "cam-os");
	otlp_attr(b, 0, "telemetry.sdk.language", "c");
	put(b, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"cam-kernel\"");
	if (r->batch->version[0]) {
		put(b, ",\"version\":");
		put_json_str(b, r->batch->version);
	}
	put(b, "},\"spans\":[");
}

static void otlp_span(struct cam_render_buf *b, const Cam__Bus__Span *s, int first)
{
	put(b, first ? "{\"traceId\":" : ",{\"traceId\":");
	put_json_str(b, s->trace_id);
	put(b, ",\"spanId\":");
	put_json_str(b, s->span_id);
	if (s->parent_span_id[0]) {
		put(b, ",\"parentSpanId\":");
		put_json_str(b, s->parent_span_id);
	}
	put(b, ",\"name\":");
	put_json_str(b, s->name);
	put(b, s->kind == CAM__BUS__SPAN_KIND__SPAN_KIND_SERVER ? ",\"kind\":2" : ",\"kind\":1");
	put(b, ",\"startTimeUnixNano\":");
	put_i64(b, s->start_unix_ns, 1);
	put(b, ",\"endTimeUnixNano\":");
	put_i64(b, s->start_unix_ns + s->duration_ns, 1);
	put(b, ",\"attributes\":[");
	for (size_t i = 0; i < s->n_attributes; i++)
		otlp_attr(b, i == 0, s->attributes[i]->key, s->attributes[i]->value);
	put(b, "]");
	if (s->error)
		put(b, ",\"status\":{\"code\":2}");
	put(b, "}");
}

void cam_span_json_otlp(struct cam_render_buf *b, const struct cam_span_ref *spans,
			size_t n, const char *def)
{
	put(b, "{\"resourceSpans\":[");
	for (size_t i = 0; i < n; i++) {
		int opens = i == 0 || !same_resource(&spans[i - 1], &spans[i], def);

		if (opens) {
			if (i)
				put(b, "]}]},");
			otlp_resource(b, &spans[i], def);
		}
		otlp_span(b, spans[i].span, opens);
	}
	if (n)
		put(b, "]}]}");
	put(b, "]}");
}

static void zipkin_tag(struct cam_render_buf *b, int *first, const char *k, const char *v)
{
	put(b, *first ? "" : ",");
	*first = 0;
	put_json_str(b, k);
	put(b, ":");
	put_json_str(b, v);
}

static void zipkin_span(struct cam_render_buf *b, const struct cam_span_ref *r,
			const char *def)
{
	const Cam__Bus__Span *s = r->span;
	int first = 1;

	put(b, "{\"traceId\":");
	put_json_str(b, s->trace_id);
	put(b, ",\"id\":");
	put_json_str(b, s->span_id);
	if (s->parent_span_id[0]) {
		put(b, ",\"parentId\":");
		put_json_str(b, s->parent_span_id);
	}
	put(b, ",\"name\":");
	put_json_str(b, s->name);
	if (s->kind == CAM__BUS__SPAN_KIND__SPAN_KIND_SERVER)
		put(b, ",\"kind\":\"SERVER\"");
	put(b, ",\"timestamp\":");
	put_i64(b, s->start_unix_ns / 1000, 0);
	if (s->duration_ns > 0) {
		put(b, ",\"duration\":");
		put_i64(b, s->duration_ns >= 1000 ? s->duration_ns / 1000 : 1, 0);
	}
	put(b, ",\"localEndpoint\":{\"serviceName\":");
	put_json_str(b, service_of(r, def));
	put(b, "},\"tags\":{");
	for (size_t i = 0; i < s->n_attributes; i++)
		zipkin_tag(b, &first, s->attributes[i]->key, s->attributes[i]->value);
	if (r->batch->instance_id[0])
		zipkin_tag(b, &first, "service.instance.id", r->batch->instance_id);
	if (r->batch->version[0])
		zipkin_tag(b, &first, "service.version", r->batch->version);
	if (s->error)
		zipkin_tag(b, &first, "error", "true");
	put(b, "}}");
}

void cam_span_json_zipkin(struct cam_render_buf *b, const struct cam_span_ref *spans,
			  size_t n, const char *def)
{
	put(b, "[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(b, ",");
		zipkin_span(b, &spans[i], def);
	}
	put(b, "]");
}
