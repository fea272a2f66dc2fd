/* Unit tests of common/metrics.c: registration, limits, refusal reasons, sharded
 * counting, native buckets (index, halving, threads). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <float.h>
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
#include "common/native_hist.h"

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

/* ---- rejection reasons ---- */

/* The value of cam_os_metrics_series_rejected_total{family, reason}. */
struct rejected_seen {
	const char *family, *reason;
	double value;
	int found;
};

static void on_rejected(void *arg, const struct cam_family_info *info,
			const struct cam_series_value *v)
{
	struct rejected_seen *r = arg;

	if (strcmp(info->name, "cam_os_metrics_series_rejected_total") != 0)
		return;
	assert_int_equal(info->nlabels, 2);
	assert_string_equal(info->label_names[1], "reason");
	if (strcmp(v->label_values[0], r->family) == 0 &&
	    strcmp(v->label_values[1], r->reason) == 0) {
		r->found = 1;
		r->value = v->value;
	}
}

static double rejected(const char *family, const char *reason)
{
	struct rejected_seen r = { family, reason, 0, 0 };
	struct cam_metrics_visitor v = { NULL, on_rejected, &r };

	cam_metrics_collect(&v);
	return r.found ? r.value : -1;
}

static void test_rejection_reasons(void **state)
{
	cam_family *f;

	(void)state;
	cam_metrics_set_limits(2, 20000);
	f = reg("t_reasons_total", CAM_COUNTER, L_VERB);
	assert_non_null(cam_series_get(f, (const char *[]){ "a" }));
	assert_non_null(cam_series_get(f, (const char *[]){ "b" }));
	assert_null(cam_series_get(f, (const char *[]){ "c" }));
	assert_null(cam_series_get(f, (const char *[]){ "\xff" })); /* not UTF-8 */
	assert_null(cam_series_get(f, (const char *[]){ "\xc3" }));
	assert_true(rejected("t_reasons_total", "series_limit") == 1);
	assert_true(rejected("t_reasons_total", "invalid_label_value") == 2);
	/* Callers outside metrics.c: a registered family keeps its name, any
	 * other name becomes "" so refused names never make new series. */
	cam_metrics_count_rejection("t_reasons_total", CAM_REJECT_RESERVED_NAME);
	cam_metrics_count_rejection("no_such_family", CAM_REJECT_FAMILY_LIMIT);
	cam_metrics_count_rejection("another_one", CAM_REJECT_FAMILY_LIMIT);
	cam_metrics_count_rejection(NULL, CAM_REJECT_INVALID_NAME);
	cam_metrics_count_rejection(NULL, (enum cam_reject_reason)99);
	assert_true(rejected("t_reasons_total", "reserved_name") == 1);
	assert_true(rejected("", "family_limit") == 2);
	assert_true(rejected("", "invalid_name") == 1);
	assert_true(rejected("", "invalid_value") == 1);
	assert_true(rejected("no_such_family", "family_limit") == -1);
	assert_string_equal(cam_reject_reason_name(CAM_REJECT_GLOBAL_LIMIT), "global_limit");
	assert_string_equal(cam_reject_reason_name((enum cam_reject_reason)99), "unknown");
	/* A refused series still counts under its family's last reason. */
	assert_null(cam_series_get(f, (const char *[]){ "d" }));
	assert_true(rejected("t_reasons_total", "series_limit") == 2);
}

/* ---- native buckets ---- */

