/*
 * Tests of exporter/render.c: Prometheus text and OpenMetrics output of
 * hand-built snapshots against golden files in tests/exporter/golden/, the
 * number formatter, conflicts between snapshots, and the speed target
 * (10k series in 10 ms).
 *
 * Run from the repository root. CAM_UPDATE_GOLDEN=1 rewrites the golden
 * files from the current output (review the diff before committing).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exporter/render.h"
#include "tests/exporter/fixture.h"

#define GOLDEN_DIR "tests/exporter/golden/"

#define COUNTER CAM__BUS__METRIC_TYPE__COUNTER
#define GAUGE CAM__BUS__METRIC_TYPE__GAUGE
#define HISTOGRAM CAM__BUS__METRIC_TYPE__HISTOGRAM
#define UNTYPED CAM__BUS__METRIC_TYPE__METRIC_TYPE_UNSPECIFIED

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static char *render(const Cam__Bus__Snapshot *const *snaps, size_t n,
		    enum cam_render_format fmt, struct cam_render_result *res)
{
	struct cam_render_buf b;
	char *out;

	cam_render_buf_init(&b, 16);
	cam_render(&b, fmt, snaps, n, res);
	out = malloc(b.len + 1);
	assert_non_null(out);
	memcpy(out, b.data, b.len);
	out[b.len] = '\0';
	cam_render_buf_free(&b);
	return out;
}

static char *render1(const Cam__Bus__Snapshot *s, enum cam_render_format fmt)
{
	const Cam__Bus__Snapshot *snaps[] = {s};

	return render(snaps, 1, fmt, NULL);
}

/* Compares text with the golden file name (or rewrites it on request). */
static void check_golden(const char *name, const char *text)
{
	char path[256], actual[300];
	char *want;
	size_t len = 0;
	FILE *f;

	snprintf(path, sizeof(path), GOLDEN_DIR "%s", name);
	if (getenv("CAM_UPDATE_GOLDEN")) {
		f = fopen(path, "wb");
		assert_non_null(f);
		fputs(text, f);
		fclose(f);
		return;
	}
	want = fx_read_file(path, &len);
	if (!want)
		fail_msg("cannot read %s (run from the repository root)", path);
	if (strcmp(want, text) != 0) {
		snprintf(actual, sizeof(actual), "/tmp/%s.actual", name);
		f = fopen(actual, "wb");
		if (f) {
			fputs(text, f);
			fclose(f);
		}
		free(want);
		fail_msg("output differs from %s; got %s", path, actual);
	}
	free(want);
}

static Cam__Bus__Snapshot *counters_and_gauges(void)
{
	Cam__Bus__Snapshot *s = fx_snapshot("k1", 1);
	Cam__Bus__Family *f;

	f = fx_family(s, "cam_os_syscall_total", "Syscalls executed.", COUNTER,
		      L("verb"));
	fx_series(f, L("ping"), 42);
	fx_series(f, L("think"), 7);
	f = fx_family(s, "cam_os_memory_context_versions_total",
		      "Context versions written.", COUNTER, NULL);
	fx_series(f, NULL, 0);
	f = fx_family(s, "cam_os_scheduler_queue_size", "Tasks queued.", GAUGE,
		      L("class"));
	fx_series(f, L("batch"), 3);
	fx_series(f, L("interactive"), -1.5);
	/* No series: left out. */
	fx_family(s, "cam_os_security_rate_limit_hits_total", "Rate limit hits.",
		  COUNTER, NULL);
	f = fx_family(s, "custom_counter", "", COUNTER, L("app", "env"));
	fx_series(f, L("myapp", "prod"), 1);
	f = fx_family(s, "mystery", "Untyped.", UNTYPED, NULL);
	fx_series(f, NULL, 0.25);
	return s;
}

static void test_counters_and_gauges(void **state)
{
	Cam__Bus__Snapshot *s = counters_and_gauges();
	char *text = render1(s, CAM_RENDER_TEXT);

	(void)state;
	check_golden("counters_gauges.prom", text);
	free(text);
	fx_free(s);
}

