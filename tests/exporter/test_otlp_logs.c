/*
 * Tests of exporter/otlp_logs.c: kernel JSON lines (json and ecs names,
 * access lines, audit records, garbage) as LogRecords, read back with
 * protobuf-c's unpacker.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "exporter/otlp_logs.h"
#include "proto/opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest request_t;
typedef Opentelemetry__Proto__Logs__V1__LogRecord record_t;

static const char ACCESS[] =
	"{\"timestamp\":\"2026-12-01T12:00:00.250Z\",\"level\":\"WARN\",\"component\":"
	"\"syscall_dispatcher\",\"syscall\":\"think\",\"caller_id\":\"agent-123\",\"latency_ms\":0.8,"
	"\"success\":false,\"code\":\"INVALID_ARGUMENT\",\"request_id\":\"ab-1\",\"trace_id\":"
	"\"0af7651916cd43dd8448eb211c80319c\",\"span_id\":\"b7ad6b7169203331\",\"suppressed\":3}";
static const char ECS[] =
	"{\"@timestamp\":\"2026-12-01T12:00:01.000Z\",\"log.level\":\"error\",\"log.logger\":\"kernel\","
	"\"message\":\"cannot open\",\"service.name\":\"cam-kernel\",\"trace.id\":"
	"\"4bf92f3577b34da6a3ce929d0e0e4736\"}";
static const char AUDIT[] =
	"{\"timestamp\":\"2026-12-01T12:00:02Z\",\"verb\":\"context_write\",\"principal\":\"agent-a\","
	"\"authorized\":true,\"prev\":\"00\"}";

static request_t *encode(const struct cam_otlp_log_line *lines, size_t n,
			 struct cam_otlp_logs_result *res)
{
	struct cam_otlp_arena a = CAM_OTLP_ARENA_INIT;
	struct cam_render_buf out;
	request_t *r;

	cam_render_buf_init(&out, 0);
	cam_otlp_logs_encode(&a, NULL, lines, n, 42, &out, res);
	r = opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
		NULL, out.len, (const uint8_t *)out.data);
	assert_non_null(r);
	cam_render_buf_free(&out);
	cam_otlp_arena_free(&a);
	return r;
}

static Opentelemetry__Proto__Common__V1__AnyValue *attr(const record_t *r, const char *key)
{
	for (size_t i = 0; i < r->n_attributes; i++)
		if (!strcmp(r->attributes[i]->key, key))
			return r->attributes[i]->value;
	return NULL;
}

static void test_access_line(void **state)
{
	struct cam_otlp_log_line l = { ACCESS, false, "inst", "0.1.0" };
	struct cam_otlp_logs_result res;
	request_t *r = encode(&l, 1, &res);
	record_t *rec = r->resource_logs[0]->scope_logs[0]->log_records[0];

	(void)state;
	assert_int_equal(res.records, 1);
	assert_string_equal(r->resource_logs[0]->scope_logs[0]->scope->name, "cam-kernel");
	assert_int_equal(rec->time_unix_nano, 1796126400250000000ull);
	assert_int_equal(rec->observed_time_unix_nano, 42);
	assert_int_equal(rec->severity_number, 13);
	assert_string_equal(rec->severity_text, "WARN");
	assert_string_equal(rec->body->string_value, "syscall think");
	assert_int_equal(rec->trace_id.len, 16);
	assert_int_equal(rec->trace_id.data[0], 0x0a);
	assert_int_equal(rec->span_id.len, 8);
	assert_int_equal(rec->span_id.data[7], 0x31);
	assert_string_equal(attr(rec, "caller_id")->string_value, "agent-123");
	assert_string_equal(attr(rec, "component")->string_value, "syscall_dispatcher");
	assert_true(attr(rec, "latency_ms")->double_value == 0.8);
	assert_int_equal(attr(rec, "success")->value_case,
			 OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE);
	assert_false(attr(rec, "success")->bool_value);
	assert_int_equal(attr(rec, "suppressed")->int_value, 3);
	/* Dedicated fields are not repeated as attributes. */
	assert_null(attr(rec, "timestamp"));
	assert_null(attr(rec, "level"));
	assert_null(attr(rec, "trace_id"));
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(r, NULL);
}

static void test_ecs_audit_and_garbage(void **state)
{
	struct cam_otlp_log_line l[] = {
		{ ECS, false, "inst", "0.1.0" },
		{ "not json", false, "inst", "0.1.0" },
		{ AUDIT, true, "inst", "0.1.0" },
		{ ACCESS, false, "other", "0.1.0" },
	};
	struct cam_otlp_logs_result res;
	request_t *r = encode(l, 4, &res);
	Opentelemetry__Proto__Logs__V1__ScopeLogs *log, *audit;
	record_t *rec;

	(void)state;
	assert_int_equal(res.records, 3);
	assert_int_equal(res.invalid, 1);
	/* One resource per kernel instance, in order of appearance. */
	assert_int_equal(r->n_resource_logs, 2);
	assert_int_equal(r->resource_logs[0]->n_scope_logs, 2);
	log = r->resource_logs[0]->scope_logs[0];
	audit = r->resource_logs[0]->scope_logs[1];
	rec = log->log_records[0];
	assert_int_equal(rec->severity_number, 17);
	assert_string_equal(rec->body->string_value, "cannot open");
	assert_int_equal(rec->trace_id.len, 16);
	assert_string_equal(attr(rec, "log.logger")->string_value, "kernel");
	assert_string_equal(audit->scope->name, "cam-kernel/audit");
	rec = audit->log_records[0];
	assert_string_equal(rec->body->string_value, "audit context_write");
	assert_true(attr(rec, "authorized")->bool_value);
	assert_int_equal(rec->time_unix_nano, 1796126402000000000ull);
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(r, NULL);
}

static void test_parse_time(void **state)
{
	uint64_t ns;

	(void)state;
	assert_true(cam_otlp_logs_parse_time("1970-01-01T00:00:01.5Z", &ns));
	assert_int_equal(ns, 1500000000ull);
	assert_true(cam_otlp_logs_parse_time("1970-01-01T01:00:00+01:00", &ns));
	assert_int_equal(ns, 0);
	assert_true(cam_otlp_logs_parse_time("2026-12-01T12:00:00.123456789123Z", &ns));
	assert_int_equal(ns % 1000000000u, 123456789);
	assert_false(cam_otlp_logs_parse_time("2026-12-01 12:00:00Z", &ns));
	assert_false(cam_otlp_logs_parse_time("2026-13-01T12:00:00Z", &ns));
	assert_false(cam_otlp_logs_parse_time("2026-12-01T12:00:00", &ns));
	assert_false(cam_otlp_logs_parse_time(NULL, &ns));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_access_line),
		cmocka_unit_test(test_ecs_audit_and_garbage),
		cmocka_unit_test(test_parse_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
