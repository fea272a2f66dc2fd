/* Unit tests of common/metrics.c: registration, limits, sharded counting. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/metrics.h"

static const char *const L_VERB[] = { "verb", NULL };

/* What a collect saw of one series. */
struct seen {
	const char *family;
	const char *label0; /* NULL: the series without labels */
	int found;
	double value;
	uint64_t buckets[CAM_METRICS_MAX_BUCKETS + 1];
	size_t nbuckets;
	double sum;
	uint64_t count;
	size_t family_series;
};

static void on_series(void *arg, const struct cam_family_info *info,
		      const struct cam_series_value *v)
{
	struct seen *s = arg;

	if (strcmp(info->name, s->family) != 0)
		return;
	if (s->label0 ? (info->nlabels == 0 || strcmp(v->label_values[0], s->label0))
		      : info->nlabels != 0)
		return;
	s->found = 1;
	s->value = v->value;
	s->sum = v->sum;
	s->count = v->count;
	s->nbuckets = info->type == CAM_HISTOGRAM ? info->nbuckets + 1 : 0;
	for (size_t i = 0; i < s->nbuckets; i++)
		s->buckets[i] = v->buckets[i];
}

static void on_family(void *arg, const struct cam_family_info *info)
{
	struct seen *s = arg;

	if (strcmp(info->name, s->family) == 0)
		s->family_series = info->nseries;
}

static struct seen collect_one(const char *family, const char *label0)
{
	struct seen s = { .family = family, .label0 = label0 };
	struct cam_metrics_visitor v = { on_family, on_series, &s };

	cam_metrics_collect(&v);
	return s;
}

static int teardown(void **state)
{
	(void)state;
	cam_metrics_reset();
	return 0;
}

static cam_family *reg(const char *name, enum cam_metric_type type,
		       const char *const *labels)
{
	cam_family *f = NULL;
	const char *why = NULL;
	int rc = cam_family_register(&(struct cam_family_desc){ .name = name,
								 .help = "h",
								 .type = type,
								 .label_names = labels },
				     &f, &why);
	assert_int_equal(rc, 0);
	assert_non_null(f);
	return f;
}

static void test_counter_single_thread(void **state)
{
	cam_family *f = reg("t_total", CAM_COUNTER, L_VERB);
	cam_series *s = cam_series_get(f, (const char *[]){ "ping" });

	(void)state;
	cam_counter_inc(s);
	cam_counter_add(s, 2.5);
	cam_counter_add(s, -1); /* counters only go up: ignored */
	cam_counter_add(s, NAN);
	assert_true(collect_one("t_total", "ping").value == 3.5);
	assert_ptr_equal(cam_series_get(f, (const char *[]){ "ping" }), s);
}

#define THREADS 8
#define PER_THREAD 200000

static void *count_worker(void *arg)
{
	cam_series *s = arg;

	for (int i = 0; i < PER_THREAD; i++)
		cam_counter_inc(s);
	return NULL;
}

static void test_many_threads_one_series_exact(void **state)
{
	cam_family *f = reg("t_threads_total", CAM_COUNTER, NULL);
	cam_series *s = cam_series_get(f, NULL);
	pthread_t t[THREADS];

	(void)state;
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, count_worker, s);
	/* Collect while they count: never more than the final total. */
	for (int i = 0; i < 20; i++)
		assert_true(collect_one("t_threads_total", NULL).value <=
			    (double)THREADS * PER_THREAD);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	/* The threads have exited: their shards were folded, nothing lost. */
	assert_true(collect_one("t_threads_total", NULL).value ==
		    (double)THREADS * PER_THREAD);
}

static void test_histogram_bucket_edges(void **state)
{
	static const double b[] = { 0.1, 1, 10 };
	cam_family *f = NULL;
	cam_series *s;
	struct seen seen;

	(void)state;
	assert_int_equal(cam_family_register(
				 &(struct cam_family_desc){ .name = "t_hist",
							    .type = CAM_HISTOGRAM,
							    .buckets = b,
							    .nbuckets = 3 },
				 &f, NULL),
			 0);
	s = cam_series_get(f, NULL);
	cam_histogram_observe(s, 0.1);  /* le is inclusive: bucket 0 */
	cam_histogram_observe(s, 0.05); /* bucket 0 */
	cam_histogram_observe(s, 1);    /* bucket 1 */
	cam_histogram_observe(s, 1.0000001); /* bucket 2 */
	cam_histogram_observe(s, 10);   /* bucket 2 */
	cam_histogram_observe(s, 11);   /* +Inf */
	cam_histogram_observe(s, INFINITY); /* +Inf */
	cam_histogram_observe(s, -5);   /* bucket 0 */
	seen = collect_one("t_hist", NULL);
	assert_int_equal(seen.nbuckets, 4);
	assert_int_equal(seen.buckets[0], 3);
	assert_int_equal(seen.buckets[1], 1);
	assert_int_equal(seen.buckets[2], 2);
	assert_int_equal(seen.buckets[3], 2);
	assert_int_equal(seen.count, 8);
	assert_true(isinf(seen.sum));
}