static void test_native_index_edges(void **state)
{
	(void)state;
	/* Schema 3: bucket i is (2^((i-1)/8), 2^(i/8)]. */
	assert_int_equal(cam_native_index(1.0, 3), 0);
	assert_int_equal(cam_native_index(nextafter(1.0, 2), 3), 1);
	assert_int_equal(cam_native_index(nextafter(1.0, 0), 3), 0);
	assert_int_equal(cam_native_index(2.0, 3), 8);
	assert_int_equal(cam_native_index(nextafter(2.0, 3), 3), 9);
	assert_int_equal(cam_native_index(0.5, 3), -8);
	assert_int_equal(cam_native_index(1024.0, 3), 80);
	assert_int_equal(cam_native_index(0.001, 3), -79); /* 2^(-80/8) < 0.001 <= 2^(-79/8) */
	/* The edge 2^(1/8) belongs to bucket 1, the next double to bucket 2. */
	double e1 = cam_native_upper_bound(1, 3);
	assert_true(e1 > 1.0905 && e1 < 1.0906);
	assert_int_equal(cam_native_index(e1, 3), 1);
	assert_int_equal(cam_native_index(nextafter(e1, 2), 3), 2);
	assert_int_equal(cam_native_index(nextafter(e1, 0), 3), 1);
	/* Negative values: the same index, by |v|. */
	assert_int_equal(cam_native_index(-2.0, 3), 8);
	assert_int_equal(cam_native_index(-0.001, 3), -79);
	/* +-Inf: one past DBL_MAX's bucket (client_golang). */
	assert_int_equal(cam_native_index(DBL_MAX, 3), 8192);
	assert_int_equal(cam_native_index(INFINITY, 3), 8193);
	assert_int_equal(cam_native_index(-INFINITY, 3), 8193);
	/* Subnormals: 2^-1070 is a power of two. */
	assert_int_equal(cam_native_index(ldexp(1, -1070), 3), -1070 * 8);
	assert_int_equal(cam_native_index(ldexp(1, -1070), 0), -1070);
	/* Schema 0: (2^(i-1), 2^i]; schema -1: (4^(i-1), 4^i]; -4: base 2^16. */
	assert_int_equal(cam_native_index(1.0, 0), 0);
	assert_int_equal(cam_native_index(2.0, 0), 1);
	assert_int_equal(cam_native_index(3.0, 0), 2);
	assert_int_equal(cam_native_index(4.0, 0), 2);
	assert_int_equal(cam_native_index(0.75, 0), 0);
	assert_int_equal(cam_native_index(4.0, -1), 1);
	assert_int_equal(cam_native_index(nextafter(4.0, 5), -1), 2);
	assert_int_equal(cam_native_index(1.0, -1), 0);
	assert_int_equal(cam_native_index(0.25, -1), -1);
	assert_int_equal(cam_native_index(nextafter(0.25, 1), -1), 0);
	assert_int_equal(cam_native_index(65536.0, -4), 1);
	assert_int_equal(cam_native_index(65537.0, -4), 2);
	assert_int_equal(cam_native_index(1.0, -4), 0);
	/* Schema 8: the first bucket above 1. */
	assert_int_equal(cam_native_index(nextafter(1.0, 2), 8), 1);
	assert_int_equal(cam_native_index(2.0, 8), 256);
	/* Bounds: powers of two exactly. */
	assert_true(cam_native_upper_bound(8, 3) == 2.0);
	assert_true(cam_native_upper_bound(-8, 3) == 0.5);
	assert_true(cam_native_upper_bound(0, 3) == 1.0);
	assert_true(cam_native_upper_bound(3, -2) == 4096.0);
}

/* Every value lies in its bucket: bound(i-1) < v <= bound(i), at every schema. */
static void test_native_index_matches_bounds(void **state)
{
	uint64_t x = 88172645463325252ull;

	(void)state;
	for (int schema = CAM_NATIVE_SCHEMA_MIN; schema <= CAM_NATIVE_SCHEMA_MAX; schema++)
		for (int i = 0; i < 20000; i++) {
			double v;
			int32_t k;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			v = ldexp((double)(x >> 11) / 9007199254740992.0 + 0.5, (int)(x % 120) - 60);
			k = cam_native_index(v, schema);
			assert_true(cam_native_upper_bound(k - 1, schema) < v);
			assert_true(v <= cam_native_upper_bound(k, schema));
		}
}

/* What a collect saw of one native series. */
struct native_seen {
	const char *family;
	int found;
	uint64_t count;
	double sum;
	int schema;
	uint64_t zero;
	size_t npos, nneg;
	int32_t pos_index[4096], neg_index[4096];
	uint64_t pos_count[4096], neg_count[4096];
};

