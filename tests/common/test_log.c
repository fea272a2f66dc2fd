/* Unit tests of common/log.c: JSON shape, escaping, levels, drops, the ECS
 * format, and common/log_journal.c's detection of the journal stream. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "common/error.h"
#include "common/log.h"
#include "common/log_journal.h"

static void test_escape(void **state)
{
	char buf[128];

	(void)state;
	cam_json_escape(buf, sizeof(buf), "a\"b\\c\nd\te\x01");
	assert_string_equal(buf, "a\\\"b\\\\c\\nd\\te\\u0001");
	cam_json_escape(buf, sizeof(buf), "caf\xc3\xa9");
	assert_string_equal(buf, "caf\xc3\xa9");
	cam_json_escape(buf, sizeof(buf), "bad\xff");
	assert_string_equal(buf, "bad\\ufffd");
	/* Truncation never splits an escape and always terminates. */
	assert_true(cam_json_escape(buf, 4, "\"\"\"") <= 3);
	assert_true(strlen(buf) <= 3);
}

static void test_line_shape(void **state)
{
	struct cam_log_line l;

	(void)state;
	cam_log_set_level(CAM_LOG_INFO);
	assert_true(cam_log_begin(&l, CAM_LOG_INFO, "syscall_dispatcher", NULL));
	cam_log_str(&l, "syscall", "think");
	cam_log_str(&l, "caller_id", "agent-123");
	cam_log_num(&l, "latency_ms", 0.8);
	cam_log_bool(&l, "success", true);
	l.buf[l.len] = '\0';
	assert_non_null(strstr(l.buf, "\"level\":\"INFO\""));
	assert_non_null(strstr(l.buf, "\"component\":\"syscall_dispatcher\""));
	assert_non_null(strstr(l.buf, "\"syscall\":\"think\""));
	assert_non_null(strstr(l.buf, "\"latency_ms\":0.8"));
	assert_non_null(strstr(l.buf, "\"success\":true"));
	assert_int_equal(strncmp(l.buf, "{\"timestamp\":\"", 14), 0);
	/* RFC 3339 UTC: 2024-12-01T12:00:00.000Z */
	assert_int_equal(l.buf[14 + 10], 'T');
	assert_int_equal(l.buf[14 + 23], 'Z');
}

static void test_levels(void **state)
{
	enum cam_log_level lv;
	struct cam_log_line l;

	(void)state;
	assert_int_equal(cam_log_parse_level("DEBUG", &lv), 0);
	assert_int_equal(lv, CAM_LOG_DEBUG);
	assert_int_equal(cam_log_parse_level("warning", &lv), 0);
	assert_int_equal(lv, CAM_LOG_WARN);
	assert_int_equal(cam_log_parse_level("loud", &lv), CAM_EINVAL);
	cam_log_set_level(CAM_LOG_WARN);
	assert_false(cam_log_begin(&l, CAM_LOG_INFO, "x", "y"));
	assert_true(cam_log_begin(&l, CAM_LOG_ERROR, "x", "y"));
	cam_log_set_level(CAM_LOG_INFO);
}

/* The line cam_log_end would write, without its newline, parsed as JSON
 * (yajl); NULL when it is not one JSON object. The caller frees. */
static yajl_val closed_line(const struct cam_log_line *l, char *out, size_t cap)
{
	char err[128];

	snprintf(out, cap, "%.*s%s}", (int)l->len, l->buf,
		 l->truncated ? ",\"truncated\":true" : "");
	assert_true(strlen(out) + 1 <= CAM_LOG_LINE_MAX); /* with its "\n" */
	return yajl_tree_parse(out, err, sizeof(err));
}

static const char *string_at(yajl_val v, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val s = yajl_tree_get(v, path, yajl_t_string);

	return s ? YAJL_GET_STRING(s) : NULL;
}

static void test_long_line_truncated_but_valid(void **state)
{
	struct cam_log_line l;
	char big[3000], out[CAM_LOG_LINE_MAX + 64];
	yajl_val v;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_true(cam_log_begin(&l, CAM_LOG_ERROR, "x", NULL));
	cam_log_str(&l, "a", "short");
	cam_log_str(&l, "big", big);
	cam_log_int(&l, "n", 3000);
	assert_true(l.truncated);
	assert_true(l.len < CAM_LOG_LINE_MAX);
	v = closed_line(&l, out, sizeof(out));
	assert_non_null(v);
	/* The long value is shortened, not dropped with its key left behind. */
	assert_string_equal(string_at(v, "a"), "short");
	assert_non_null(string_at(v, "big"));
	assert_true(strlen(string_at(v, "big")) > 500);
	yajl_tree_free(v);
}

