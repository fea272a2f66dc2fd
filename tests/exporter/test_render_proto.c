/*
 * Unit tests of the protobuf exposition (exporter/render_proto.c): what
 * protobuf-c packs is decoded by an independent decoder (python3-protobuf
 * with the schema compiled by protoc, tests/exporter/decode_metrics_pb.py)
 * and compared field by field with a golden text, and checked here with
 * protobuf-c's own unpacker; native histograms built by the metrics core
 * come out as spans and deltas.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/metrics.h"
#include "common/snapshot.h"
#include "exporter/render.h"
#include "proto/prometheus/metrics.pb-c.h"
#include "tests/exporter/fixture.h"

#define COUNTER CAM__BUS__METRIC_TYPE__COUNTER
#define GAUGE CAM__BUS__METRIC_TYPE__GAUGE
#define HISTOGRAM CAM__BUS__METRIC_TYPE__HISTOGRAM
#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

typedef Io__Prometheus__Client__MetricFamily MetricFamily;

static void render_pb(const Cam__Bus__Snapshot *s, struct cam_render_buf *b)
{
	const Cam__Bus__Snapshot *snaps[] = { s };

	cam_render_buf_init(b, 16);
	cam_render(b, CAM_RENDER_PROTOBUF, snaps, 1, NULL);
}

/* Splits a delimited stream with protobuf-c; returns how many families. */
static size_t unpack_all(const struct cam_render_buf *b, MetricFamily **out, size_t max)
{
	size_t pos = 0, n = 0;

	while (pos < b->len) {
		uint64_t size = 0;
		int shift = 0;

		while (pos < b->len) {
			uint8_t c = (uint8_t)b->data[pos++];
			size |= (uint64_t)(c & 0x7f) << shift;
			shift += 7;
			if (!(c & 0x80))
				break;
		}
		assert_true(pos + size <= b->len);
		assert_true(n < max);
		out[n] = io__prometheus__client__metric_family__unpack(NULL, size,
									(const uint8_t *)b->data + pos);
		assert_non_null(out[n]);
		n++;
		pos += size;
	}
	return n;
}

/* Runs the independent decoder over b; returns its output (malloc'd). */
static char *python_decode(const struct cam_render_buf *b)
{
	char path[] = "/tmp/cam-render-pb-XXXXXX", cmd[512], *out = NULL;
	size_t len = 0, cap = 0;
	int fd = mkstemp(path);
	FILE *p;
	int rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b->data, b->len), (ssize_t)b->len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 tests/exporter/decode_metrics_pb.py %s", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap * 2 + 8192;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		size_t got = fread(out + len, 1, 4096, p);
		if (got == 0)
			break;
		len += got;
	}
	out[len] = '\0';
	rc = pclose(p);
	unlink(path);
	if (rc != 0)
		fail_msg("decoder failed (%d): %s", rc, out);
	return out;
}

