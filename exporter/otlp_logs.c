/*
 * The OTLP logs encoder of otlp_logs.h: each JSON line parsed with yajl's
 * tree parser, its fields copied into the arena as a LogRecord, then one
 * pack.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/otlp_logs.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#include "common/version.h"
#include "exporter/otlp_pb.h"
#include "proto/opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "proto/opentelemetry/proto/logs/v1/logs.pb-c.h"

typedef Opentelemetry__Proto__Logs__V1__LogRecord record_t;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs scope_logs_t;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs resource_logs_t;

#define SCOPE_LOG "cam-kernel"
#define SCOPE_AUDIT "cam-kernel/audit"

bool cam_otlp_logs_parse_time(const char *s, uint64_t *ns)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, n = 0;
	uint64_t frac = 0, scale = 1000000000u;
	long off = 0;
	time_t t;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n != 19)
		return false;
	s += n;
	if (*s == '.') {
		for (s++; isdigit((unsigned char)*s); s++)
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*s - '0') * scale;
			}
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int oh, om;

		if (sscanf(s + 1, "%2d:%2d", &oh, &om) != 2 || strlen(s) != 6)
			return false;
		off = (*s == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
		s += 6;
	} else {
		return false;
	}
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm) - off;
	if (t < 0)
		return false;
	*ns = (uint64_t)t * 1000000000u + frac;
	return true;
}

static Opentelemetry__Proto__Logs__V1__SeverityNumber severity(const char *level)
{
	if (!strcasecmp(level, "debug"))
		return OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_DEBUG;
	if (!strcasecmp(level, "info"))
		return OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_INFO;
	if (!strcasecmp(level, "warn") || !strcasecmp(level, "warning"))
		return OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_WARN;
	if (!strcasecmp(level, "error"))
		return OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_ERROR;
	return OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_UNSPECIFIED;
}

static bool is(const char *key, const char *json_name, const char *ecs_name)
{
	return !strcmp(key, json_name) || !strcmp(key, ecs_name);
}

static char *dup(struct cam_otlp_arena *a, const char *s)
{
	return cam_otlp_arena_strndup(a, s, strlen(s));
}

static Opentelemetry__Proto__Common__V1__AnyValue *string_value(struct cam_otlp_arena *a,
								char *s)
{
	Opentelemetry__Proto__Common__V1__AnyValue *v = cam_otlp_arena_alloc(a, sizeof(*v));

	opentelemetry__proto__common__v1__any_value__init(v);
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	v->string_value = s;
	return v;
}

/* Takes one field of the line into r: a dedicated field or an attribute. */
static void field(struct cam_otlp_arena *a, record_t *r, const char *key, yajl_val v,
		  const char **syscall, const char **verb)
{
	char *k;

	if (YAJL_IS_STRING(v)) {
		const char *s = YAJL_GET_STRING(v);

		if (is(key, "timestamp", "@timestamp") &&
		    cam_otlp_logs_parse_time(s, &r->time_unix_nano))
			return;
		if (is(key, "level", "log.level")) {
			r->severity_text = dup(a, s);
			r->severity_number = severity(s);
			return;
		}
		if (!strcmp(key, "message")) {
			r->body = string_value(a, dup(a, s));
			return;
		}
		if (is(key, "trace_id", "trace.id") && cam_otlp_pb_hex_id(a, s, 16, &r->trace_id))
			return;
		if (is(key, "span_id", "span.id") && cam_otlp_pb_hex_id(a, s, 8, &r->span_id))
			return;
	}
	k = dup(a, key);
	if (YAJL_IS_STRING(v)) {
		char *s = dup(a, YAJL_GET_STRING(v));

		if (!strcmp(key, "syscall") || !strcmp(key, "event.action"))
			*syscall = s;
		if (!strcmp(key, "verb"))
			*verb = s;
		r->attributes[r->n_attributes++] = cam_otlp_pb_str(a, k, s);
	} else if (YAJL_IS_INTEGER(v)) {
		r->attributes[r->n_attributes++] = cam_otlp_pb_int(a, k, YAJL_GET_INTEGER(v));
	} else if (YAJL_IS_DOUBLE(v)) {
		r->attributes[r->n_attributes++] = cam_otlp_pb_double(a, k, YAJL_GET_DOUBLE(v));
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		r->attributes[r->n_attributes++] = cam_otlp_pb_bool(a, k, YAJL_IS_TRUE(v));
	}
	/* null, arrays and objects: the kernel writes none; left out */
}