static void on_native(void *arg, const struct cam_family_info *info,
		      const struct cam_series_value *v)
{
	struct native_seen *n = arg;
	const struct cam_native_value *nv = v->native;

	if (strcmp(info->name, n->family) != 0)
		return;
	assert_non_null(info->native);
	assert_non_null(nv);
	n->found = 1;
	n->count = v->count;
	n->sum = v->sum;
	n->schema = nv->schema;
	n->zero = nv->zero_count;
	n->npos = nv->npos;
	n->nneg = nv->nneg;
	assert_true(nv->npos <= 4096 && nv->nneg <= 4096);
	for (size_t i = 0; i < nv->npos; i++) {
		n->pos_index[i] = nv->pos_index[i];
		n->pos_count[i] = nv->pos_count[i];
		assert_true(nv->pos_count[i] > 0);
		if (i)
			assert_true(nv->pos_index[i] > nv->pos_index[i - 1]);
	}
	for (size_t i = 0; i < nv->nneg; i++) {
		n->neg_index[i] = nv->neg_index[i];
		n->neg_count[i] = nv->neg_count[i];
		if (i)
			assert_true(nv->neg_index[i] > nv->neg_index[i - 1]);
	}
}

static struct native_seen *collect_native(const char *family)
{
	static struct native_seen n;
	struct cam_metrics_visitor v = { NULL, on_native, &n };

	memset(&n, 0, sizeof(n));
	n.family = family;
	cam_metrics_collect(&v);
	assert_true(n.found);
	return &n;
}

static uint64_t native_total(const struct native_seen *n)
{
	uint64_t t = n->zero;

	for (size_t i = 0; i < n->npos; i++)
		t += n->pos_count[i];
	for (size_t i = 0; i < n->nneg; i++)
		t += n->neg_count[i];
	return t;
}

static cam_series *native_series(const char *name, int schema, double zt, uint32_t max)
{
	struct cam_native_opts o = { schema, zt, max };
	cam_family *f = NULL;

	assert_int_equal(cam_family_register_native(
				 &(struct cam_family_desc){ .name = name, .help = "h",
							    .type = CAM_HISTOGRAM },
				 &o, &f, NULL), 0);
	return cam_series_get(f, NULL);
}

static void test_native_observe(void **state)
{
	cam_series *s = native_series("t_native_seconds", 3, 0.001, 160);
	struct native_seen *n;

	(void)state;
	cam_histogram_observe(s, 1.0);
	cam_histogram_observe(s, 1.0);
	cam_histogram_observe(s, 2.0);
	cam_histogram_observe(s, 0);      /* zero bucket */
	cam_histogram_observe(s, 0.001);  /* at the threshold: zero bucket */
	cam_histogram_observe(s, -0.0005);
	cam_histogram_observe(s, nextafter(0.001, 1)); /* just above: a bucket */
	cam_histogram_observe(s, -4.0);   /* negative bucket 16 */
	cam_histogram_observe(s, INFINITY);
	cam_histogram_observe(s, NAN);    /* count and sum only */
	n = collect_native("t_native_seconds");
	assert_int_equal(n->count, 10);
	assert_true(isnan(n->sum));
	assert_int_equal(n->schema, 3);
	assert_int_equal(n->zero, 3);
	assert_int_equal(n->nneg, 1);
	assert_int_equal(n->neg_index[0], 16);
	assert_int_equal(n->neg_count[0], 1);
	assert_int_equal(n->npos, 4);
	assert_int_equal(n->pos_index[0], -79);
	assert_int_equal(n->pos_index[1], 0);
	assert_int_equal(n->pos_count[1], 2);
	assert_int_equal(n->pos_index[2], 8);
	assert_int_equal(n->pos_index[3], 8193);
	assert_int_equal(native_total(n), n->count - 1); /* the NaN */
}