static Cam__Bus__Snapshot *histograms(void)
{
	static const double bounds[] = {0.005, 0.01, 0.025, 0.1, 1, 2.5, 10};
	static const uint64_t c1[] = {1, 0, 2, 3, 0, 0, 4, 5};
	static const uint64_t c2[] = {0, 0, 0, 0, 0, 0, 0, 0};
	static const double pbounds[] = {1, 2, 5};
	static const uint64_t c3[] = {10, 20, 30, 40};
	Cam__Bus__Snapshot *s = fx_snapshot("k1", 1);
	Cam__Bus__Family *f;

	f = fx_family(s, "cam_os_syscall_duration_seconds",
		      "Syscall execution time.", HISTOGRAM, L("verb"));
	fx_unit(f, "seconds");
	fx_bounds(f, sizeof(bounds) / sizeof(bounds[0]), bounds);
	fx_hseries(f, L("ping"), c1, 61.625);
	fx_hseries(f, L("think"), c2, 0);
	f = fx_family(s, "cam_os_scheduler_priority_distribution",
		      "Task priorities.", HISTOGRAM, NULL);
	fx_bounds(f, 3, pbounds);
	fx_hseries(f, NULL, c3, 0.1 + 0.2);
	return s;
}

/* Buckets are cumulative, end with +Inf, and _count equals it. */
static void test_histogram_buckets(void **state)
{
	Cam__Bus__Snapshot *s = histograms();
	char *text = render1(s, CAM_RENDER_TEXT);

	(void)state;
	check_golden("histogram.prom", text);
	assert_non_null(strstr(text, "cam_os_syscall_duration_seconds_bucket"
				     "{verb=\"ping\",le=\"+Inf\"} 15\n"));
	assert_non_null(strstr(text, "cam_os_syscall_duration_seconds_count"
				     "{verb=\"ping\"} 15\n"));
	assert_non_null(strstr(text, "cam_os_scheduler_priority_distribution"
				     "_bucket{le=\"5\"} 60\n"));
	free(text);
	fx_free(s);
}

/* An exemplar goes on the bucket holding its value, in OpenMetrics only. */
static void test_exemplar(void **state)
{
	Cam__Bus__Snapshot *s = fx_snapshot("k1", 1);
	const double bounds[] = { 0.001, 0.01, 0.1 };
	const uint64_t counts[] = { 3, 2, 0, 0 };
	Cam__Bus__Family *f;
	Cam__Bus__Series *se;
	char *text;

	(void)state;
	f = fx_family(s, "cam_os_syscall_duration_seconds", "", HISTOGRAM, L("verb"));
	fx_bounds(f, 3, bounds);
	se = fx_hseries(f, L("ping"), counts, 0.02);
	se->exemplar = malloc(sizeof(*se->exemplar));
	assert_non_null(se->exemplar);
	cam__bus__exemplar__init(se->exemplar);
	se->exemplar->trace_id = fx_strdup("0af7651916cd43dd8448eb211c80319c");
	se->exemplar->span_id = fx_strdup("b7ad6b7169203331");
	se->exemplar->value = 0.0042;
	se->exemplar->timestamp_ms = 1700000000123;
	text = render1(s, CAM_RENDER_OPENMETRICS);
	assert_non_null(strstr(text,
		"cam_os_syscall_duration_seconds_bucket{verb=\"ping\",le=\"0.01\"} 5 "
		"# {trace_id=\"0af7651916cd43dd8448eb211c80319c\",span_id=\"b7ad6b7169203331\"} "
		"0.0042 1700000000.123\n"));
	assert_null(strstr(strstr(text, " # {") + 1, " # {")); /* on one line only */
	free(text);
	text = render1(s, CAM_RENDER_TEXT);
	assert_null(strstr(text, " # {"));
	free(text);
	fx_free(s);
}

static Cam__Bus__Snapshot *escapes(void)
{
	Cam__Bus__Snapshot *s = fx_snapshot("k1", 1);
	Cam__Bus__Family *f;

	f = fx_family(s, "escape_test_total",
		      "Help with a \\ backslash, a \"quote\"\nand a newline.",
		      COUNTER, L("path", "msg"));
	fx_series(f, L("C:\\dir\\file", "say \"hi\"\nbye"), 1);
	fx_series(f, L("", "plain"), 2);
	return s;
}

static void test_label_and_help_escaping(void **state)
{
	Cam__Bus__Snapshot *s = escapes();
	char *text = render1(s, CAM_RENDER_TEXT);

	(void)state;
	check_golden("escaping.prom", text);
	free(text);
	fx_free(s);
}

