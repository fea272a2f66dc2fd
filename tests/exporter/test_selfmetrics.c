/*
 * Tests of exporter/selfmetrics.c: the families are registered once and
 * again, only they are served, and they mirror the subscriber's state.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "common/metrics.h"
#include "common/snapshot.h"
#include "exporter/selfmetrics.h"

static const char *const owned[] = {
	"cam_os_kernel_up",
	"cam_os_exporter_snapshots_received_total",
	"cam_os_exporter_decode_errors_total",
	"cam_os_exporter_snapshot_age_seconds",
	"cam_os_exporter_last_snapshot_sequence",
	"cam_os_exporter_scrape_duration_seconds",
	"cam_os_exporter_scrapes_total",
	"cam_os_exporter_family_conflicts_total",
	"cam_os_exporter_log_lines_dropped_total",
};
#define NOWNED (sizeof(owned) / sizeof(owned[0]))

static int reset(void **state)
{
	(void)state;
	cam_metrics_reset();
	return 0;
}

static const Cam__Bus__Family *find(const Cam__Bus__Snapshot *s, size_t n,
				    const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s->families[i]->name, name) == 0)
			return s->families[i];
	return NULL;
}

static double value_of(const Cam__Bus__Snapshot *s, size_t n, const char *name)
{
	const Cam__Bus__Family *f = find(s, n, name);

	assert_non_null(f);
	assert_int_equal(f->n_series, 1);
	return f->series[0]->value;
}

static void test_register_twice(void **state)
{
	struct cam_selfmetrics a, b;

	(void)state;
	assert_int_equal(cam_selfmetrics_register(&a), 0);
	assert_int_equal(cam_selfmetrics_register(&b), 0);
	assert_ptr_equal(a.kernel_up, b.kernel_up);
	assert_non_null(a.received);
	assert_non_null(a.decode_errors);
	assert_non_null(a.age);
	assert_non_null(a.last_sequence);
	assert_non_null(a.conflicts);
	assert_non_null(a.log_dropped);
	assert_non_null(a.scrape_duration);
	assert_non_null(a.scrapes[CAM_SCRAPE_IDENTITY]);
	assert_non_null(a.scrapes[CAM_SCRAPE_GZIP]);
}

static void test_owns(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NOWNED; i++)
		assert_true(cam_selfmetrics_owns(owned[i]));
	assert_false(cam_selfmetrics_owns("cam_os_metrics_series_rejected_total"));
	assert_false(cam_selfmetrics_owns("cam_os_syscall_total"));
	assert_false(cam_selfmetrics_owns("process_cpu_seconds_total"));
}

/* Other families of the registry (common code's) go behind the owned ones. */
static void test_snapshot_partition(void **state)
{
	struct cam_selfmetrics m;
	struct cam_family_desc other = {
		.name = "other_things_total", .help = "x", .type = CAM_COUNTER,
	};
	cam_family *f;
	Cam__Bus__Snapshot *s;
	size_t n, i;

	(void)state;
	assert_int_equal(cam_family_register(&other, &f, NULL), 0);
	cam_counter_inc(cam_series_get(f, NULL));
	assert_int_equal(cam_selfmetrics_register(&m), 0);
	s = cam_selfmetrics_snapshot(&n);
	assert_int_equal(n, NOWNED);
	assert_true(s->n_families > n);
	for (i = 0; i < n; i++)
		assert_true(cam_selfmetrics_owns(s->families[i]->name));
	for (i = n; i < s->n_families; i++)
		assert_false(cam_selfmetrics_owns(s->families[i]->name));
	assert_non_null(find(s, s->n_families, "other_things_total"));
	cam_snapshot_free(s);
}

static void test_update_mirrors_state(void **state)
{
	struct cam_selfmetrics m;
	struct cam_subscriber_stats st = {
		.received = 12, .decode_errors = 3, .instances = 2,
		.last_sequence = 99,
	};
	Cam__Bus__Snapshot *s;
	size_t n;

	(void)state;
	assert_int_equal(cam_selfmetrics_register(&m), 0);

	cam_selfmetrics_update(&m, &st, CAM_KERNEL_FRESH, 0.25);
	s = cam_selfmetrics_snapshot(&n);
	assert_true(value_of(s, n, "cam_os_kernel_up") == 1);
	assert_true(value_of(s, n, "cam_os_exporter_snapshots_received_total") == 12);
	assert_true(value_of(s, n, "cam_os_exporter_decode_errors_total") == 3);
	assert_true(value_of(s, n, "cam_os_exporter_snapshot_age_seconds") == 0.25);
	assert_true(value_of(s, n, "cam_os_exporter_last_snapshot_sequence") == 99);
	cam_snapshot_free(s);

	cam_selfmetrics_update(&m, &st, CAM_KERNEL_STALE, 7.5);
	s = cam_selfmetrics_snapshot(&n);
	assert_true(value_of(s, n, "cam_os_kernel_up") == 0);
	assert_true(value_of(s, n, "cam_os_exporter_snapshot_age_seconds") == 7.5);
	cam_snapshot_free(s);

	cam_selfmetrics_update(&m, &st, CAM_KERNEL_ABSENT, 0);
	s = cam_selfmetrics_snapshot(&n);
	assert_true(value_of(s, n, "cam_os_kernel_up") == 0);
	assert_true(isinf(value_of(s, n, "cam_os_exporter_snapshot_age_seconds")));
	cam_snapshot_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_register_twice, reset),
		cmocka_unit_test_setup(test_owns, reset),
		cmocka_unit_test_setup(test_snapshot_partition, reset),
		cmocka_unit_test_setup(test_update_mirrors_state, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