static void test_histogram_default_buckets(void **state)
{
	cam_family *f = reg("t_hist_default", CAM_HISTOGRAM, NULL);
	cam_series *s = cam_series_get(f, NULL);
	struct seen seen;

	(void)state;
	cam_histogram_observe(s, 0.0003);
	cam_histogram_observe(s, 0.0003);
	seen = collect_one("t_hist_default", NULL);
	assert_int_equal(seen.nbuckets, cam_metrics_default_nbuckets + 1);
	assert_int_equal(seen.buckets[3], 2); /* 0.00025 < v <= 0.0005 */
	assert_int_equal(seen.count, 2);
	assert_true(fabs(seen.sum - 0.0006) < 1e-12);
}

static void test_gauge_set_and_add(void **state)
{
	cam_family *f = reg("t_gauge", CAM_GAUGE, NULL);
	cam_series *s = cam_series_get(f, NULL);

	(void)state;
	cam_gauge_set(s, 10);
	cam_gauge_add(s, -3);
	assert_true(collect_one("t_gauge", NULL).value == 7);
	cam_gauge_set(s, 1);
	assert_true(collect_one("t_gauge", NULL).value == -2);
}

static int refused(const char *name, enum cam_metric_type type,
		   const char *const *labels, const double *buckets, size_t nb)
{
	cam_family *f = NULL;
	const char *why = NULL;
	int rc = cam_family_register(&(struct cam_family_desc){ .name = name,
								 .type = type,
								 .label_names = labels,
								 .buckets = buckets,
								 .nbuckets = nb },
				     &f, &why);
	if (rc)
		assert_non_null(why);
	return rc;
}

static void test_name_and_label_validation(void **state)
{
	static const double bad_b[] = { 1, 1 };
	static const double nan_b[] = { 1, NAN };

	(void)state;
	assert_int_equal(refused("", CAM_COUNTER, NULL, NULL, 0), CAM_EINVAL);
	assert_int_equal(refused("9abc", CAM_COUNTER, NULL, NULL, 0), CAM_EINVAL);
	assert_int_equal(refused("a-b", CAM_COUNTER, NULL, NULL, 0), CAM_EINVAL);
	assert_int_equal(refused("a b", CAM_COUNTER, NULL, NULL, 0), CAM_EINVAL);
	assert_int_equal(refused("ok_name", 7, NULL, NULL, 0), CAM_EINVAL);
	assert_int_equal(refused("ok_name", CAM_COUNTER,
				 (const char *[]){ "__reserved", NULL }, NULL, 0),
			 CAM_EINVAL);
	assert_int_equal(refused("ok_name", CAM_COUNTER,
				 (const char *[]){ "a:b", NULL }, NULL, 0),
			 CAM_EINVAL);
	assert_int_equal(refused("ok_name", CAM_COUNTER,
				 (const char *[]){ "x", "x", NULL }, NULL, 0),
			 CAM_EINVAL);
	assert_int_equal(refused("ok_hist", CAM_HISTOGRAM,
				 (const char *[]){ "le", NULL }, NULL, 0),
			 CAM_EINVAL);
	assert_int_equal(refused("ok_hist", CAM_HISTOGRAM, NULL, bad_b, 2), CAM_EINVAL);
	assert_int_equal(refused("ok_hist", CAM_HISTOGRAM, NULL, nan_b, 2), CAM_EINVAL);
	assert_null(cam_family_find("ok_name"));

	/* Colons are allowed in metric names, not in label names. */
	assert_int_equal(refused("ns:sub_total", CAM_COUNTER, NULL, NULL, 0), 0);
}

static void test_reregister_same_and_clash(void **state)
{
	cam_family *a = reg("t_same", CAM_COUNTER, L_VERB);

	(void)state;
	assert_ptr_equal(reg("t_same", CAM_COUNTER, L_VERB), a);
	assert_int_equal(refused("t_same", CAM_GAUGE, L_VERB, NULL, 0), CAM_ETYPE);
	assert_int_equal(refused("t_same", CAM_COUNTER, NULL, NULL, 0), CAM_ETYPE);
}

/* Families whose exposed names would meet are refused at registration
 * (OpenMetrics shows counter x_total as family x; a histogram x has
 * samples x_bucket, x_sum and x_count), so no scrape ever repeats one. */
static void test_exposed_names_clash(void **state)
{
	(void)state;
	reg("c_foo", CAM_GAUGE, NULL);
	assert_int_equal(refused("c_foo_total", CAM_COUNTER, NULL, NULL, 0), CAM_ETYPE);
	reg("c_bar_total", CAM_COUNTER, NULL);
	assert_int_equal(refused("c_bar", CAM_COUNTER, NULL, NULL, 0), CAM_ETYPE);
	assert_int_equal(refused("c_bar", CAM_GAUGE, NULL, NULL, 0), CAM_ETYPE);
	reg("c_lat", CAM_HISTOGRAM, NULL);
	assert_int_equal(refused("c_lat_count", CAM_GAUGE, NULL, NULL, 0), CAM_ETYPE);
	assert_int_equal(refused("c_lat_bucket", CAM_COUNTER, NULL, NULL, 0), CAM_ETYPE);
	assert_int_equal(refused("_total", CAM_COUNTER, NULL, NULL, 0), CAM_EINVAL);
	/* Look-alikes are fine. */
	reg("c_foo_totals", CAM_GAUGE, NULL);
	reg("c_lat_counts", CAM_GAUGE, NULL);
	reg("c_baz", CAM_COUNTER, NULL);
}