static Cam__Bus__Snapshot *special_values(void)
{
	Cam__Bus__Snapshot *s = fx_snapshot("k1", 1);
	Cam__Bus__Family *f;

	f = fx_family(s, "special_values", "Values that need words.", GAUGE,
		      L("case"));
	fx_series(f, L("nan"), NAN);
	fx_series(f, L("pos_inf"), INFINITY);
	fx_series(f, L("neg_inf"), -INFINITY);
	fx_series(f, L("zero"), 0);
	fx_series(f, L("negative"), -42);
	fx_series(f, L("big_int"), 9007199254740991.0);
	fx_series(f, L("huge"), 1e300);
	fx_series(f, L("tenth"), 0.1);
	fx_series(f, L("tiny"), 1e-05);
	fx_series(f, L("sum"), 0.1 + 0.2);
	return s;
}

static void test_special_values(void **state)
{
	Cam__Bus__Snapshot *s = special_values();
	char *text = render1(s, CAM_RENDER_TEXT);

	(void)state;
	check_golden("special_values.prom", text);
	free(text);
	fx_free(s);
}

static void test_openmetrics(void **state)
{
	Cam__Bus__Snapshot *a = counters_and_gauges();
	Cam__Bus__Snapshot *b = histograms();
	Cam__Bus__Snapshot *c = escapes();
	Cam__Bus__Snapshot *d = special_values();
	const Cam__Bus__Snapshot *snaps[] = {a, b, c, d};
	char *text = render(snaps, 4, CAM_RENDER_OPENMETRICS, NULL);

	(void)state;
	check_golden("all.om", text);
	free(text);
	fx_free(a);
	fx_free(b);
	fx_free(c);
	fx_free(d);
}

/* The same name in a later snapshot wins; the earlier family is counted. */
static void test_conflict_later_wins(void **state)
{
	Cam__Bus__Snapshot *kernel = fx_snapshot("k1", 1);
	Cam__Bus__Snapshot *self = fx_snapshot("exporter", 1);
	const Cam__Bus__Snapshot *snaps[] = {kernel, NULL, self};
	struct cam_render_result res;
	char *text;

	(void)state;
	fx_series(fx_family(kernel, "cam_os_kernel_up", "From the kernel.",
			    GAUGE, NULL), NULL, 5);
	fx_series(fx_family(kernel, "kernel_only", "Kernel.", GAUGE, NULL),
		  NULL, 1);
	fx_series(fx_family(self, "cam_os_kernel_up", "From the exporter.",
			    GAUGE, NULL), NULL, 1);
	text = render(snaps, 3, CAM_RENDER_TEXT, &res);
	assert_int_equal(res.conflicts, 1);
	assert_int_equal(res.families, 2);
	assert_int_equal(res.series, 2);
	assert_string_equal(text,
			    "# HELP kernel_only Kernel.\n"
			    "# TYPE kernel_only gauge\n"
			    "kernel_only 1\n"
			    "# HELP cam_os_kernel_up From the exporter.\n"
			    "# TYPE cam_os_kernel_up gauge\n"
			    "cam_os_kernel_up 1\n");
	free(text);
	fx_free(kernel);
	fx_free(self);
}

/* Series whose label or bucket counts do not fit their family are skipped. */
static void test_invalid_series_skipped(void **state)
{
	static const double bounds[] = {1, 2};
	static const uint64_t good[] = {1, 1, 1};
	static const uint64_t bad[] = {1, 1};
	Cam__Bus__Snapshot *s = fx_snapshot("k1", 1);
	Cam__Bus__Family *f;
	struct cam_render_result res;
	const Cam__Bus__Snapshot *snaps[] = {s};
	char *text;

	(void)state;
	f = fx_family(s, "g", "", GAUGE, L("a"));
	fx_series(f, L("x"), 1);
	fx_series(f, L("x", "y"), 2);
	f = fx_family(s, "h", "", HISTOGRAM, NULL);
	fx_bounds(f, 2, bounds);
	fx_hseries(f, NULL, good, 3);
	f->n_bucket_bounds = 1; /* now the series has one count too many */
	fx_hseries(f, NULL, bad, 3);
	f->n_bucket_bounds = 2;
	text = render(snaps, 1, CAM_RENDER_TEXT, &res);
	assert_int_equal(res.invalid, 2);
	assert_int_equal(res.series, 2);
	assert_null(strstr(text, "y\""));
	free(text);
	fx_free(s);
}