/* Past the bucket limit the resolution halves, and no count is lost. */
static void test_native_resolution_halving(void **state)
{
	cam_series *s = native_series("t_halving_seconds", 3, 0, 4);
	struct native_seen *n;
	uint64_t per_bucket[64] = { 0 };

	(void)state;
	/* Four buckets at schema 3: 1, 2^(1/8), 2^(2/8), 2^(3/8): fits. */
	for (int i = 0; i < 4; i++)
		cam_histogram_observe(s, cam_native_upper_bound(i, 3));
	n = collect_native("t_halving_seconds");
	assert_int_equal(n->schema, 3);
	assert_int_equal(n->npos, 4);
	/* A fifth: schema 2, where those merge into buckets 0, 1, 1, 2 (and the
	 * new value 2^(4/8) into bucket 2). */
	cam_histogram_observe(s, cam_native_upper_bound(4, 3));
	n = collect_native("t_halving_seconds");
	assert_int_equal(n->schema, 2);
	assert_int_equal(n->npos, 3);
	assert_int_equal(n->pos_index[0], 0);
	assert_int_equal(n->pos_count[0], 1);
	assert_int_equal(n->pos_index[1], 1);
	assert_int_equal(n->pos_count[1], 2);
	assert_int_equal(n->pos_index[2], 2);
	assert_int_equal(n->pos_count[2], 2);
	/* Values spread over 2^-30 .. 2^30 fit 4 buckets at schema -4 only
	 * (base 2^16: buckets -1..2). */
	for (int e = -30; e <= 30; e++)
		cam_histogram_observe(s, ldexp(1.0, e));
	n = collect_native("t_halving_seconds");
	assert_true(n->npos <= 4);
	assert_int_equal(n->schema, -4);
	assert_int_equal(native_total(n), 5 + 61);
	assert_int_equal(n->count, 5 + 61);
	/* Each value is in the bucket its schema says. */
	for (int e = -30; e <= 30; e++)
		per_bucket[cam_native_index(ldexp(1.0, e), -4) + 32]++;
	for (int i = 0; i < 5; i++)
		per_bucket[cam_native_index(cam_native_upper_bound(i, 3), -4) + 32]++;
	for (size_t i = 0; i < n->npos; i++)
		assert_int_equal(n->pos_count[i], per_bucket[n->pos_index[i] + 32]);
}

/* Far-apart values that fit the limit keep the resolution (overflow slots
 * and a moving window), even when the window has to move. */
static void test_native_window_moves(void **state)
{
	cam_series *s = native_series("t_window_seconds", 3, 0, 160);
	struct native_seen *n;

	(void)state;
	for (int i = 0; i < 100; i++)
		cam_histogram_observe(s, 1e-6 * (1 + i * 0.01));
	for (int i = 0; i < 100; i++)
		cam_histogram_observe(s, 100 * (1 + i * 0.01)); /* 2^27 times larger */
	cam_histogram_observe(s, 1e300);
	n = collect_native("t_window_seconds");
	assert_int_equal(n->schema, 3);
	assert_int_equal(n->count, 201);
	assert_int_equal(native_total(n), 201);
	assert_int_equal(n->pos_index[0], cam_native_index(1e-6, 3));
	assert_int_equal(n->pos_index[n->npos - 1], cam_native_index(1e300, 3));
	/* Drift upwards bucket after bucket: the window follows. */
	for (int i = 0; i < 400; i++)
		cam_histogram_observe(s, ldexp(1.0, 40 + i / 8));
	n = collect_native("t_window_seconds");
	assert_int_equal(native_total(n), 601);
	assert_true(n->npos <= 160);
}

#define NATIVE_THREADS 4
#define NATIVE_PER_THREAD 100000

static void *native_worker(void *arg)
{
	cam_series *s = arg;
	uint64_t x = (uint64_t)(uintptr_t)&x;

	for (int i = 0; i < NATIVE_PER_THREAD; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		/* Spread over 2^-20 .. 2^20: past 160 buckets at schema 3. */
		cam_histogram_observe(s, ldexp(1.0 + (double)(x % 1000) / 1000, (int)(x % 40) - 20));
	}
	return NULL;
}

/* Threads halve on their own and the collect merges them: every count
 * kept, while collects run meanwhile, and after the threads exit. */
