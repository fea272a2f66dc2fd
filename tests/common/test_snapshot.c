/* Unit tests of common/snapshot.c: build, pack, unpack and the checks. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/metrics.h"
#include "common/snapshot.h"

static int teardown(void **state)
{
	(void)state;
	cam_metrics_reset();
	return 0;
}

static const Cam__Bus__Family *find(const Cam__Bus__Snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_families; i++)
		if (strcmp(s->families[i]->name, name) == 0)
			return s->families[i];
	return NULL;
}

static void fill_registry(void)
{
	static const char *const labels[] = { "verb", "code", NULL };
	static const double b[] = { 1, 2 };
	cam_family *c, *h;

	assert_int_equal(cam_family_register(
				 &(struct cam_family_desc){ .name = "rt_errors_total",
							    .help = "errors \\ with\nnewline",
							    .type = CAM_COUNTER,
							    .label_names = labels },
				 &c, NULL),
			 0);
	assert_int_equal(cam_family_register(
				 &(struct cam_family_desc){ .name = "rt_seconds",
							    .type = CAM_HISTOGRAM,
							    .unit = "seconds",
							    .buckets = b,
							    .nbuckets = 2 },
				 &h, NULL),
			 0);
	cam_counter_add(cam_series_get(c, (const char *[]){ "ping", "INVALID_ARGUMENT" }), 3);
	cam_counter_add(cam_series_get(c, (const char *[]){ "q\"uo\\te\n", "x" }), 1);
	cam_histogram_observe(cam_series_get(h, NULL), 1.5);
	cam_histogram_observe(cam_series_get(h, NULL), 5);
}

static void test_round_trip(void **state)
{
	struct cam_snapshot_meta meta = { .sequence = 7,
					  .instance_id = "abc",
					  .start_time_seconds = 1700000000.25,
					  .timestamp_ms = 1700000001000,
					  .publish_interval_ms = 1000,
					  .version = "0.1.0" };
	Cam__Bus__Snapshot *built;
	Cam__Bus__Envelope *e;
	const Cam__Bus__Family *f;
	const char *why = NULL;
	uint8_t *buf;
	size_t len;

	(void)state;
	fill_registry();
	built = cam_snapshot_build(&meta);
	assert_int_equal(cam_snapshot_pack(built, &buf, &len), 0);
	cam_snapshot_free(built);
	e = cam_snapshot_unpack(buf, len, &why);
	free(buf);
	assert_non_null(e);
	assert_int_equal(e->snapshot->sequence, 7);
	assert_string_equal(e->snapshot->instance_id, "abc");
	assert_true(e->snapshot->start_time_seconds == 1700000000.25);
	assert_int_equal(e->snapshot->publish_interval_ms, 1000);

	f = find(e->snapshot, "rt_errors_total");
	assert_non_null(f);
	assert_int_equal(f->type, CAM__BUS__METRIC_TYPE__COUNTER);
	assert_string_equal(f->help, "errors \\ with\nnewline");
	assert_int_equal(f->n_label_names, 2);
	assert_int_equal(f->n_series, 2);
	assert_string_equal(f->series[0]->label_values[1], "INVALID_ARGUMENT");
	assert_true(f->series[0]->value == 3);
	assert_string_equal(f->series[1]->label_values[0], "q\"uo\\te\n");

	f = find(e->snapshot, "rt_seconds");
	assert_non_null(f);
	assert_string_equal(f->unit, "seconds");
	assert_int_equal(f->n_bucket_bounds, 2);
	assert_int_equal(f->series[0]->n_bucket_counts, 3);
	assert_int_equal(f->series[0]->bucket_counts[0], 0);
	assert_int_equal(f->series[0]->bucket_counts[1], 1);
	assert_int_equal(f->series[0]->bucket_counts[2], 1);
	assert_int_equal(f->series[0]->count, 2);
	assert_true(f->series[0]->sum == 6.5);

	/* The registry's own family of refused series travels too. */
	assert_non_null(find(e->snapshot, "cam_os_metrics_series_rejected_total"));
	cam_snapshot_unpacked_free(e);
}

