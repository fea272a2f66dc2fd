/*
 * Unit tests of common/metrics_table.c (a module's families described in
 * one table) and of removable collectors (common/metrics.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/metrics.h"
#include "common/metrics_table.h"

static const char *const L_OP[] = { "op", NULL };

enum { M_CALLS, M_SIZE, NMETRICS };
static const struct cam_family_desc table[NMETRICS] = {
	[M_CALLS] = { .name = "t_calls_total", .help = "Calls.", .type = CAM_COUNTER,
		      .label_names = L_OP },
	[M_SIZE] = { .name = "t_size_bytes", .help = "Size.", .type = CAM_GAUGE,
		     .unit = "bytes" },
};

static int teardown(void **state)
{
	(void)state;
	cam_metrics_reset();
	return 0;
}

static void on_series(void *arg, const struct cam_family_info *info,
		      const struct cam_series_value *v)
{
	double *out = arg;

	if (strcmp(info->name, "t_size_bytes") == 0)
		*out = v->value;
}

static double size_value(void)
{
	double out = -1;
	struct cam_metrics_visitor vis = { NULL, on_series, &out };

	cam_metrics_collect(&vis);
	return out;
}

static void test_table_registers_each_family_once(void **state)
{
	cam_family *fam[NMETRICS], *again[NMETRICS];
	char why[128] = "";

	(void)state;
	assert_int_equal(cam_metrics_table_register(table, NMETRICS, fam, why, sizeof(why)), 0);
	assert_ptr_equal(cam_family_find("t_calls_total"), fam[M_CALLS]);
	assert_int_equal(cam_family_type(fam[M_SIZE]), CAM_GAUGE);
	assert_int_equal(cam_family_label_count(fam[M_CALLS]), 1);
	/* A module made again gets the same families back. */
	assert_int_equal(cam_metrics_table_register(table, NMETRICS, again, why, sizeof(why)), 0);
	assert_ptr_equal(again[M_CALLS], fam[M_CALLS]);
	assert_ptr_equal(again[M_SIZE], fam[M_SIZE]);
}

static void test_table_error_names_the_family(void **state)
{
	static const struct cam_family_desc bad[] = {
		{ .name = "t_ok", .help = "Fine.", .type = CAM_GAUGE },
		{ .name = "t bad", .help = "Not a name.", .type = CAM_GAUGE },
	};
	static const struct cam_family_desc clash[] = {
		{ .name = "t_ok", .help = "Same name, other type.", .type = CAM_COUNTER },
	};
	cam_family *fam[2];
	char why[128] = "";

	(void)state;
	assert_int_equal(cam_metrics_table_register(bad, 2, fam, why, sizeof(why)), CAM_EINVAL);
	assert_non_null(strstr(why, "t bad"));
	assert_int_equal(cam_metrics_table_register(clash, 1, fam, why, sizeof(why)), CAM_ETYPE);
	assert_non_null(strstr(why, "t_ok"));
}

struct slow {
	cam_series *s;
	atomic_int running, calls;
};

static void slow_collector(void *arg)
{
	struct slow *x = arg;
	struct timespec ts = { 0, 50 * 1000000L };

	atomic_store(&x->running, 1);
	nanosleep(&ts, NULL);
	cam_gauge_set(x->s, 7);
	atomic_fetch_add(&x->calls, 1);
	atomic_store(&x->running, 0);
}

static void *collect_thread(void *arg)
{
	(void)arg;
	size_value();
	return NULL;
}

/* Removal waits for a collect that runs the collector; after it, the
 * collector never runs again. */
static void test_remove_collector_waits(void **state)
{
	cam_family *fam[NMETRICS];
	struct slow x = { 0 };
	char why[128];
	pthread_t t;

	(void)state;
	assert_int_equal(cam_metrics_table_register(table, NMETRICS, fam, why, sizeof(why)), 0);
	x.s = cam_series_get(fam[M_SIZE], NULL);
	assert_int_equal(cam_metrics_add_collector(slow_collector, &x), 0);
	assert_int_equal(pthread_create(&t, NULL, collect_thread, NULL), 0);
	for (int i = 0; i < 2000 && !atomic_load(&x.running) && !atomic_load(&x.calls); i++) {
		struct timespec ts = { 0, 1000000L };
		nanosleep(&ts, NULL);
	}
	cam_metrics_remove_collector(slow_collector, &x);
	assert_int_equal(atomic_load(&x.running), 0);
	assert_int_equal(atomic_load(&x.calls), 1);
	pthread_join(t, NULL);
	assert_true(size_value() == 7);
	assert_int_equal(atomic_load(&x.calls), 1);
	/* Removing what is not there is harmless. */
	cam_metrics_remove_collector(slow_collector, &x);
}

static void nop_collector(void *arg)
{
	(void)arg;
}

static void test_collector_limit(void **state)
{
	int n = 0;

	(void)state;
	while (cam_metrics_add_collector(nop_collector, (void *)(intptr_t)(n + 1)) == 0 && n < 100)
		n++;
	assert_int_equal(n, 16);
	assert_int_equal(cam_metrics_add_collector(nop_collector, NULL), CAM_ELIMIT);
	cam_metrics_remove_collector(nop_collector, (void *)(intptr_t)3);
	assert_int_equal(cam_metrics_add_collector(nop_collector, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_table_registers_each_family_once, teardown),
		cmocka_unit_test_teardown(test_table_error_names_the_family, teardown),
		cmocka_unit_test_teardown(test_remove_collector_waits, teardown),
		cmocka_unit_test_teardown(test_collector_limit, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
