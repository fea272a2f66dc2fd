/*
 * Tests of exporter/otlp_metrics.c: hand-built snapshots encoded as an
 * ExportMetricsServiceRequest and read back with protobuf-c's unpacker:
 * types, temporality, start times, attributes, units, classic buckets,
 * exponential buckets (offset, gaps, zero bucket, negatives, halving) and
 * exemplars. tests/integration/test_otlp.sh decodes the same bodies with
 * the OpenTelemetry project's own code.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "exporter/otlp_metrics.h"
#include "proto/opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "tests/exporter/fixture.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest request_t;
typedef Opentelemetry__Proto__Metrics__V1__Metric metric_t;

static const char *const L_VERB[] = { "verb", "code", NULL };

static Cam__Bus__BucketSpan *span(int32_t offset, uint32_t length)
{
	Cam__Bus__BucketSpan *s = calloc(1, sizeof(*s));

	cam__bus__bucket_span__init(s);
	s->offset = offset;
	s->length = length;
	return s;
}

/* A native series: positive spans {offset, length}..., counts..., zero. */
static void native(Cam__Bus__Series *se, int schema, uint64_t zero, size_t nspans,
		   const int32_t *spans, size_t ncounts, const uint64_t *counts)
{
	Cam__Bus__NativeBuckets *nb = calloc(1, sizeof(*nb));

	cam__bus__native_buckets__init(nb);
	nb->schema = schema;
	nb->zero_count = zero;
	nb->zero_threshold = 1e-9;
	nb->positive_spans = calloc(nspans, sizeof(*nb->positive_spans));
	for (size_t i = 0; i < nspans; i++)
		nb->positive_spans[i] = span(spans[2 * i], (uint32_t)spans[2 * i + 1]);
	nb->n_positive_spans = nspans;
	nb->positive_counts = malloc(ncounts * sizeof(uint64_t));
	memcpy(nb->positive_counts, counts, ncounts * sizeof(uint64_t));
	nb->n_positive_counts = ncounts;
	se->native = nb;
	se->count = zero;
	for (size_t i = 0; i < ncounts; i++)
		se->count += counts[i];
}

static Cam__Bus__Snapshot *snapshot(void)
{
	Cam__Bus__Snapshot *s = fx_snapshot("0123456789abcdef0123456789abcdef", 7);
	static const double bounds[] = { 0.1, 1 };
	static const uint64_t hcounts[] = { 2, 3, 1 };
	static const int32_t spans[] = { -3, 2, 2, 1 };  /* indices -3,-2 and 1 */
	static const uint64_t ncounts[] = { 4, 1, 6 };
	Cam__Bus__Family *f;
	Cam__Bus__Series *se;

	s->start_time_seconds = 1700000000.5;
	s->timestamp_ms = 1700000100000;
	f = fx_family(s, "cam_os_syscall_total", "Calls.", CAM__BUS__METRIC_TYPE__COUNTER, L_VERB);
	fx_series(f, (const char *const[]){ "ping", "", NULL }, 5);
	f = fx_family(s, "cam_os_memory_context_size_bytes", "Size.", CAM__BUS__METRIC_TYPE__GAUGE,
		      NULL);
	fx_unit(f, "bytes");
	fx_series(f, NULL, 4096);
	f = fx_family(s, "job_seconds", "Jobs.", CAM__BUS__METRIC_TYPE__HISTOGRAM, NULL);
	fx_bounds(f, 2, bounds);
	se = fx_hseries(f, NULL, hcounts, 2.5);
	se->exemplar = calloc(1, sizeof(*se->exemplar));
	cam__bus__exemplar__init(se->exemplar);
	se->exemplar->trace_id = fx_strdup("0af7651916cd43dd8448eb211c80319c");
	se->exemplar->span_id = fx_strdup("b7ad6b7169203331");
	se->exemplar->value = 0.5;
	se->exemplar->timestamp_ms = 1700000099000;
	f = fx_family(s, "render_seconds", "Renders.", CAM__BUS__METRIC_TYPE__HISTOGRAM, NULL);
	f->native = true;
	fx_bounds(f, 2, bounds);
	se = fx_hseries(f, NULL, (const uint64_t[]){ 0, 0, 0 }, 9.75);
	native(se, 3, 2, 2, spans, 3, ncounts);
	return s;
}

static request_t *encode(const Cam__Bus__Snapshot *s, size_t *points)
{
	struct cam_otlp_arena a = CAM_OTLP_ARENA_INIT;
	struct cam_render_buf out;
	struct cam_otlp_kv_list attrs = { 0 };
	struct cam_otlp_metrics_src src = {
		.snap = s, .service = "cam-kernel", .service_from_attrs = true,
		.instance_id = s->instance_id, .version = s->version, .scope = "cam-kernel",
		.start_time_seconds = s->start_time_seconds, .timestamp_ms = s->timestamp_ms,
	};
	request_t *req;
	char err[64];

	assert_int_equal(cam_otlp_kv_parse(&attrs, "k8s.pod.name=cam-os-0", "t", err, sizeof(err)), 0);
	cam_render_buf_init(&out, 0);
	*points = cam_otlp_metrics_encode(&a, &attrs, &src, 1, &out);
	req = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
		NULL, out.len, (const uint8_t *)out.data);
	assert_non_null(req);
	cam_render_buf_free(&out);
	cam_otlp_arena_free(&a);
	cam_otlp_kv_free(&attrs);
	return req;
}

