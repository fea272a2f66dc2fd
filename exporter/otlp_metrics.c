/*
 * The OTLP metrics encoder of otlp_metrics.h: snapshot families into the
 * protobuf-c message tree (in the arena), then one pack.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/otlp_metrics.h"

#include <string.h>

#include "common/version.h"
#include "exporter/otlp_pb.h"
#include "proto/opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "proto/opentelemetry/proto/metrics/v1/metrics.pb-c.h"

typedef Opentelemetry__Proto__Metrics__V1__Metric metric_t;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint number_point;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint hist_point;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint exp_point;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets exp_buckets;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar exemplar_t;

#define CUMULATIVE OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE

/* What every point of one source shares. */
struct ctx {
	struct cam_otlp_arena *a;
	uint64_t start_ns, time_ns;
	size_t points;
};

static const struct {
	const char *word, *ucum;
} units[] = {
	{ "seconds", "s" },  { "milliseconds", "ms" }, { "microseconds", "us" },
	{ "nanoseconds", "ns" }, { "bytes", "By" },    { "ratio", "1" },
	{ "percent", "%" },  { "celsius", "Cel" },     { "hertz", "Hz" },
	{ "joules", "J" },   { "volts", "V" },         { "amperes", "A" },
	{ "meters", "m" },   { "grams", "g" },
};
#define NUNITS (sizeof(units) / sizeof(units[0]))

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n > k && s[n - k - 1] == '_' && memcmp(s + n - k, suffix, k) == 0;
}

const char *cam_otlp_unit(const Cam__Bus__Family *f)
{
	size_t n = strlen(f->name);

	for (size_t i = 0; i < NUNITS; i++)
		if (f->unit && strcmp(f->unit, units[i].word) == 0)
			return units[i].ucum;
	if (ends_with(f->name, n, "total"))
		n -= 6;
	for (size_t i = 0; i < NUNITS; i++)
		if (ends_with(f->name, n, units[i].word))
			return units[i].ucum;
	return "";
}

/* The series' labels as attributes, empty values left out. */
static Opentelemetry__Proto__Common__V1__KeyValue **attributes(struct ctx *c,
								const Cam__Bus__Family *f,
								const Cam__Bus__Series *s,
								size_t *n)
{
	size_t k = s->n_label_values < f->n_label_names ? s->n_label_values : f->n_label_names;
	Opentelemetry__Proto__Common__V1__KeyValue **kv;

	*n = 0;
	if (k == 0)
		return NULL;
	kv = cam_otlp_arena_alloc(c->a, k * sizeof(*kv));
	for (size_t i = 0; i < k; i++)
		if (s->label_values[i][0])
			kv[(*n)++] = cam_otlp_pb_str(c->a, f->label_names[i], s->label_values[i]);
	return kv;
}

static exemplar_t **exemplars(struct ctx *c, const Cam__Bus__Series *s, size_t *n)
{
	const Cam__Bus__Exemplar *e = s->exemplar;
	exemplar_t *x, **list;

	*n = 0;
	if (!e || !e->trace_id || !e->trace_id[0])
		return NULL;
	x = cam_otlp_arena_alloc(c->a, sizeof(*x));
	opentelemetry__proto__metrics__v1__exemplar__init(x);
	if (!cam_otlp_pb_hex_id(c->a, e->trace_id, 16, &x->trace_id))
		return NULL;
	cam_otlp_pb_hex_id(c->a, e->span_id, 8, &x->span_id);
	x->time_unix_nano = e->timestamp_ms > 0 ? (uint64_t)e->timestamp_ms * 1000000u : c->time_ns;
	x->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
	x->as_double = e->value;
	list = cam_otlp_arena_alloc(c->a, sizeof(*list));
	list[0] = x;
	*n = 1;
	return list;
}

static void number_points(struct ctx *c, const Cam__Bus__Family *f, bool cumulative,
			  size_t *n, number_point ***out)
{
	number_point **pts = cam_otlp_arena_alloc(c->a, f->n_series * sizeof(*pts));

	for (size_t i = 0; i < f->n_series; i++) {
		number_point *p = cam_otlp_arena_alloc(c->a, sizeof(*p));

		opentelemetry__proto__metrics__v1__number_data_point__init(p);
		p->attributes = attributes(c, f, f->series[i], &p->n_attributes);
		p->start_time_unix_nano = cumulative ? c->start_ns : 0;
		p->time_unix_nano = c->time_ns;
		p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
		p->as_double = f->series[i]->value;
		pts[i] = p;
	}
	*n = f->n_series;
	*out = pts;
	c->points += f->n_series;
}