static void test_native_threads_exact(void **state)
{
	cam_series *s = native_series("t_native_threads_seconds", 8, 0, 160);
	pthread_t t[NATIVE_THREADS];
	struct native_seen *n;

	(void)state;
	for (int i = 0; i < NATIVE_THREADS; i++)
		pthread_create(&t[i], NULL, native_worker, s);
	for (int i = 0; i < 20; i++) {
		n = collect_native("t_native_threads_seconds");
		assert_int_equal(native_total(n), n->count); /* one consistent copy */
		assert_true(n->npos <= 160);
	}
	for (int i = 0; i < NATIVE_THREADS; i++)
		pthread_join(t[i], NULL);
	n = collect_native("t_native_threads_seconds");
	assert_int_equal(n->count, (uint64_t)NATIVE_THREADS * NATIVE_PER_THREAD);
	assert_int_equal(native_total(n), n->count);
	assert_true(n->npos <= 160);
	assert_true(n->schema < 8 && n->schema >= 0);
}

static void test_native_registration(void **state)
{
	struct cam_native_opts bad[] = { { 9, 0, 160 }, { -5, 0, 160 }, { 3, -1, 160 },
					 { 3, NAN, 160 }, { 3, INFINITY, 160 }, { 3, 0, 0 },
					 { 3, 0, CAM_NATIVE_MAX_BUCKETS + 1 } };
	cam_family *f;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(cam_family_register_native(
					 &(struct cam_family_desc){ .name = "t_bad_native",
								    .type = CAM_HISTOGRAM },
					 &bad[i], &f, &why), CAM_EINVAL);
		assert_non_null(why);
	}
	assert_int_equal(cam_family_register_native(
				 &(struct cam_family_desc){ .name = "t_native_counter_total",
							    .type = CAM_COUNTER },
				 &cam_native_defaults, &f, &why), CAM_EINVAL);
	assert_null(cam_family_find("t_bad_native"));
	assert_int_equal(cam_family_register_native(
				 &(struct cam_family_desc){ .name = "t_n_seconds",
							    .type = CAM_HISTOGRAM },
				 &cam_native_defaults, &f, NULL), 0);
	/* The same name classic-only is another shape; native again is fine. */
	assert_int_equal(cam_family_register(
				 &(struct cam_family_desc){ .name = "t_n_seconds",
							    .type = CAM_HISTOGRAM },
				 &f, &why), CAM_ETYPE);
	assert_int_equal(cam_family_register_native(
				 &(struct cam_family_desc){ .name = "t_n_seconds",
							    .type = CAM_HISTOGRAM },
				 &cam_native_defaults, &f, NULL), 0);
	assert_true(cam_family_native(f));
	assert_false(cam_family_native(reg("t_classic_seconds", CAM_HISTOGRAM, NULL)));
	/* Or in the description, as the modules' static tables do. */
	assert_int_equal(cam_family_register(
				 &(struct cam_family_desc){ .name = "t_desc_seconds",
							    .type = CAM_HISTOGRAM,
							    .native = &cam_native_defaults },
				 &f, NULL), 0);
	assert_true(cam_family_native(f));
	assert_int_equal(cam_family_register(
				 &(struct cam_family_desc){ .name = "t_desc_total", .type = CAM_COUNTER,
							    .native = &cam_native_defaults },
				 &f, &why), CAM_EINVAL);
	assert_int_equal(cam_native_defaults.schema, 3);
	assert_int_equal(cam_native_defaults.max_buckets, 160);
}

/* Native families find classic buckets through the native index: the
 * classic buckets agree with a classic-only family's for the same values,
 * bound edges included, at every schema. */
