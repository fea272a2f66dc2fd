/* Unit tests of common/log.c: JSON shape, escaping, levels, drops. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "common/error.h"
#include "common/log.h"

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
		cmocka_unit_test(test_ring_full_drops_and_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
