/*
 * Tests of kernel/log_bus.c and the log tap of common/log.c: lines in,
 * bounded in lines and bytes with drops counted, LogBatch messages out
 * that the exporter's decoder takes, audit lines kept apart, and the real
 * logger thread feeding it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/error.h"
#include "common/log.h"
#include "common/snapshot.h"
#include "kernel/log_bus.h"
#include "kernel/security/audit.h"

static Cam__Bus__Envelope *take(cam_log_bus *b, size_t *n)
{
	const char *why = NULL;
	Cam__Bus__Envelope *e;
	uint8_t *buf;
	size_t len;

	*n = cam_log_bus_take(b, "inst", "0.1.0", &buf, &len);
	if (*n == 0) {
		assert_null(buf);
		return NULL;
	}
	e = cam_snapshot_unpack(buf, len, &why);
	free(buf);
	if (!e)
		fail_msg("not a valid log batch: %s", why);
	assert_int_equal(e->body_case, CAM__BUS__ENVELOPE__BODY_LOGS);
	return e;
}

static void test_lines_in_order_with_kinds(void **state)
{
	cam_log_bus *b;
	Cam__Bus__Envelope *e;
	size_t n;

	(void)state;
	assert_int_equal(cam_log_bus_new(8, 0, &b), 0);
	assert_int_equal(cam_log_bus_add(b, CAM_LOG_BUS_LOG, "{\"a\":1}\n", 8), 0);
	assert_int_equal(cam_log_bus_add(b, CAM_LOG_BUS_AUDIT, "{\"verb\":\"x\"}", 12), 0);
	assert_int_equal(cam_log_bus_pending(b), 2);
	e = take(b, &n);
	assert_int_equal(n, 2);
	assert_string_equal(e->logs->instance_id, "inst");
	assert_int_equal(e->logs->sequence, 1);
	assert_string_equal(e->logs->lines[0]->json, "{\"a\":1}"); /* newline cut */
	assert_int_equal(e->logs->lines[0]->kind, CAM__BUS__LOG_KIND__LOG_KIND_LOG);
	assert_int_equal(e->logs->lines[1]->kind, CAM__BUS__LOG_KIND__LOG_KIND_AUDIT);
	cam_snapshot_unpacked_free(e);
	assert_null(take(b, &n));
	cam_log_bus_free(b);
}

static void test_bounded(void **state)
{
	cam_log_bus *b;
	char line[64];
	size_t n;

	(void)state;
	assert_int_equal(cam_log_bus_new(4, 0, &b), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(cam_log_bus_add(b, CAM_LOG_BUS_LOG, "{}", 2), 0);
	assert_int_equal(cam_log_bus_add(b, CAM_LOG_BUS_LOG, "{}", 2), CAM_ELIMIT);
	assert_int_equal(cam_log_bus_add(b, CAM_LOG_BUS_LOG, "no object", 9), CAM_ELIMIT);
	assert_int_equal(cam_log_bus_add(b, CAM_LOG_BUS_LOG, "", 0), CAM_ELIMIT);
	cam_snapshot_unpacked_free(take(b, &n));
	assert_int_equal(n, 4);
	cam_log_bus_free(b);
	/* By bytes: 3 lines of 20 in 50 bytes. */
	assert_int_equal(cam_log_bus_new(100, 50, &b), 0);
	memset(line, ' ', sizeof(line));
	line[0] = '{';
	line[19] = '}';
	assert_int_equal(cam_log_bus_add(b, CAM_LOG_BUS_LOG, line, 20), 0);
	assert_int_equal(cam_log_bus_add(b, CAM_LOG_BUS_LOG, line, 20), 0);
	assert_int_equal(cam_log_bus_add(b, CAM_LOG_BUS_LOG, line, 20), CAM_ELIMIT);
	cam_log_bus_free(b); /* with lines still in: freed too */
}

static void test_batches_of_at_most_the_max(void **state)
{
	cam_log_bus *b;
	Cam__Bus__Envelope *e;
	size_t n;

	(void)state;
	assert_int_equal(cam_log_bus_new(0, 0, &b), 0);
	for (int i = 0; i < CAM_LOG_BATCH_MAX + 10; i++)
		assert_int_equal(cam_log_bus_add(b, CAM_LOG_BUS_LOG, "{}", 2), 0);
	e = take(b, &n);
	assert_int_equal(n, CAM_LOG_BATCH_MAX);
	cam_snapshot_unpacked_free(e);
	e = take(b, &n);
	assert_int_equal(n, 10);
	assert_int_equal(e->logs->sequence, 2);
	cam_snapshot_unpacked_free(e);
	cam_log_bus_free(b);
}

/* The real logger thread hands what it writes to the tap. */
static void test_tap(void **state)
{
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	Cam__Bus__Envelope *e = NULL;
	cam_log_bus *b;
	size_t n = 0;

	(void)state;
	assert_int_equal(cam_log_bus_new(0, 0, &b), 0);
	assert_int_equal(cam_log_start(64), 0);
	cam_log_set_tap(cam_log_bus_tap, b);
	cam_log(CAM_LOG_WARN, "test", "tapped line");
	for (int i = 0; i < 200 && cam_log_bus_pending(b) == 0; i++)
		nanosleep(&nap, NULL);
	cam_log_set_tap(NULL, NULL);
	cam_log(CAM_LOG_WARN, "test", "after the tap is gone");
	cam_log_stop();
	e = take(b, &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(e->logs->lines[0]->json, "\"message\":\"tapped line\""));
	assert_non_null(strstr(e->logs->lines[0]->json, "\"level\":\"WARN\""));
	cam_snapshot_unpacked_free(e);
	cam_log_bus_free(b);
}

/* The audit log's tap: each record, once on disk, joins the bus as an
 * audit line, chained fields and all. */
static void test_audit_tap(void **state)
{
	char dir[] = "/tmp/cam-logbus-XXXXXX", path[64], why[160];
	struct cam_audit_opts o = { .events = CAM_AUDIT_ALL };
	struct cam_audit_record r = { .event = "admin", .verb = "policy_update",
				      .principal = "root", .authorized = 1, .version = -1,
				      .size = -1 };
	Cam__Bus__Envelope *e;
	cam_log_bus *b;
	cam_audit *a;
	size_t n;
	bool found = false;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	assert_int_equal(cam_log_bus_new(0, 0, &b), 0);
	o.path = path;
	o.tap = cam_log_bus_audit_tap;
	o.tap_arg = b;
	assert_int_equal(cam_audit_new(&o, &a, why, sizeof(why)), 0);
	assert_int_equal(cam_audit_write(a, &r, true, why, sizeof(why)), 0);
	cam_audit_free(a);
	e = take(b, &n);
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		const Cam__Bus__LogLine *l = e->logs->lines[i];

		assert_int_equal(l->kind, CAM__BUS__LOG_KIND__LOG_KIND_AUDIT);
		assert_non_null(strstr(l->json, "\"prev\":\""));
		found = found || strstr(l->json, "\"verb\":\"policy_update\"");
	}
	assert_true(found);
	cam_snapshot_unpacked_free(e);
	cam_log_bus_free(b);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_in_order_with_kinds),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_batches_of_at_most_the_max),
		cmocka_unit_test(test_tap),
		cmocka_unit_test(test_audit_tap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
