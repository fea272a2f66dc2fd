/*
 * Kernel log lines as an OTLP ExportLogsServiceRequest (HTTP/protobuf body
 * of POST /v1/logs), packed by protobuf-c from the vendored OpenTelemetry
 * definitions.
 *
 * Each line is the JSON object the kernel logged (json or ecs field names,
 * common/log.h) and becomes one LogRecord:
 *   timestamp / @timestamp      -> time_unix_nano
 *   level / log.level           -> severity_text as written, severity_number
 *                                  DEBUG 5, INFO 9, WARN 13, ERROR 17
 *   message                     -> body; an access line has none: its body
 *                                  is "syscall <verb>", an audit record's
 *                                  "audit <verb>"
 *   trace_id / trace.id,
 *   span_id / span.id           -> trace_id, span_id (bytes)
 *   every other field           -> an attribute of the same name and type
 *                                  (string, int, double, bool; null left out)
 * observed_time_unix_nano is when the exporter took the line. Log lines
 * and audit records go in scopes of their own ("cam-kernel" and
 * "cam-kernel/audit"), under the kernel's resource (the same as its
 * metrics': otlp_pb.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_OTLP_LOGS_H
#define CAM_EXPORTER_OTLP_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/otlp_arena.h"
#include "exporter/otlp_kv.h"
#include "exporter/render.h"

struct cam_otlp_log_line {
	const char *json;        /* one JSON object */
	bool audit;              /* a line of the audit log */
	const char *instance_id; /* the kernel that wrote it */
	const char *version;
};

/* What one encode wrote and left out. */
struct cam_otlp_logs_result {
	size_t records; /* LogRecords written */
	size_t invalid; /* lines that were not a JSON object: left out */
};

/*
 * Replaces out's contents with the packed request for lines[0..n), with
 * attrs the operator's resource attributes (may be NULL); one ResourceLogs
 * per kernel instance, in the order they first appear. observed_ns: the
 * time the lines were taken. The arena is reset first. Can't fail.
 */
void cam_otlp_logs_encode(struct cam_otlp_arena *a, const struct cam_otlp_kv_list *attrs,
			  const struct cam_otlp_log_line *lines, size_t n, uint64_t observed_ns,
			  struct cam_render_buf *out, struct cam_otlp_logs_result *res);

/* "2026-12-01T12:00:00.123Z" (RFC 3339, any fraction, Z or +hh:mm) in ns
 * since the epoch; false when it is not one. */
bool cam_otlp_logs_parse_time(const char *s, uint64_t *ns);

#endif