static void test_garbage_refused(void **state)
{
	const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99 };
	const char *why = NULL;
	uint8_t buf[4096];

	(void)state;
	assert_null(cam_snapshot_unpack(garbage, sizeof(garbage), &why));
	assert_non_null(why);
	memset(buf, 0xa5, sizeof(buf));
	assert_null(cam_snapshot_unpack(buf, sizeof(buf), &why));
	/* An empty message is a valid Envelope, but holds no snapshot. */
	why = NULL;
	assert_null(cam_snapshot_unpack(buf, 0, &why));
	assert_non_null(why);
}

static void test_truncated_refused(void **state)
{
	struct cam_snapshot_meta meta = { .sequence = 1, .instance_id = "x" };
	Cam__Bus__Snapshot *built;
	const char *why;
	uint8_t *buf;
	size_t len, refused = 0;

	(void)state;
	fill_registry();
	built = cam_snapshot_build(&meta);
	assert_int_equal(cam_snapshot_pack(built, &buf, &len), 0);
	cam_snapshot_free(built);
	for (size_t cut = 1; cut < len; cut += 7) {
		Cam__Bus__Envelope *e = cam_snapshot_unpack(buf, cut, &why);
		if (!e)
			refused++;
		cam_snapshot_unpacked_free(e);
	}
	/* Cutting a protobuf can leave a shorter valid one; most cuts fail. */
	assert_true(refused > 0);
	free(buf);
}

/* Packs a hand-made snapshot with one broken family, expects refusal. */
static void expect_refused(Cam__Bus__Family *f)
{
	Cam__Bus__Snapshot s = CAM__BUS__SNAPSHOT__INIT;
	Cam__Bus__Family *fams[1] = { f };
	const char *why = NULL;
	uint8_t *buf;
	size_t len;

	s.n_families = 1;
	s.families = fams;
	assert_int_equal(cam_snapshot_pack(&s, &buf, &len), 0);
	assert_null(cam_snapshot_unpack(buf, len, &why));
	assert_non_null(why);
	free(buf);
}

static void test_inconsistent_snapshots_refused(void **state)
{
	Cam__Bus__Family f = CAM__BUS__FAMILY__INIT;
	Cam__Bus__Series s = CAM__BUS__SERIES__INIT;
	Cam__Bus__Series *series[1] = { &s };
	char *labels[1] = { "verb" };
	char *values[1] = { "\xff" };
	double bounds[2] = { 2, 1 };
	uint64_t counts[2] = { 1, 2 };

	(void)state;
	f.name = "bad name";
	f.type = CAM__BUS__METRIC_TYPE__COUNTER;
	expect_refused(&f);

	f.name = "ok";
	f.type = 9;
	expect_refused(&f);

	f.type = CAM__BUS__METRIC_TYPE__COUNTER;
	f.n_label_names = 1;
	f.label_names = labels;
	f.n_series = 1;
	f.series = series; /* series without its label value */
	expect_refused(&f);

	s.n_label_values = 1;
	s.label_values = values; /* not UTF-8 */
	expect_refused(&f);

	f.n_label_names = 0;
	s.n_label_values = 0;
	f.type = CAM__BUS__METRIC_TYPE__HISTOGRAM;
	f.n_bucket_bounds = 2;
	f.bucket_bounds = bounds; /* decreasing */
	s.n_bucket_counts = 2;
	s.bucket_counts = counts;
	expect_refused(&f);

	bounds[0] = 0.5; /* increasing now, but 2 counts for 2 bounds + Inf */
	expect_refused(&f);
}

/* Packs families a and b (types ta, tb) into a snapshot and unpacks it:
 * NULL with why, or the envelope (freed here; returns NULL then too). */