static void test_bad_label_values(void **state)
{
	cam_family *f = reg("t_values", CAM_COUNTER, L_VERB);
	char big[CAM_METRICS_MAX_LABEL_VALUE + 2];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_null(cam_series_get(f, (const char *[]){ big }));
	assert_null(cam_series_get(f, (const char *[]){ "\xc3\x28" }));
	assert_null(cam_series_get(f, (const char *[]){ NULL }));
	assert_null(cam_series_get(f, NULL));
	/* Quotes, backslashes, newlines and UTF-8 are fine as values. */
	assert_non_null(cam_series_get(f, (const char *[]){ "a\"b\\c\nd é" }));
}

static void test_series_limits_counted(void **state)
{
	cam_family *f = NULL;
	char name[32];
	struct seen seen;

	(void)state;
	cam_metrics_set_limits(5, 20000);
	f = reg("t_limited", CAM_COUNTER, L_VERB);
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		if (i < 5)
			assert_non_null(cam_series_get(f, (const char *[]){ name }));
		else
			assert_null(cam_series_get(f, (const char *[]){ name }));
	}
	/* An existing series is still handed out at the limit. */
	assert_non_null(cam_series_get(f, (const char *[]){ "v0" }));
	seen = collect_one("cam_os_metrics_series_rejected_total", "t_limited");
	assert_true(seen.found);
	assert_true(seen.value == 3);
	seen = collect_one("t_limited", "v0");
	assert_int_equal(seen.family_series, 5);
}

static void test_global_limit(void **state)
{
	cam_family *a, *b;
	size_t base;
	char name[32];
	int made = 0;

	(void)state;
	a = reg("t_ga", CAM_COUNTER, L_VERB);
	b = reg("t_gb", CAM_COUNTER, L_VERB);
	base = cam_metrics_series_count();
	cam_metrics_set_limits(1000, base + 10);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		made += cam_series_get(i % 2 ? a : b, (const char *[]){ name }) != NULL;
	}
	assert_int_equal(made, 10);
	assert_true(collect_one("cam_os_metrics_series_rejected_total", "t_ga").value +
			    collect_one("cam_os_metrics_series_rejected_total", "t_gb").value ==
		    10);
}

static void test_many_series_lookup_stable(void **state)
{
	cam_family *f = reg("t_many", CAM_COUNTER, L_VERB);
	cam_series *made[500];
	char name[32];

	(void)state;
	/* Enough series to grow the family's hash table several times. */
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		made[i] = cam_series_get(f, (const char *[]){ name });
		assert_non_null(made[i]);
		cam_counter_add(made[i], i);
	}
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		assert_ptr_equal(cam_series_get(f, (const char *[]){ name }), made[i]);
	}
	assert_true(collect_one("t_many", "v499").value == 499);
	assert_int_equal(collect_one("t_many", "v0").family_series, 500);
}

static void test_null_series_is_noop(void **state)
{
	(void)state;
	cam_counter_inc(NULL);
	cam_counter_add(NULL, 1);
	cam_gauge_set(NULL, 1);
	cam_gauge_add(NULL, 1);
	cam_histogram_observe(NULL, 1);
}

static int collector_calls;

static void collector(void *arg)
{
	collector_calls++;
	cam_gauge_set(arg, 42);
}

static void test_collector_runs_before_read(void **state)
{
	cam_family *f = reg("t_collected", CAM_GAUGE, NULL);

	(void)state;
	cam_metrics_add_collector(collector, cam_series_get(f, NULL));
	assert_true(collect_one("t_collected", NULL).value == 42);
	assert_int_equal(collector_calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_counter_single_thread, teardown),
		cmocka_unit_test_teardown(test_many_threads_one_series_exact, teardown),
		cmocka_unit_test_teardown(test_histogram_bucket_edges, teardown),
		cmocka_unit_test_teardown(test_histogram_default_buckets, teardown),
		cmocka_unit_test_teardown(test_gauge_set_and_add, teardown),
		cmocka_unit_test_teardown(test_name_and_label_validation, teardown),
		cmocka_unit_test_teardown(test_reregister_same_and_clash, teardown),
		cmocka_unit_test_teardown(test_exposed_names_clash, teardown),
		cmocka_unit_test_teardown(test_bad_label_values, teardown),
		cmocka_unit_test_teardown(test_series_limits_counted, teardown),
		cmocka_unit_test_teardown(test_global_limit, teardown),
		cmocka_unit_test_teardown(test_many_series_lookup_stable, teardown),
		cmocka_unit_test_teardown(test_null_series_is_noop, teardown),
		cmocka_unit_test_teardown(test_collector_runs_before_read, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