/* Whatever fills the line, and whatever comes after, it stays one JSON
 * object: every kind of field, values that grow 6-fold when escaped. */
static void test_full_line_stays_json(void **state)
{
	char ctl[400], vs[1101], out[CAM_LOG_LINE_MAX + 64];
	struct cam_log_line l;
	yajl_val v;

	(void)state;
	memset(ctl, 0x01, sizeof(ctl) - 1);
	ctl[sizeof(ctl) - 1] = '\0';
	memset(vs, 'v', sizeof(vs) - 1);
	vs[sizeof(vs) - 1] = '\0';
	/* The fuzzer's find: a value that does not fit left its key dangling. */
	assert_true(cam_log_begin(&l, CAM_LOG_ERROR, "x", "m"));
	cam_log_str(&l, "big", vs);
	cam_log_int(&l, "n", 1100);
	assert_non_null(v = closed_line(&l, out, sizeof(out)));
	yajl_tree_free(v);
	for (int fill = 0; fill < 60; fill++) {
		assert_true(cam_log_begin(&l, CAM_LOG_ERROR, "x", "m"));
		for (int i = 0; i < fill; i++)
			cam_log_str(&l, "k", "0123456789");
		cam_log_str(&l, "ctl", ctl);
		cam_log_int(&l, "i", -1234567890123LL);
		cam_log_num(&l, "d", 1.5e-7);
		cam_log_bool(&l, "b", true);
		cam_log_str(&l, "", "");
		v = closed_line(&l, out, sizeof(out));
		if (!v)
			fail_msg("fill %d: not JSON: %s", fill, out);
		yajl_tree_free(v);
	}
}

static const char *number_at(yajl_val v, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val s = yajl_tree_get(v, path, yajl_t_number);

	return s ? YAJL_GET_NUMBER(s) : NULL;
}

/* The seed's access line with CAM_LOG_FORMAT=ecs: ECS names, level in
 * lower case, latency as event.duration in nanoseconds, a message. */
static void test_ecs_access_line(void **state)
{
	char out[CAM_LOG_LINE_MAX + 64];
	struct cam_log_line l;
	yajl_val v;

	(void)state;
	cam_log_set_format(CAM_LOG_FORMAT_ECS, "cam-kernel");
	assert_true(cam_log_begin(&l, CAM_LOG_WARN, "syscall_dispatcher", NULL));
	cam_log_str(&l, "syscall", "think");
	cam_log_str(&l, "caller_id", "agent-123");
	cam_log_num(&l, "latency_ms", 0.8);
	cam_log_bool(&l, "success", false);
	cam_log_str(&l, "code", "INVALID_ARGUMENT");
	cam_log_str(&l, "request_id", "88c105a4-12");
	cam_log_str(&l, "trace_id", "0af7651916cd43dd8448eb211c80319c");
	cam_log_str(&l, "error", "bad payload");
	cam_log_set_format(CAM_LOG_FORMAT_JSON, NULL);
	assert_non_null(v = closed_line(&l, out, sizeof(out)));
	assert_non_null(string_at(v, "@timestamp"));
	assert_null(string_at(v, "timestamp"));
	assert_string_equal(string_at(v, "log.level"), "warn");
	assert_string_equal(string_at(v, "log.logger"), "syscall_dispatcher");
	assert_string_equal(string_at(v, "message"), "syscall think");
	assert_string_equal(string_at(v, "service.name"), "cam-kernel");
	assert_string_equal(string_at(v, "ecs.version"), "8.11.0");
	assert_string_equal(string_at(v, "event.action"), "think");
	assert_string_equal(string_at(v, "user.name"), "agent-123");
	assert_string_equal(number_at(v, "event.duration"), "800000");
	assert_string_equal(string_at(v, "event.outcome"), "failure");
	assert_string_equal(string_at(v, "cam.code"), "INVALID_ARGUMENT");
	assert_string_equal(string_at(v, "event.id"), "88c105a4-12");
	assert_string_equal(string_at(v, "trace.id"), "0af7651916cd43dd8448eb211c80319c");
	assert_string_equal(string_at(v, "error.message"), "bad payload");
	assert_null(string_at(v, "level"));
	assert_null(string_at(v, "syscall"));
	yajl_tree_free(v);
}