static void test_render_double(void **state)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{0, "0"},
		{1, "1"},
		{-1, "-1"},
		{42, "42"},
		{1e15, "1000000000000000"},
		{9007199254740991.0, "9007199254740991"},
		{9007199254740992.0, "9007199254740992"},
		{0.005, "0.005"},
		{2.5, "2.5"},
		{0.1, "0.1"},
		{0.1 + 0.2, "0.30000000000000004"},
		{1.0 / 3, "0.3333333333333333"},
		{1e-05, "1e-05"},
		{1e300, "1e+300"},
		{-0.25, "-0.25"},
		{123456.789, "123456.789"},
	};
	char buf[CAM_RENDER_DOUBLE_MAX];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = cam_render_double(buf, cases[i].v);
		assert_string_equal(buf, cases[i].want);
		assert_int_equal(n, strlen(cases[i].want));
		assert_true(strtod(buf, NULL) == cases[i].v);
	}
	assert_int_equal(cam_render_double(buf, NAN), 3);
	assert_string_equal(buf, "NaN");
	cam_render_double(buf, INFINITY);
	assert_string_equal(buf, "+Inf");
	cam_render_double(buf, -INFINITY);
	assert_string_equal(buf, "-Inf");
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * 10k series shaped like the kernel's: 9000 counters and gauges with two
 * labels (integer and fractional values) and 1000 histogram series with
 * 12 buckets each. Target: 10 ms on the reference machine; asserted with
 * room to spare, and not at all under sanitizers.
 */
static void test_render_10k_series_fast(void **state)
{
	static const double bounds[] = {0.00005, 0.0001, 0.00025, 0.0005,
					0.001, 0.0025, 0.005, 0.01,
					0.025, 0.1, 1, 10};
	uint64_t counts[13];
	Cam__Bus__Snapshot *s = fx_snapshot("k1", 1);
	const Cam__Bus__Snapshot *snaps[] = {s};
	Cam__Bus__Family *f = NULL;
	struct cam_render_buf b;
	struct cam_render_result res;
	char v1[32], v2[32];
	double t0, best = 1e9;
	int i, j, round;

	(void)state;
	for (i = 0; i < 9000; i++) {
		if (i % 100 == 0) {
			snprintf(v1, sizeof(v1), "family_%d_total", i / 100);
			f = fx_family(s, v1, "A family of the benchmark.",
				      i % 200 ? GAUGE : COUNTER,
				      L("verb", "code"));
		}
		snprintf(v1, sizeof(v1), "verb_%d", i % 100);
		snprintf(v2, sizeof(v2), "code_%d", i % 7);
		fx_series(f, L(v1, v2), i % 3 ? i * 17.0 : i / 7.0);
	}
	f = fx_family(s, "bench_duration_seconds", "Durations.", HISTOGRAM,
		      L("verb"));
	fx_bounds(f, 12, bounds);
	for (i = 0; i < 1000; i++) {
		for (j = 0; j < 13; j++)
			counts[j] = (uint64_t)(i * j);
		snprintf(v1, sizeof(v1), "verb_%d", i);
		fx_hseries(f, L(v1), counts, i * 0.0123);
	}
	for (round = 0; round < 5; round++) {
		cam_render_buf_init(&b, 0);
		t0 = now_ms();
		cam_render(&b, CAM_RENDER_TEXT, snaps, 1, &res);
		t0 = now_ms() - t0;
		if (t0 < best)
			best = t0;
		cam_render_buf_free(&b);
	}
	assert_int_equal(res.series, 10000);
	print_message("render: 10k series (1k histograms) in %.2f ms\n", best);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	assert_true(best < 20.0);
#endif
	fx_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters_and_gauges),
		cmocka_unit_test(test_histogram_buckets),
		cmocka_unit_test(test_exemplar),
		cmocka_unit_test(test_label_and_help_escaping),
		cmocka_unit_test(test_special_values),
		cmocka_unit_test(test_openmetrics),
		cmocka_unit_test(test_conflict_later_wins),
		cmocka_unit_test(test_invalid_series_skipped),
		cmocka_unit_test(test_render_double),
		cmocka_unit_test(test_render_10k_series_fast),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