static void classic_histogram(struct ctx *c, const Cam__Bus__Family *f, metric_t *m)
{
	Opentelemetry__Proto__Metrics__V1__Histogram *h = cam_otlp_arena_alloc(c->a, sizeof(*h));
	size_t k = 0;

	opentelemetry__proto__metrics__v1__histogram__init(h);
	h->aggregation_temporality = CUMULATIVE;
	h->data_points = cam_otlp_arena_alloc(c->a, f->n_series * sizeof(*h->data_points));
	for (size_t i = 0; i < f->n_series; i++) {
		const Cam__Bus__Series *s = f->series[i];
		hist_point *p;

		if (s->n_bucket_counts != f->n_bucket_bounds + 1)
			continue; /* cam_snapshot_unpack refuses these; belt and braces */
		p = cam_otlp_arena_alloc(c->a, sizeof(*p));
		opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
		p->attributes = attributes(c, f, s, &p->n_attributes);
		p->start_time_unix_nano = c->start_ns;
		p->time_unix_nano = c->time_ns;
		p->count = s->count;
		p->sum = s->sum;
		p->n_bucket_counts = s->n_bucket_counts;
		p->bucket_counts = s->bucket_counts;
		p->n_explicit_bounds = f->n_bucket_bounds;
		p->explicit_bounds = f->bucket_bounds;
		p->exemplars = exemplars(c, s, &p->n_exemplars);
		h->data_points[k++] = p;
	}
	h->n_data_points = k;
	c->points += k;
	m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
	m->histogram = h;
}

/* Prometheus' bucket i at schema s, halved d times, is ceil(i / 2^d). */
static int64_t halve(int64_t i, int d)
{
	int64_t w = (int64_t)1 << d;

	return i > 0 ? (i + w - 1) / w : -((-i) / w);
}

/*
 * One sign's spans and counts as OTel Buckets at schema - d: offset (the
 * first Prometheus index less one) and dense counts. Returns the first and
 * last index through *lo and *hi for the caller's width check.
 */
static void index_range(Cam__Bus__BucketSpan *const *spans, size_t nspans, int d,
			int64_t *lo, int64_t *hi)
{
	int64_t idx = 0;
	bool any = false;

	for (size_t i = 0; i < nspans; i++) {
		idx += spans[i]->offset;
		if (spans[i]->length == 0)
			continue;
		if (!any)
			*lo = halve(idx, d);
		any = true;
		idx += spans[i]->length;
		*hi = halve(idx - 1, d);
	}
	if (!any)
		*lo = *hi = 0;
}

static exp_buckets *dense_buckets(struct ctx *c, Cam__Bus__BucketSpan *const *spans,
				  size_t nspans, const uint64_t *counts, size_t ncounts, int d)
{
	exp_buckets *b = cam_otlp_arena_alloc(c->a, sizeof(*b));
	int64_t lo = 0, hi = -1, idx = 0;
	size_t k = 0;

	opentelemetry__proto__metrics__v1__exponential_histogram_data_point__buckets__init(b);
	index_range(spans, nspans, d, &lo, &hi);
	if (ncounts == 0 || hi < lo)
		return b;
	b->offset = (int32_t)(lo - 1);
	b->n_bucket_counts = (size_t)(hi - lo + 1);
	b->bucket_counts = cam_otlp_arena_alloc(c->a, b->n_bucket_counts * sizeof(uint64_t));
	for (size_t i = 0; i < nspans; i++) {
		idx += spans[i]->offset;
		for (uint32_t j = 0; j < spans[i]->length && k < ncounts; j++, idx++)
			b->bucket_counts[halve(idx, d) - lo] += counts[k++];
	}
	return b;
}

/* Halvings needed for both signs' buckets to fit CAM_OTLP_MAX_DENSE_BUCKETS. */
static int halvings(const Cam__Bus__NativeBuckets *nb)
{
	for (int d = 0; d < 40; d++) {
		int64_t plo = 0, phi = -1, nlo = 0, nhi = -1;

		index_range(nb->positive_spans, nb->n_positive_spans, d, &plo, &phi);
		index_range(nb->negative_spans, nb->n_negative_spans, d, &nlo, &nhi);
		if (phi - plo < CAM_OTLP_MAX_DENSE_BUCKETS && nhi - nlo < CAM_OTLP_MAX_DENSE_BUCKETS)
			return d;
	}
	return 40;
}