static const char *unpack_pair(const char *a, Cam__Bus__MetricType ta, const char *b,
			       Cam__Bus__MetricType tb, bool *accepted)
{
	Cam__Bus__Snapshot s = CAM__BUS__SNAPSHOT__INIT;
	Cam__Bus__Family fa = CAM__BUS__FAMILY__INIT, fb = CAM__BUS__FAMILY__INIT;
	Cam__Bus__Family *fams[2] = { &fa, &fb };
	Cam__Bus__Envelope *e;
	const char *why = NULL;
	uint8_t *buf;
	size_t len;

	fa.name = (char *)a;
	fa.type = ta;
	fb.name = (char *)b;
	fb.type = tb;
	s.n_families = b ? 2 : 1;
	s.families = fams;
	assert_int_equal(cam_snapshot_pack(&s, &buf, &len), 0);
	e = cam_snapshot_unpack(buf, len, &why);
	free(buf);
	*accepted = e != NULL;
	if (e)
		cam__bus__envelope__free_unpacked(e, NULL);
	return why;
}

/* Families whose exposed names would meet are refused: the same name
 * twice, x_total and x (one OpenMetrics family twice), a histogram's
 * _count and a gauge of that name; and a counter with no name before
 * _total. Families that merely look alike pass. */
static void test_duplicate_family_refused(void **state)
{
	const Cam__Bus__MetricType C = CAM__BUS__METRIC_TYPE__COUNTER,
				   G = CAM__BUS__METRIC_TYPE__GAUGE,
				   H = CAM__BUS__METRIC_TYPE__HISTOGRAM;
	bool ok;

	(void)state;
	assert_non_null(strstr(unpack_pair("dup", G, "dup", G, &ok), "take the same name"));
	assert_false(ok);
	assert_non_null(strstr(unpack_pair("foo_total", C, "foo", G, &ok), "take the same name"));
	assert_false(ok);
	assert_non_null(strstr(unpack_pair("foo", C, "foo_total", C, &ok), "take the same name"));
	assert_false(ok);
	assert_non_null(strstr(unpack_pair("lat", H, "lat_count", G, &ok), "take the same name"));
	assert_false(ok);
	assert_string_equal(unpack_pair("_total", C, NULL, G, &ok), "a counter named just _total");
	assert_false(ok);
	unpack_pair("foo_total", C, "foo_totals", G, &ok);
	assert_true(ok);
	unpack_pair("lat", H, "lat_counts", G, &ok);
	assert_true(ok);
}

/* Native buckets travel as spans and counts, and come back the same. */
static void test_native_round_trip(void **state)
{
	cam_family *f;
	cam_series *s;
	Cam__Bus__Snapshot *snap;
	Cam__Bus__Envelope *e;
	const Cam__Bus__Family *bf;
	const Cam__Bus__NativeBuckets *nb;
	const char *why = NULL;
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(cam_family_register_native(
				 &(struct cam_family_desc){ .name = "rt_native_seconds",
							    .type = CAM_HISTOGRAM },
				 &cam_native_defaults, &f, NULL), 0);
	s = cam_series_get(f, NULL);
	cam_histogram_observe(s, 1.0);               /* bucket 0 */
	cam_histogram_observe(s, 1.05);              /* bucket 1 */
	cam_histogram_observe(s, 1.05);
	cam_histogram_observe(s, 4.0);               /* bucket 16: a second span */
	cam_histogram_observe(s, 0);                 /* zero bucket */
	cam_histogram_observe(s, -2.0);              /* negative bucket 8 */
	snap = cam_snapshot_build(&(struct cam_snapshot_meta){ .instance_id = "i" });
	assert_int_equal(cam_snapshot_pack(snap, &buf, &len), 0);
	cam_snapshot_free(snap);
	e = cam_snapshot_unpack(buf, len, &why);
	free(buf);
	assert_non_null(e);
	bf = find(e->snapshot, "rt_native_seconds");
	assert_non_null(bf);
	assert_true(bf->native);
	assert_false(find(e->snapshot, "cam_os_metrics_series_rejected_total")->native);
	nb = bf->series[0]->native;
	assert_non_null(nb);
	assert_int_equal(bf->series[0]->count, 6);
	assert_int_equal(nb->schema, 3);
	assert_true(nb->zero_threshold == cam_native_defaults.zero_threshold);
	assert_int_equal(nb->zero_count, 1);
	assert_int_equal(nb->n_positive_spans, 2);
	assert_int_equal(nb->positive_spans[0]->offset, 0);
	assert_int_equal(nb->positive_spans[0]->length, 2);
	assert_int_equal(nb->positive_spans[1]->offset, 14); /* 2..15 empty */
	assert_int_equal(nb->positive_spans[1]->length, 1);
	assert_int_equal(nb->n_positive_counts, 3);
	assert_int_equal(nb->positive_counts[0], 1);
	assert_int_equal(nb->positive_counts[1], 2);
	assert_int_equal(nb->positive_counts[2], 1);
	assert_int_equal(nb->n_negative_spans, 1);
	assert_int_equal(nb->negative_spans[0]->offset, 8);
	assert_int_equal(nb->negative_counts[0], 1);
	cam_snapshot_unpacked_free(e);
}