static void test_native_classic_buckets_agree(void **state)
{
	static const double bounds[] = { 1e-6, 0.001, 0.00105, 0.0011, 0.5, 1, 2, 1000 };
	uint64_t x = 2463534242ull;

	(void)state;
	for (int schema = CAM_NATIVE_SCHEMA_MIN; schema <= CAM_NATIVE_SCHEMA_MAX; schema += 4) {
		struct cam_native_opts o = { schema, 1e-9, 160 };
		char nname[32], cname[32];
		cam_family *nf, *cf;
		cam_series *ns, *cs;
		struct seen a, b;

		snprintf(nname, sizeof(nname), "t_agree_n%d", schema + 4);
		snprintf(cname, sizeof(cname), "t_agree_c%d", schema + 4);
		assert_int_equal(cam_family_register_native(
					 &(struct cam_family_desc){ .name = nname, .type = CAM_HISTOGRAM,
								    .buckets = bounds, .nbuckets = 8 },
					 &o, &nf, NULL), 0);
		assert_int_equal(cam_family_register(
					 &(struct cam_family_desc){ .name = cname, .type = CAM_HISTOGRAM,
								    .buckets = bounds, .nbuckets = 8 },
					 &cf, NULL), 0);
		ns = cam_series_get(nf, NULL);
		cs = cam_series_get(cf, NULL);
		for (size_t i = 0; i < 8; i++) {
			double edge[] = { bounds[i], nextafter(bounds[i], 0), nextafter(bounds[i], 1e9) };
			for (int k = 0; k < 3; k++) {
				cam_histogram_observe(ns, edge[k]);
				cam_histogram_observe(cs, edge[k]);
			}
		}
		for (int i = 0; i < 20000; i++) {
			double v;
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			v = ldexp((double)(x >> 11) / 9007199254740992.0 + 0.5, (int)(x % 44) - 30);
			cam_histogram_observe(ns, v);
			cam_histogram_observe(cs, v);
		}
		cam_histogram_observe(ns, 1e-12); /* zero bucket, classic bucket 0 */
		cam_histogram_observe(cs, 1e-12);
		cam_histogram_observe(ns, INFINITY);
		cam_histogram_observe(cs, INFINITY);
		a = collect_one(nname, NULL);
		b = collect_one(cname, NULL);
		assert_int_equal(a.nbuckets, 9);
		for (size_t i = 0; i < 9; i++)
			assert_int_equal(a.buckets[i], b.buckets[i]);
		assert_true(a.sum == b.sum || (isinf(a.sum) && isinf(b.sum)));
	}
}

/* Metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]* without a __ prefix; both at most
 * CAM_METRICS_MAX_NAME characters. */
static void test_name_rules(void **state)
{
	char longest[CAM_METRICS_MAX_NAME + 2];

	(void)state;
	assert_true(cam_metric_name_valid("a"));
	assert_true(cam_metric_name_valid("_x:y_total9"));
	assert_true(cam_metric_name_valid(":a"));
	assert_true(cam_metric_name_valid("__reserved_is_fine_for_metrics"));
	assert_false(cam_metric_name_valid(NULL));
	assert_false(cam_metric_name_valid(""));
	assert_false(cam_metric_name_valid("9a"));
	assert_false(cam_metric_name_valid("a-b"));
	assert_false(cam_metric_name_valid("a b"));
	assert_false(cam_metric_name_valid("caf\xc3\xa9"));
	assert_true(cam_label_name_valid("app"));
	assert_true(cam_label_name_valid("_a1"));
	assert_false(cam_label_name_valid("a:b"));
	assert_false(cam_label_name_valid("__name__"));
	assert_false(cam_label_name_valid("1a"));
	assert_false(cam_label_name_valid(""));
	assert_false(cam_label_name_valid(NULL));
	memset(longest, 'a', CAM_METRICS_MAX_NAME);
	longest[CAM_METRICS_MAX_NAME] = '\0';
	assert_true(cam_metric_name_valid(longest));
	assert_true(cam_label_name_valid(longest));
	longest[CAM_METRICS_MAX_NAME] = 'a';
	longest[CAM_METRICS_MAX_NAME + 1] = '\0';
	assert_false(cam_metric_name_valid(longest));
	assert_false(cam_label_name_valid(longest));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_rules),
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
		cmocka_unit_test_teardown(test_rejection_reasons, teardown),
		cmocka_unit_test_teardown(test_native_index_edges, teardown),
		cmocka_unit_test_teardown(test_native_index_matches_bounds, teardown),
		cmocka_unit_test_teardown(test_native_observe, teardown),
		cmocka_unit_test_teardown(test_native_resolution_halving, teardown),
		cmocka_unit_test_teardown(test_native_window_moves, teardown),
		cmocka_unit_test_teardown(test_native_threads_exact, teardown),
		cmocka_unit_test_teardown(test_native_registration, teardown),
		cmocka_unit_test_teardown(test_native_classic_buckets_agree, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