static void check_golden(const char *name, const char *text)
{
	char path[256];
	size_t len;
	char *want;

	snprintf(path, sizeof(path), "tests/exporter/golden/%s", name);
	if (getenv("CAM_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		fputs(text, f);
		fclose(f);
		return;
	}
	want = fx_read_file(path, &len);
	if (!want)
		fail_msg("cannot read %s (run from the repository root)", path);
	if (strcmp(want, text) != 0)
		fail_msg("decoded protobuf differs from %s:\n%s", path, text);
	free(want);
}

static Cam__Bus__Snapshot *classic_snapshot(void)
{
	static const double bounds[] = { 0.001, 0.01, 0.1 };
	static const uint64_t counts[] = { 3, 2, 0, 1 };
	Cam__Bus__Snapshot *s = fx_snapshot("k1", 1);
	Cam__Bus__Family *f;
	Cam__Bus__Series *se;

	f = fx_family(s, "cam_os_syscall_total", "Syscalls executed.", COUNTER, L("verb"));
	fx_series(f, L("ping"), 42);
	fx_series(f, L("say \"hi\"\n"), 1e308);
	f = fx_family(s, "cam_os_scheduler_queue_size", "Tasks queued.", GAUGE, L("class"));
	fx_series(f, L("batch"), -1.5);
	fx_family(s, "cam_os_empty_total", "No series yet.", COUNTER, NULL);
	f = fx_family(s, "cam_os_syscall_duration_seconds", "Latency.", HISTOGRAM, L("verb"));
	fx_bounds(f, 3, bounds);
	se = fx_hseries(f, L("ping"), counts, 7.25);
	se->exemplar = calloc(1, sizeof(*se->exemplar));
	assert_non_null(se->exemplar);
	cam__bus__exemplar__init(se->exemplar);
	se->exemplar->trace_id = fx_strdup("0af7651916cd43dd8448eb211c80319c");
	se->exemplar->span_id = fx_strdup("b7ad6b7169203331");
	se->exemplar->value = 0.0042;
	se->exemplar->timestamp_ms = 1700000000123;
	return s;
}

/* Counters, gauges, classic histograms with an exemplar, empty families. */
static void test_classic_decoded_independently(void **state)
{
	Cam__Bus__Snapshot *s = classic_snapshot();
	struct cam_render_buf b;
	MetricFamily *mf[8];
	char *text;
	size_t n;

	(void)state;
	render_pb(s, &b);
	text = python_decode(&b);
	check_golden("classic.pb.txt", text);
	free(text);
	/* And protobuf-c reads back what it packed. */
	n = unpack_all(&b, mf, 8);
	assert_int_equal(n, 4);
	assert_string_equal(mf[0]->name, "cam_os_syscall_total");
	assert_int_equal(mf[0]->type, IO__PROMETHEUS__CLIENT__METRIC_TYPE__COUNTER);
	assert_true(mf[0]->metric[1]->counter->value == 1e308);
	assert_int_equal(mf[2]->n_metric, 0);
	assert_int_equal(mf[3]->metric[0]->histogram->n_bucket, 3); /* +Inf implied */
	assert_int_equal(mf[3]->metric[0]->histogram->sample_count, 6);
	assert_null(mf[3]->metric[0]->histogram->bucket[0]->exemplar);
	assert_non_null(mf[3]->metric[0]->histogram->bucket[1]->exemplar);
	for (size_t i = 0; i < n; i++)
		io__prometheus__client__metric_family__free_unpacked(mf[i], NULL);
	cam_render_buf_free(&b);
	fx_free(s);
}

static int teardown(void **state)
{
	(void)state;
	cam_metrics_reset();
	return 0;
}

/* A native histogram from the metrics core, through the bus, as spans and
 * deltas beside its classic buckets. */
static void test_native_decoded_independently(void **state)
{
	static const double bounds[] = { 1, 10 };
	cam_family *f, *e;
	cam_series *s;
	Cam__Bus__Snapshot *snap;
	Cam__Bus__Envelope *env;
	struct cam_render_buf b;
	const char *why;
	uint8_t *buf;
	size_t len;
	char *text;

	(void)state;
	assert_int_equal(cam_family_register_native(
				 &(struct cam_family_desc){ .name = "n_seconds", .help = "Native.",
							    .type = CAM_HISTOGRAM,
							    .buckets = bounds, .nbuckets = 2,
							    .label_names = L("verb") },
				 &cam_native_defaults, &f, NULL), 0);
	assert_int_equal(cam_family_register_native(
				 &(struct cam_family_desc){ .name = "n_empty_seconds",
							    .type = CAM_HISTOGRAM },
				 &(struct cam_native_opts){ 3, 0, 160 }, &e, NULL), 0);
	cam_series_get(e, NULL);
	s = cam_series_get(f, L("ping"));
	cam_histogram_observe(s, 1.0);  /* bucket 0 */
	cam_histogram_observe(s, 1.05); /* bucket 1 */
	cam_histogram_observe(s, 1.05);
	cam_histogram_observe(s, 1.1);  /* bucket 2 */
	cam_histogram_observe(s, 4.0);  /* bucket 16 */
	cam_histogram_observe(s, 0);    /* zero bucket */
	cam_histogram_observe(s, -0.5); /* negative bucket -8 */
	cam_histogram_observe(s, 100);
	snap = cam_snapshot_build(&(struct cam_snapshot_meta){ .instance_id = "i" });
	assert_int_equal(cam_snapshot_pack(snap, &buf, &len), 0);
	cam_snapshot_free(snap);
	env = cam_snapshot_unpack(buf, len, &why);
	free(buf);
	assert_non_null(env);
	/* Only the two native families, so the golden file stays small. */
	for (size_t i = 0, k = 0; i < env->snapshot->n_families; i++) {
		Cam__Bus__Family *bf = env->snapshot->families[i];
		if (bf->native)
			env->snapshot->families[k++] = bf;
		else
			cam__bus__family__free_unpacked(bf, NULL);
		env->snapshot->n_families = i + 1 == env->snapshot->n_families ? k
									       : env->snapshot->n_families;
	}
	render_pb(env->snapshot, &b);
	text = python_decode(&b);
	check_golden("native.pb.txt", text);
	free(text);
	cam_render_buf_free(&b);
	cam_snapshot_unpacked_free(env);
}

/* Text formats show native families exactly as classic ones. */
static void test_text_formats_ignore_native(void **state)
{
	Cam__Bus__Snapshot *s = classic_snapshot();
	const Cam__Bus__Snapshot *snaps[] = { s };
	struct cam_render_buf plain, with;
	Cam__Bus__NativeBuckets *nb = calloc(1, sizeof(*nb));

	(void)state;
	for (int fmt = CAM_RENDER_TEXT; fmt <= CAM_RENDER_OPENMETRICS; fmt++) {
		cam_render_buf_init(&plain, 16);
		cam_render(&plain, fmt, snaps, 1, NULL);
		assert_non_null(nb);
		cam__bus__native_buckets__init(nb);
		nb->schema = 3;
		s->families[3]->native = true;
		s->families[3]->series[0]->native = nb;
		cam_render_buf_init(&with, 16);
		cam_render(&with, fmt, snaps, 1, NULL);
		s->families[3]->series[0]->native = NULL;
		assert_int_equal(plain.len, with.len);
		assert_memory_equal(plain.data, with.data, plain.len);
		cam_render_buf_free(&plain);
		cam_render_buf_free(&with);
	}
	free(nb);
	fx_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classic_decoded_independently),
		cmocka_unit_test_teardown(test_native_decoded_independently, teardown),
		cmocka_unit_test(test_text_formats_ignore_native),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