static metric_t *find(request_t *r, const char *name)
{
	Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = r->resource_metrics[0]->scope_metrics[0];

	for (size_t i = 0; i < sm->n_metrics; i++)
		if (!strcmp(sm->metrics[i]->name, name))
			return sm->metrics[i];
	fail_msg("no metric %s", name);
	return NULL;
}

static const char *attr(Opentelemetry__Proto__Common__V1__KeyValue **kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i]->key, key))
			return kv[i]->value->string_value;
	return NULL;
}

static void test_resource_and_scope(void **state)
{
	Cam__Bus__Snapshot *s = snapshot();
	size_t points;
	request_t *r = encode(s, &points);
	Opentelemetry__Proto__Resource__V1__Resource *res = r->resource_metrics[0]->resource;

	(void)state;
	assert_int_equal(points, 4);
	assert_int_equal(r->n_resource_metrics, 1);
	assert_string_equal(attr(res->attributes, res->n_attributes, "service.name"), "cam-kernel");
	assert_string_equal(attr(res->attributes, res->n_attributes, "service.instance.id"),
			    "0123456789abcdef0123456789abcdef");
	assert_string_equal(attr(res->attributes, res->n_attributes, "service.version"), "test");
	assert_string_equal(attr(res->attributes, res->n_attributes, "k8s.pod.name"), "cam-os-0");
	assert_string_equal(r->resource_metrics[0]->scope_metrics[0]->scope->name, "cam-kernel");
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(r, NULL);
	fx_free(s);
}