/* One line as a record; NULL when it is not a JSON object. */
static record_t *record(struct cam_otlp_arena *a, const struct cam_otlp_log_line *l,
			uint64_t observed_ns)
{
	char err[64];
	yajl_val root = yajl_tree_parse(l->json, err, sizeof(err));
	const char *syscall = NULL, *verb = NULL;
	record_t *r = NULL;
	size_t n;

	if (!root || !YAJL_IS_OBJECT(root))
		goto out_free_tree;
	n = root->u.object.len;
	r = cam_otlp_arena_alloc(a, sizeof(*r));
	opentelemetry__proto__logs__v1__log_record__init(r);
	r->observed_time_unix_nano = observed_ns;
	r->attributes = cam_otlp_arena_alloc(a, (n ? n : 1) * sizeof(*r->attributes));
	for (size_t i = 0; i < n; i++)
		field(a, r, root->u.object.keys[i], root->u.object.values[i], &syscall, &verb);
	if (!r->body) {
		char body[300];

		if (syscall)
			snprintf(body, sizeof(body), "syscall %s", syscall);
		else if (l->audit && verb)
			snprintf(body, sizeof(body), "audit %s", verb);
		else
			snprintf(body, sizeof(body), "%s", l->audit ? "audit" : "");
		r->body = string_value(a, dup(a, body));
	}
out_free_tree:
	yajl_tree_free(root);
	return r;
}

static bool same_kernel(const struct cam_otlp_log_line *x, const struct cam_otlp_log_line *y)
{
	return !strcmp(x->instance_id ? x->instance_id : "", y->instance_id ? y->instance_id : "") &&
	       !strcmp(x->version ? x->version : "", y->version ? y->version : "");
}

static scope_logs_t *scope_logs(struct cam_otlp_arena *a, const char *name, size_t cap)
{
	scope_logs_t *s = cam_otlp_arena_alloc(a, sizeof(*s));

	opentelemetry__proto__logs__v1__scope_logs__init(s);
	s->scope = cam_otlp_pb_scope_new(a, name, CAM_VERSION);
	s->log_records = cam_otlp_arena_alloc(a, (cap ? cap : 1) * sizeof(*s->log_records));
	return s;
}

/* The ResourceLogs of the kernel of lines[first], with every line of that
 * kernel (marked done). */
static resource_logs_t *resource_logs(struct cam_otlp_arena *a,
				      const struct cam_otlp_kv_list *attrs,
				      const struct cam_otlp_log_line *lines, size_t n,
				      size_t first, bool *done, uint64_t observed_ns,
				      struct cam_otlp_logs_result *res)
{
	resource_logs_t *rl = cam_otlp_arena_alloc(a, sizeof(*rl));
	scope_logs_t *log = scope_logs(a, SCOPE_LOG, n), *audit = scope_logs(a, SCOPE_AUDIT, n);

	opentelemetry__proto__logs__v1__resource_logs__init(rl);
	rl->resource = cam_otlp_pb_resource_new(a, attrs, true, "cam-kernel",
						lines[first].instance_id, lines[first].version);
	for (size_t i = first; i < n; i++) {
		record_t *r;

		if (done[i] || !same_kernel(&lines[first], &lines[i]))
			continue;
		done[i] = true;
		if (!(r = record(a, &lines[i], observed_ns))) {
			res->invalid++;
			continue;
		}
		if (lines[i].audit)
			audit->log_records[audit->n_log_records++] = r;
		else
			log->log_records[log->n_log_records++] = r;
		res->records++;
	}
	rl->scope_logs = cam_otlp_arena_alloc(a, 2 * sizeof(*rl->scope_logs));
	if (log->n_log_records)
		rl->scope_logs[rl->n_scope_logs++] = log;
	if (audit->n_log_records)
		rl->scope_logs[rl->n_scope_logs++] = audit;
	return rl;
}

void cam_otlp_logs_encode(struct cam_otlp_arena *a, const struct cam_otlp_kv_list *attrs,
			  const struct cam_otlp_log_line *lines, size_t n, uint64_t observed_ns,
			  struct cam_render_buf *out, struct cam_otlp_logs_result *res)
{
	Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest req;
	struct cam_otlp_logs_result local;
	bool *done;
	size_t len;

	if (!res)
		res = &local;
	*res = (struct cam_otlp_logs_result){ 0 };
	cam_otlp_arena_reset(a);
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(&req);
	done = cam_otlp_arena_alloc(a, (n ? n : 1) * sizeof(*done));
	req.resource_logs = cam_otlp_arena_alloc(a, (n ? n : 1) * sizeof(*req.resource_logs));
	for (size_t i = 0; i < n; i++)
		if (!done[i])
			req.resource_logs[req.n_resource_logs++] =
				resource_logs(a, attrs, lines, n, i, done, observed_ns, res);
	len = opentelemetry__proto__collector__logs__v1__export_logs_service_request__get_packed_size(&req);
	out->len = 0;
	cam_render_buf_reserve(out, len);
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(
		&req, (uint8_t *)out->data);
	out->len = len;
}