static void exponential_histogram(struct ctx *c, const Cam__Bus__Family *f, metric_t *m)
{
	Opentelemetry__Proto__Metrics__V1__ExponentialHistogram *h =
		cam_otlp_arena_alloc(c->a, sizeof(*h));
	size_t k = 0;

	opentelemetry__proto__metrics__v1__exponential_histogram__init(h);
	h->aggregation_temporality = CUMULATIVE;
	h->data_points = cam_otlp_arena_alloc(c->a, f->n_series * sizeof(*h->data_points));
	for (size_t i = 0; i < f->n_series; i++) {
		const Cam__Bus__Series *s = f->series[i];
		const Cam__Bus__NativeBuckets *nb = s->native;
		exp_point *p = cam_otlp_arena_alloc(c->a, sizeof(*p));
		int d = nb ? halvings(nb) : 0;

		opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init(p);
		p->attributes = attributes(c, f, s, &p->n_attributes);
		p->start_time_unix_nano = c->start_ns;
		p->time_unix_nano = c->time_ns;
		p->count = s->count;
		p->sum = s->sum;
		if (nb) {
			p->scale = nb->schema - d;
			p->zero_count = nb->zero_count;
			p->positive = dense_buckets(c, nb->positive_spans, nb->n_positive_spans,
						    nb->positive_counts, nb->n_positive_counts, d);
			p->negative = dense_buckets(c, nb->negative_spans, nb->n_negative_spans,
						    nb->negative_counts, nb->n_negative_counts, d);
		}
		p->exemplars = exemplars(c, s, &p->n_exemplars);
		h->data_points[k++] = p;
	}
	h->n_data_points = k;
	c->points += k;
	m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
	m->exponential_histogram = h;
}

static metric_t *metric(struct ctx *c, const Cam__Bus__Family *f)
{
	metric_t *m = cam_otlp_arena_alloc(c->a, sizeof(*m));

	opentelemetry__proto__metrics__v1__metric__init(m);
	m->name = f->name;
	m->description = f->help;
	m->unit = (char *)cam_otlp_unit(f);
	switch (f->type) {
	case CAM__BUS__METRIC_TYPE__COUNTER: {
		Opentelemetry__Proto__Metrics__V1__Sum *sum = cam_otlp_arena_alloc(c->a, sizeof(*sum));

		opentelemetry__proto__metrics__v1__sum__init(sum);
		sum->aggregation_temporality = CUMULATIVE;
		sum->is_monotonic = 1;
		number_points(c, f, true, &sum->n_data_points, &sum->data_points);
		m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
		m->sum = sum;
		break;
	}
	case CAM__BUS__METRIC_TYPE__GAUGE: {
		Opentelemetry__Proto__Metrics__V1__Gauge *g = cam_otlp_arena_alloc(c->a, sizeof(*g));

		opentelemetry__proto__metrics__v1__gauge__init(g);
		number_points(c, f, false, &g->n_data_points, &g->data_points);
		m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
		m->gauge = g;
		break;
	}
	case CAM__BUS__METRIC_TYPE__HISTOGRAM:
		if (f->native)
			exponential_histogram(c, f, m);
		else
			classic_histogram(c, f, m);
		break;
	default:
		return NULL;
	}
	return m;
}

static Opentelemetry__Proto__Metrics__V1__ResourceMetrics *
resource_metrics(struct ctx *c, const struct cam_otlp_kv_list *attrs,
		 const struct cam_otlp_metrics_src *src)
{
	Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm =
		cam_otlp_arena_alloc(c->a, sizeof(*rm));
	Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = cam_otlp_arena_alloc(c->a, sizeof(*sm));
	Opentelemetry__Proto__Metrics__V1__ScopeMetrics **sms =
		cam_otlp_arena_alloc(c->a, sizeof(*sms));
	const Cam__Bus__Snapshot *snap = src->snap;

	opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
	opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
	rm->resource = cam_otlp_pb_resource_new(c->a, attrs, src->service_from_attrs, src->service,
						src->instance_id, src->version);
	sm->scope = cam_otlp_pb_scope_new(c->a, src->scope, CAM_VERSION);
	sm->metrics = cam_otlp_arena_alloc(c->a, (snap->n_families + 1) * sizeof(*sm->metrics));
	for (size_t i = 0; i < snap->n_families; i++) {
		metric_t *m = metric(c, snap->families[i]);

		if (m)
			sm->metrics[sm->n_metrics++] = m;
	}
	sms[0] = sm;
	rm->n_scope_metrics = 1;
	rm->scope_metrics = sms;
	return rm;
}

size_t cam_otlp_metrics_encode(struct cam_otlp_arena *a, const struct cam_otlp_kv_list *attrs,
			       const struct cam_otlp_metrics_src *src, size_t n,
			       struct cam_render_buf *out)
{
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
	struct ctx c = { .a = a };
	size_t len;

	cam_otlp_arena_reset(a);
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(&req);
	req.resource_metrics = cam_otlp_arena_alloc(a, (n ? n : 1) * sizeof(*req.resource_metrics));
	for (size_t i = 0; i < n; i++) {
		if (!src[i].snap)
			continue;
		c.start_ns = src[i].start_time_seconds > 0
				     ? (uint64_t)(src[i].start_time_seconds * 1e9)
				     : 0;
		c.time_ns = (uint64_t)src[i].timestamp_ms * 1000000u;
		req.resource_metrics[req.n_resource_metrics++] = resource_metrics(&c, attrs, &src[i]);
	}
	len = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__get_packed_size(&req);
	out->len = 0;
	cam_render_buf_reserve(out, len);
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(
		&req, (uint8_t *)out->data);
	out->len = len;
	return c.points;
}