static void test_counter_and_gauge(void **state)
{
	Cam__Bus__Snapshot *s = snapshot();
	size_t points;
	request_t *r = encode(s, &points);
	metric_t *c = find(r, "cam_os_syscall_total"), *g = find(r, "cam_os_memory_context_size_bytes");
	Opentelemetry__Proto__Metrics__V1__NumberDataPoint *p;

	(void)state;
	assert_int_equal(c->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
	assert_true(c->sum->is_monotonic);
	assert_int_equal(c->sum->aggregation_temporality,
			 OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
	assert_string_equal(c->description, "Calls.");
	assert_string_equal(c->unit, "");
	p = c->sum->data_points[0];
	assert_true(p->as_double == 5);
	assert_int_equal(p->start_time_unix_nano, 1700000000500000000ull);
	assert_int_equal(p->time_unix_nano, 1700000100000000000ull);
	/* The empty label value is no attribute. */
	assert_int_equal(p->n_attributes, 1);
	assert_string_equal(p->attributes[0]->key, "verb");
	assert_string_equal(p->attributes[0]->value->string_value, "ping");
	assert_int_equal(g->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
	assert_string_equal(g->unit, "By");
	assert_true(g->gauge->data_points[0]->as_double == 4096);
	assert_int_equal(g->gauge->data_points[0]->start_time_unix_nano, 0);
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(r, NULL);
	fx_free(s);
}

static void test_classic_histogram_and_exemplar(void **state)
{
	Cam__Bus__Snapshot *s = snapshot();
	size_t points;
	request_t *r = encode(s, &points);
	metric_t *m = find(r, "job_seconds");
	Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *p;
	static const uint8_t trace[16] = { 0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd,
					   0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c };

	(void)state;
	assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM);
	assert_string_equal(m->unit, "s");
	p = m->histogram->data_points[0];
	assert_int_equal(p->count, 6);
	assert_true(p->sum == 2.5);
	assert_int_equal(p->n_explicit_bounds, 2);
	assert_true(p->explicit_bounds[0] == 0.1 && p->explicit_bounds[1] == 1);
	assert_int_equal(p->n_bucket_counts, 3);
	assert_int_equal(p->bucket_counts[0], 2); /* per bucket, not cumulative */
	assert_int_equal(p->bucket_counts[1], 3);
	assert_int_equal(p->bucket_counts[2], 1);
	assert_int_equal(p->n_exemplars, 1);
	assert_int_equal(p->exemplars[0]->trace_id.len, 16);
	assert_memory_equal(p->exemplars[0]->trace_id.data, trace, 16);
	assert_int_equal(p->exemplars[0]->span_id.len, 8);
	assert_int_equal(p->exemplars[0]->span_id.data[0], 0xb7);
	assert_true(p->exemplars[0]->as_double == 0.5);
	assert_int_equal(p->exemplars[0]->time_unix_nano, 1700000099000000000ull);
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(r, NULL);
	fx_free(s);
}

static void test_exponential_histogram(void **state)
{
	Cam__Bus__Snapshot *s = snapshot();
	size_t points;
	request_t *r = encode(s, &points);
	metric_t *m = find(r, "render_seconds");
	Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *p;

	(void)state;
	assert_int_equal(m->data_case,
			 OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM);
	p = m->exponential_histogram->data_points[0];
	assert_int_equal(p->scale, 3);
	assert_int_equal(p->zero_count, 2);
	assert_int_equal(p->count, 13);
	assert_true(p->sum == 9.75);
	/* Prometheus indices -3, -2, then 1 (a gap of 2): OTel offset -4 and
	 * dense counts with zeros for -1 and 0. */
	assert_int_equal(p->positive->offset, -4);
	assert_int_equal(p->positive->n_bucket_counts, 5);
	assert_int_equal(p->positive->bucket_counts[0], 4);
	assert_int_equal(p->positive->bucket_counts[1], 1);
	assert_int_equal(p->positive->bucket_counts[2], 0);
	assert_int_equal(p->positive->bucket_counts[3], 0);
	assert_int_equal(p->positive->bucket_counts[4], 6);
	assert_int_equal(p->negative->n_bucket_counts, 0);
	assert_int_equal(m->exponential_histogram->aggregation_temporality,
			 OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(r, NULL);
	fx_free(s);
}

/* Buckets too far apart for a dense array: the scale drops until they
 * fit, each halving merging neighbours, and no count is lost. */
static void test_wide_histogram_halves(void **state)
{
	Cam__Bus__Snapshot *s = fx_snapshot("0123456789abcdef0123456789abcdef", 1);
	static const int32_t spans[] = { -100000, 1, 199999, 1 };
	static const uint64_t counts[] = { 3, 4 };
	Cam__Bus__Family *f = fx_family(s, "wide_seconds", "", CAM__BUS__METRIC_TYPE__HISTOGRAM, NULL);
	Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *p;
	uint64_t total = 0;
	size_t points;
	request_t *r;

	(void)state;
	f->native = true;
	native(fx_hseries(f, NULL, (const uint64_t[]){ 0 }, 1), 8, 0, 2, spans, 2, counts);
	r = encode(s, &points);
	p = find(r, "wide_seconds")->exponential_histogram->data_points[0];
	assert_int_equal(p->scale, 8 - 2);
	assert_true(p->positive->n_bucket_counts <= CAM_OTLP_MAX_DENSE_BUCKETS);
	for (size_t i = 0; i < p->positive->n_bucket_counts; i++)
		total += p->positive->bucket_counts[i];
	assert_int_equal(total, 7);
	assert_int_equal(p->positive->bucket_counts[0], 3);
	assert_int_equal(p->positive->bucket_counts[p->positive->n_bucket_counts - 1], 4);
	/* -100000 at schema 8 is ceil(-100000 / 4) = -25000 at schema 6. */
	assert_int_equal(p->positive->offset, -25000 - 1);
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(r, NULL);
	fx_free(s);
}

static void test_units(void **state)
{
	Cam__Bus__Family f = CAM__BUS__FAMILY__INIT;

	(void)state;
	f.name = "cam_os_process_cpu_seconds_total";
	assert_string_equal(cam_otlp_unit(&f), "s");
	f.name = "cam_os_bus_snapshot_bytes";
	assert_string_equal(cam_otlp_unit(&f), "By");
	f.name = "cache_hit_ratio";
	assert_string_equal(cam_otlp_unit(&f), "1");
	f.name = "cam_os_syscall_total";
	assert_string_equal(cam_otlp_unit(&f), "");
	f.name = "seconds"; /* a word alone is no suffix */
	assert_string_equal(cam_otlp_unit(&f), "");
	f.name = "latency";
	f.unit = "milliseconds";
	assert_string_equal(cam_otlp_unit(&f), "ms");
}

/* Sources without a snapshot are left out; two make two resources. */
static void test_two_sources(void **state)
{
	Cam__Bus__Snapshot *s = snapshot();
	struct cam_otlp_arena a = CAM_OTLP_ARENA_INIT;
	struct cam_render_buf out;
	struct cam_otlp_metrics_src src[3] = {
		{ .snap = NULL, .service = "cam-kernel" },
		{ .snap = s, .service = "cam-kernel", .instance_id = "k", .scope = "cam-kernel" },
		{ .snap = s, .service = "cam-exporter", .instance_id = "e", .scope = "cam-exporter" },
	};
	request_t *r;

	(void)state;
	cam_render_buf_init(&out, 0);
	assert_int_equal(cam_otlp_metrics_encode(&a, NULL, src, 3, &out), 8);
	r = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
		NULL, out.len, (const uint8_t *)out.data);
	assert_non_null(r);
	assert_int_equal(r->n_resource_metrics, 2);
	assert_string_equal(r->resource_metrics[1]->resource->attributes[0]->value->string_value,
			    "cam-exporter");
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(r, NULL);
	cam_render_buf_free(&out);
	cam_otlp_arena_free(&a);
	fx_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resource_and_scope),
		cmocka_unit_test(test_counter_and_gauge),
		cmocka_unit_test(test_classic_histogram_and_exemplar),
		cmocka_unit_test(test_exponential_histogram),
		cmocka_unit_test(test_wide_histogram_halves),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_two_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