static void test_bad_native_refused(void **state)
{
	Cam__Bus__Family f = CAM__BUS__FAMILY__INIT;
	Cam__Bus__Series s = CAM__BUS__SERIES__INIT;
	Cam__Bus__NativeBuckets nb = CAM__BUS__NATIVE_BUCKETS__INIT;
	Cam__Bus__BucketSpan sp0 = CAM__BUS__BUCKET_SPAN__INIT, sp1 = CAM__BUS__BUCKET_SPAN__INIT;
	Cam__Bus__BucketSpan *spans[2] = { &sp0, &sp1 };
	Cam__Bus__Series *series[1] = { &s };
	uint64_t buckets[1] = { 5 }, counts[3] = { 1, 2, 2 };
	Cam__Bus__Snapshot snap = CAM__BUS__SNAPSHOT__INIT;
	Cam__Bus__Family *fams[1] = { &f };
	Cam__Bus__Envelope *e;
	const char *why;
	uint8_t *buf;
	size_t len;

	(void)state;
	f.name = "nb_seconds";
	f.type = CAM__BUS__METRIC_TYPE__HISTOGRAM;
	f.native = true;
	f.n_series = 1;
	f.series = series;
	s.n_bucket_counts = 1;
	s.bucket_counts = buckets;
	s.count = 5;
	s.native = &nb;
	nb.schema = 3;
	nb.n_positive_spans = 2;
	nb.positive_spans = spans;
	sp0.offset = -3;
	sp0.length = 2;
	sp1.offset = 4;
	sp1.length = 1;
	nb.n_positive_counts = 3;
	nb.positive_counts = counts;
	/* This one is fine. */
	snap.n_families = 1;
	snap.families = fams;
	assert_int_equal(cam_snapshot_pack(&snap, &buf, &len), 0);
	e = cam_snapshot_unpack(buf, len, &why);
	free(buf);
	assert_non_null(e);
	cam_snapshot_unpacked_free(e);

	nb.schema = 9;
	expect_refused(&f);
	nb.schema = -5;
	expect_refused(&f);
	nb.schema = 3;
	nb.zero_threshold = -1;
	expect_refused(&f);
	nb.zero_threshold = INFINITY;
	expect_refused(&f);
	nb.zero_threshold = 0;
	sp1.offset = -1; /* a later span going back */
	expect_refused(&f);
	sp1.offset = 4;
	sp1.length = 2; /* lengths 4, counts 3 */
	expect_refused(&f);
	sp1.length = 1;
	sp0.offset = 1 << 25; /* too far */
	expect_refused(&f);
	sp0.offset = -3;
	nb.zero_count = 1; /* 6 in buckets, count 5 */
	expect_refused(&f);
	nb.zero_count = 0;
	f.native = false; /* buckets on a family without them */
	expect_refused(&f);
	f.native = true;
	f.type = CAM__BUS__METRIC_TYPE__GAUGE;
	s.n_bucket_counts = 0;
	s.native = NULL;
	expect_refused(&f); /* a native gauge */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_round_trip, teardown),
		cmocka_unit_test_teardown(test_garbage_refused, teardown),
		cmocka_unit_test_teardown(test_truncated_refused, teardown),
		cmocka_unit_test_teardown(test_inconsistent_snapshots_refused, teardown),
		cmocka_unit_test_teardown(test_duplicate_family_refused, teardown),
		cmocka_unit_test_teardown(test_native_round_trip, teardown),
		cmocka_unit_test_teardown(test_bad_native_refused, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
