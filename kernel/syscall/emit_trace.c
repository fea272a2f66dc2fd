/*
 * emit_trace: a span from the caller.
 *
 * payload: trace_id:T,span_id:S,operation:NAME[,parent_span_id:P]
 *          [,duration_ms:D][,service:NAME][,status:ok|error][,attributes:k=v,...]
 * W3C hex ids (32/16 lower-case hex) are kept; other ids are mapped to a
 * stable id of the right width and the original is kept as an attribute.
 * The span waits in the span ring for the exporter (kernel/tracing/span_ring.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/emit_trace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/xmalloc.h"
#include "kernel/security/auth.h"
#include "kernel/tracing/trace_id.h"

struct cam_emit_trace {
	cam_verbs *verbs;
	cam_span_ring *spans;
};

static int required(struct cam_syscall *sc, const char *key, const char **out)
{
	*out = cam_payload_get(sc->payload, key);
	if (!*out || !**out)
		return cam_syscall_fail(sc, CAM_EINVAL,
					"payload key '%s' is missing", key);
	if (strlen(*out) > 64 && strcmp(key, "operation") != 0)
		return cam_syscall_fail(sc, CAM_EINVAL,
					"%s is longer than 64 characters", key);
	return 0;
}

static int fill_optional(struct cam_syscall *sc, struct cam_span *span)
{
	const char *parent = cam_payload_get(sc->payload, "parent_span_id");
	const char *dur = cam_payload_get(sc->payload, "duration_ms");
	const char *service = cam_payload_get(sc->payload, "service");
	const char *status = cam_payload_get(sc->payload, "status");
	const char *attrs = cam_payload_get(sc->payload, "attributes");

	if (parent && *parent) {
		if (strlen(parent) > 64)
			return cam_syscall_fail(sc, CAM_EINVAL,
						"parent_span_id is longer than 64 characters");
		cam_trace_id_normalize(parent, 16, span->parent_span_id);
	}
	if (dur) {
		char *end;
		double ms = strtod(dur, &end);
		if (*end || !isfinite(ms) || ms < 0 || ms > 86400e3)
			return cam_syscall_fail(sc, CAM_EINVAL,
						"duration_ms must be a number from 0 to 86400000");
		span->duration_ns = (int64_t)(ms * 1e6);
	}
	if (status && strcmp(status, "ok") && strcmp(status, "error"))
		return cam_syscall_fail(sc, CAM_EINVAL,
					"status must be ok or error");
	span->error = status && strcmp(status, "error") == 0;
	if (service && strlen(service) >= sizeof(span->service))
		return cam_syscall_fail(sc, CAM_EINVAL,
					"service is longer than %zu characters",
					sizeof(span->service) - 1);
	snprintf(span->service, sizeof(span->service), "%s", service ? service : "");
	if (attrs && strlen(attrs) >= sizeof(span->attributes))
		return cam_syscall_fail(sc, CAM_EINVAL,
					"attributes are longer than %zu bytes",
					sizeof(span->attributes) - 1);
	snprintf(span->attributes, sizeof(span->attributes), "%s", attrs ? attrs : "");
	return 0;
}

static int emit_trace(void *ctx, struct cam_syscall *sc)
{
	cam_emit_trace *et = ctx;
	struct cam_span span = { 0 };
	const char *trace, *spanid, *op;
	struct timespec ts;
	int status;

	if ((status = required(sc, "trace_id", &trace)) ||
	    (status = required(sc, "span_id", &spanid)) ||
	    (status = required(sc, "operation", &op)))
		return status;
	if (strlen(op) >= sizeof(span.name))
		return cam_syscall_fail(sc, CAM_EINVAL,
					"operation is longer than %zu characters",
					sizeof(span.name) - 1);
	if (!cam_trace_id_normalize(trace, 32, span.trace_id))
		snprintf(span.original_trace_id, sizeof(span.original_trace_id), "%s", trace);
	if (!cam_trace_id_normalize(spanid, 16, span.span_id))
		snprintf(span.original_span_id, sizeof(span.original_span_id), "%s", spanid);
	snprintf(span.name, sizeof(span.name), "%s", op);
	if ((status = fill_optional(sc, &span)))
		return status;
	clock_gettime(CLOCK_REALTIME, &ts);
	span.start_unix_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec - span.duration_ns;
	cam_span_ring_push(et->spans, &span);

	/* The access log and exemplars carry the trace from here on. */
	memcpy(sc->trace_id, span.trace_id, sizeof(span.trace_id));
	cam_result_add(&sc->result, "trace_id", span.trace_id);
	cam_result_add(&sc->result, "span_id", span.span_id);
	if (span.parent_span_id[0])
		cam_result_add(&sc->result, "parent_span_id", span.parent_span_id);
	cam_result_add(&sc->result, "accepted", "true");
	return 0;
}

static const char *const K_EMIT_TRACE[] = { "trace_id", "span_id", "parent_span_id",
					    "operation", "duration_ms", "attributes",
					    "service", "status", NULL };

static const struct cam_verb rows[] = {
	{ .name = "emit_trace", .fn = emit_trace, .keys = K_EMIT_TRACE, .scope = CAM_SCOPE_WRITE },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

int cam_emit_trace_new(cam_verbs *verbs, cam_span_ring *spans, cam_emit_trace **out)
{
	cam_emit_trace *et;
	int rc;

	if (!spans)
		return CAM_EINVAL;
	et = cam_xcalloc(1, sizeof(*et));
	et->verbs = verbs;
	et->spans = spans;
	if ((rc = cam_verbs_add(verbs, "observability", rows, NROWS, et))) {
		free(et);
		return rc;
	}
	*out = et;
	return 0;
}

void cam_emit_trace_free(cam_emit_trace *et)
{
	if (!et)
		return;
	cam_verbs_remove(et->verbs, rows, NROWS);
	free(et);
}