/* A line with a message keeps it; other fields go under cam.; the next
 * line after switching back is the seed's format again. */
static void test_ecs_other_fields(void **state)
{
	char out[CAM_LOG_LINE_MAX + 64];
	struct cam_log_line l;
	enum cam_log_format f;
	yajl_val v;

	(void)state;
	assert_int_equal(cam_log_parse_format("ECS", &f), 0);
	assert_int_equal(f, CAM_LOG_FORMAT_ECS);
	assert_int_equal(cam_log_parse_format("json", &f), 0);
	assert_int_equal(f, CAM_LOG_FORMAT_JSON);
	assert_int_equal(cam_log_parse_format("logfmt", &f), CAM_EINVAL);
	assert_int_equal(cam_log_parse_format(NULL, &f), CAM_EINVAL);
	assert_int_equal(cam_log_configure("xml", "x"), CAM_EINVAL);

	cam_log_set_format(CAM_LOG_FORMAT_ECS, "cam-exporter");
	assert_true(cam_log_begin(&l, CAM_LOG_INFO, "kernel", "cam-kernel started"));
	cam_log_int(&l, "grpc_port", 50051);
	cam_log_bool(&l, "profiling_enabled", true);
	cam_log_num(&l, "age_seconds", 1.5);
	cam_log_set_format(CAM_LOG_FORMAT_JSON, "cam-os");
	assert_non_null(v = closed_line(&l, out, sizeof(out)));
	assert_string_equal(string_at(v, "message"), "cam-kernel started");
	assert_string_equal(string_at(v, "log.level"), "info");
	assert_string_equal(string_at(v, "service.name"), "cam-exporter");
	assert_string_equal(number_at(v, "cam.grpc_port"), "50051");
	assert_string_equal(number_at(v, "cam.age_seconds"), "1.5");
	assert_non_null(strstr(out, "\"cam.profiling_enabled\":true"));
	yajl_tree_free(v);

	assert_true(cam_log_begin(&l, CAM_LOG_INFO, "kernel", "m"));
	assert_non_null(v = closed_line(&l, out, sizeof(out)));
	assert_string_equal(string_at(v, "level"), "INFO");
	assert_null(string_at(v, "service.name"));
	yajl_tree_free(v);
}

/* JOURNAL_STREAM counts only when it names fd 2 itself. */
static void test_journal_detect(void **state)
{
	struct stat st;
	char env[64];

	(void)state;
	assert_int_equal(fstat(2, &st), 0);
	unsetenv("JOURNAL_STREAM");
	assert_false(cam_log_journal_detect());
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	assert_true(cam_log_journal_detect());
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", env, 1);
	assert_false(cam_log_journal_detect());
	setenv("JOURNAL_STREAM", "8:12x", 1);
	assert_false(cam_log_journal_detect());
	setenv("JOURNAL_STREAM", "", 1);
	assert_false(cam_log_journal_detect());
	unsetenv("JOURNAL_STREAM");
	/* What is not one flat JSON object is refused (and written to stderr
	 * by the caller), never sent half-read. */
	assert_int_equal(cam_log_journal_send("not json\n", 9, "t"), CAM_EPROTO);
	assert_int_equal(cam_log_journal_send("[1,2]", 5, "t"), CAM_EPROTO);
}

static void test_ring_full_drops_and_counts(void **state)
{
	uint64_t before;

	(void)state;
	assert_int_equal(cam_log_start(16), 0);
	before = cam_log_dropped();
	/* Far more lines than the ring holds, faster than it drains. */
	for (int i = 0; i < 20000; i++)
		cam_log(CAM_LOG_ERROR, "test", "line %d", i);
	cam_log_stop();
	assert_true(cam_log_dropped() > before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_line_shape),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_long_line_truncated_but_valid),
		cmocka_unit_test(test_full_line_stays_json),
		cmocka_unit_test(test_ecs_access_line),
		cmocka_unit_test(test_ecs_other_fields),
		cmocka_unit_test(test_journal_detect),
		cmocka_unit_test(test_ring_full_drops_and_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
