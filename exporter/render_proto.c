/*
 * The protobuf renderer of render_proto.h.
 *
 * Each series becomes one Metric tree on the stack and in small arrays of
 * the scratch (label pairs, buckets, spans, deltas: reused from series to
 * series, so they stay in cache), which protobuf-c sizes and packs straight
 * into the output buffer as one more element of the family's field 4; the
 * family's varint length goes in front once its body is written.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/render_proto.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "proto/prometheus/metrics.pb-c.h"

typedef Io__Prometheus__Client__Metric Metric;
typedef Io__Prometheus__Client__LabelPair LabelPair;
typedef Io__Prometheus__Client__Counter Counter;
typedef Io__Prometheus__Client__Gauge Gauge;
typedef Io__Prometheus__Client__Histogram Histogram;
typedef Io__Prometheus__Client__Bucket Bucket;
typedef Io__Prometheus__Client__BucketSpan BucketSpan;
typedef Io__Prometheus__Client__Exemplar Exemplar;
typedef Io__Prometheus__Client__Timestamp Timestamp;

/* A grow-only array of n objects of one size. */
struct arr {
	void *p;
	size_t cap, size;
};

struct cam_proto_scratch {
	struct arr labels, label_ptrs, buckets, bucket_ptrs, ex_label_ptrs, spans, span_ptrs,
		deltas;
	size_t used_labels, used_buckets, used_spans, used_deltas;
};

/* Room for n objects, and never a NULL array (NULL + 0 is undefined). */
static void *arr_reserve(struct arr *a, size_t n)
{
	if (n == 0)
		n = 1;
	if (n > a->cap) {
		a->cap = n * 2;
		a->p = cam_xrealloc(a->p, a->cap * a->size);
	}
	return a->p;
}

struct cam_proto_scratch *cam_proto_scratch_new(void)
{
	struct cam_proto_scratch *sc = cam_xcalloc(1, sizeof(*sc));

	sc->labels.size = sizeof(LabelPair);
	sc->label_ptrs.size = sizeof(LabelPair *);
	sc->buckets.size = sizeof(Bucket);
	sc->bucket_ptrs.size = sizeof(Bucket *);
	sc->ex_label_ptrs.size = sizeof(LabelPair *);
	sc->spans.size = sizeof(BucketSpan);
	sc->span_ptrs.size = sizeof(BucketSpan *);
	sc->deltas.size = sizeof(int64_t);
	return sc;
}

void cam_proto_scratch_free(struct cam_proto_scratch *sc)
{
	if (!sc)
		return;
	struct arr *all[] = { &sc->labels, &sc->label_ptrs, &sc->buckets, &sc->bucket_ptrs,
			      &sc->ex_label_ptrs, &sc->spans, &sc->span_ptrs, &sc->deltas };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free(all[i]->p);
	free(sc);
}

/* Writes v as a base-128 varint; room was reserved. */
static void put_varint(struct cam_render_buf *b, size_t v)
{
	while (v >= 0x80) {
		b->data[b->len++] = (char)(0x80 | (v & 0x7f));
		v >>= 7;
	}
	b->data[b->len++] = (char)v;
}

static bool series_fits(const Cam__Bus__Family *f, const Cam__Bus__Series *s)
{
	if (s->n_label_values != f->n_label_names)
		return false;
	return f->type != CAM__BUS__METRIC_TYPE__HISTOGRAM ||
	       s->n_bucket_counts == f->n_bucket_bounds + 1;
}

static size_t native_buckets(const Cam__Bus__Series *s)
{
	return s->native ? s->native->n_positive_counts + s->native->n_negative_counts : 0;
}

static size_t native_spans(const Cam__Bus__Series *s)
{
	/* One more than the spans: an empty histogram gets a {0, 0} span. */
	return s->native ? s->native->n_positive_spans + s->native->n_negative_spans + 1 : 0;
}

/* Sizes every array of sc for one series of f and starts it empty: the
 * arrays hold one metric at a time, so they stay small and in cache. */
static void reserve_series(struct cam_proto_scratch *sc, const Cam__Bus__Family *f,
			   const Cam__Bus__Series *s)
{
	arr_reserve(&sc->labels, f->n_label_names);
	arr_reserve(&sc->label_ptrs, f->n_label_names);
	if (f->type == CAM__BUS__METRIC_TYPE__HISTOGRAM) {
		arr_reserve(&sc->buckets, f->n_bucket_bounds);
		arr_reserve(&sc->bucket_ptrs, f->n_bucket_bounds);
		arr_reserve(&sc->ex_label_ptrs, 2);
		arr_reserve(&sc->spans, native_spans(s));
		arr_reserve(&sc->span_ptrs, native_spans(s));
		arr_reserve(&sc->deltas, native_buckets(s));
	}
	sc->used_labels = sc->used_buckets = sc->used_spans = sc->used_deltas = 0;
}

static void set_labels(struct cam_proto_scratch *sc, Metric *m, const Cam__Bus__Family *f,
		       const Cam__Bus__Series *s)
{
	LabelPair *lp = (LabelPair *)sc->labels.p + sc->used_labels;
	LabelPair **pp = (LabelPair **)sc->label_ptrs.p + sc->used_labels;

	for (size_t i = 0; i < f->n_label_names; i++) {
		io__prometheus__client__label_pair__init(&lp[i]);
		lp[i].name = f->label_names[i];
		lp[i].value = s->label_values[i];
		pp[i] = &lp[i];
	}
	m->n_label = f->n_label_names;
	m->label = f->n_label_names ? pp : NULL;
	sc->used_labels += f->n_label_names;
}

/* The exemplar of s as a message in x (its labels in lp, its time in
 * ts), or NULL when it has none to show. */
static Exemplar *exemplar(struct cam_proto_scratch *sc, const Cam__Bus__Exemplar *e, Exemplar *x,
			  LabelPair *lp, Timestamp *ts)
{
	LabelPair **pp;

	if (!e || !e->trace_id || !e->trace_id[0] || e->timestamp_ms < 0 || !isfinite(e->value))
		return NULL;
	pp = (LabelPair **)sc->ex_label_ptrs.p;
	io__prometheus__client__exemplar__init(x);
	io__prometheus__client__label_pair__init(&lp[0]);
	io__prometheus__client__label_pair__init(&lp[1]);
	io__prometheus__client__timestamp__init(ts);
	lp[0].name = "trace_id";
	lp[0].value = e->trace_id;
	lp[1].name = "span_id";
	lp[1].value = e->span_id;
	pp[0] = &lp[0];
	pp[1] = &lp[1];
	x->n_label = e->span_id && e->span_id[0] ? 2 : 1;
	x->label = pp;
	x->has_value = true;
	x->value = e->value;
	ts->has_seconds = ts->has_nanos = true;
	ts->seconds = e->timestamp_ms / 1000;
	ts->nanos = (int32_t)(e->timestamp_ms % 1000) * 1000000;
	x->timestamp = ts;
	return x;
}

/* Spans and deltas of one sign's native buckets. */
static void set_native_side(struct cam_proto_scratch *sc, Cam__Bus__BucketSpan *const *bspans,
			    size_t nspans, const uint64_t *counts, size_t ncounts,
			    size_t *n_out_spans, BucketSpan ***out_spans, size_t *n_out_deltas,
			    int64_t **out_deltas)
{
	BucketSpan *sp = (BucketSpan *)sc->spans.p + sc->used_spans;
	BucketSpan **pp = (BucketSpan **)sc->span_ptrs.p + sc->used_spans;
	int64_t *d = (int64_t *)sc->deltas.p + sc->used_deltas;
	uint64_t prev = 0;

	for (size_t i = 0; i < nspans; i++) {
		io__prometheus__client__bucket_span__init(&sp[i]);
		sp[i].has_offset = sp[i].has_length = true;
		sp[i].offset = bspans[i]->offset;
		sp[i].length = bspans[i]->length;
		pp[i] = &sp[i];
	}
	for (size_t i = 0; i < ncounts; i++) {
		d[i] = (int64_t)(counts[i] - prev);
		prev = counts[i];
	}
	*n_out_spans = nspans;
	*out_spans = nspans ? pp : NULL;
	*n_out_deltas = ncounts;
	*out_deltas = ncounts ? d : NULL;
	sc->used_spans += nspans;
	sc->used_deltas += ncounts;
}

static void set_native(struct cam_proto_scratch *sc, Histogram *h, const Cam__Bus__NativeBuckets *nb)
{
	h->has_schema = h->has_zero_threshold = h->has_zero_count = true;
	h->schema = nb->schema;
	h->zero_threshold = nb->zero_threshold;
	h->zero_count = nb->zero_count;
	set_native_side(sc, nb->positive_spans, nb->n_positive_spans, nb->positive_counts,
			nb->n_positive_counts, &h->n_positive_span, &h->positive_span,
			&h->n_positive_delta, &h->positive_delta);
	set_native_side(sc, nb->negative_spans, nb->n_negative_spans, nb->negative_counts,
			nb->n_negative_counts, &h->n_negative_span, &h->negative_span,
			&h->n_negative_delta, &h->negative_delta);
	if (!h->n_positive_span && !h->n_negative_span) {
		/* No buckets yet: one empty span says "native" all the same. */
		BucketSpan *sp = (BucketSpan *)sc->spans.p + sc->used_spans;
		BucketSpan **pp = (BucketSpan **)sc->span_ptrs.p + sc->used_spans;

		io__prometheus__client__bucket_span__init(sp);
		sp->has_offset = sp->has_length = true;
		*pp = sp;
		h->n_positive_span = 1;
		h->positive_span = pp;
		sc->used_spans++;
	}
}

static void set_histogram(struct cam_proto_scratch *sc, Histogram *h, const Cam__Bus__Family *f,
			  const Cam__Bus__Series *s, Exemplar *xs, LabelPair *xl, Timestamp *xt)
{
	Bucket *bk = (Bucket *)sc->buckets.p + sc->used_buckets;
	Bucket **pp = (Bucket **)sc->bucket_ptrs.p + sc->used_buckets;
	Exemplar *ex = exemplar(sc, s->exemplar, xs, xl, xt);
	uint64_t cum = 0;
	size_t i;

	io__prometheus__client__histogram__init(h);
	for (i = 0; i < f->n_bucket_bounds; i++) {
		cum += s->bucket_counts[i];
		io__prometheus__client__bucket__init(&bk[i]);
		bk[i].has_cumulative_count = bk[i].has_upper_bound = true;
		bk[i].cumulative_count = cum;
		bk[i].upper_bound = f->bucket_bounds[i];
		if (ex && s->bucket_counts[i] &&
		    ex->value <= f->bucket_bounds[i] && (i == 0 || ex->value > f->bucket_bounds[i - 1]))
			bk[i].exemplar = ex;
		pp[i] = &bk[i];
	}
	cum += s->bucket_counts[i]; /* +Inf: the count, implied */
	h->n_bucket = f->n_bucket_bounds;
	h->bucket = f->n_bucket_bounds ? pp : NULL;
	sc->used_buckets += f->n_bucket_bounds;
	h->has_sample_count = h->has_sample_sum = true;
	h->sample_count = cum;
	h->sample_sum = s->sum;
	if (s->native)
		set_native(sc, h, s->native);
}

void cam_render_proto_family(struct cam_render_buf *b, struct cam_proto_scratch *sc,
			     const Cam__Bus__Family *f, struct cam_render_result *res)
{
	Io__Prometheus__Client__MetricFamily mf = IO__PROMETHEUS__CLIENT__METRIC_FAMILY__INIT;
	bool hist = f->type == CAM__BUS__METRIC_TYPE__HISTOGRAM;
	size_t start, body;

	mf.name = f->name;
	mf.help = f->help;
	mf.has_type = true;
	mf.type = hist ? IO__PROMETHEUS__CLIENT__METRIC_TYPE__HISTOGRAM
		: f->type == CAM__BUS__METRIC_TYPE__COUNTER ? IO__PROMETHEUS__CLIENT__METRIC_TYPE__COUNTER
							    : IO__PROMETHEUS__CLIENT__METRIC_TYPE__GAUGE;
	/*
	 * Room for the longest length prefix, the family's own fields, then
	 * each metric as one more field 4 (a repeated field may come one
	 * element at a time), built, sized and packed one by one; the body then
	 * moves back behind its actual prefix.
	 */
	start = b->len;
	cam_render_buf_reserve(b, 10 + io__prometheus__client__metric_family__get_packed_size(&mf));
	b->len += 10;
	b->len += io__prometheus__client__metric_family__pack(&mf, (uint8_t *)b->data + b->len);
	for (size_t i = 0; i < f->n_series; i++) {
		const Cam__Bus__Series *s = f->series[i];
		Metric m = IO__PROMETHEUS__CLIENT__METRIC__INIT;
		Histogram h;
		Counter c = IO__PROMETHEUS__CLIENT__COUNTER__INIT;
		Gauge g = IO__PROMETHEUS__CLIENT__GAUGE__INIT;
		Exemplar ex;
		LabelPair exl[2];
		Timestamp ts;
		size_t size;

		if (!series_fits(f, s)) {
			res->invalid++;
			continue;
		}
		reserve_series(sc, f, s);
		set_labels(sc, &m, f, s);
		if (hist) {
			set_histogram(sc, &h, f, s, &ex, exl, &ts);
			m.histogram = &h;
		} else if (f->type == CAM__BUS__METRIC_TYPE__COUNTER) {
			c.has_value = true;
			c.value = s->value;
			m.counter = &c;
		} else {
			g.has_value = true;
			g.value = s->value;
			m.gauge = &g;
		}
		size = io__prometheus__client__metric__get_packed_size(&m);
		cam_render_buf_reserve(b, 1 + 10 + size);
		b->data[b->len++] = (char)((4 << 3) | 2); /* field 4, length-delimited */
		put_varint(b, size);
		b->len += io__prometheus__client__metric__pack(&m, (uint8_t *)b->data + b->len);
		res->series++;
	}
	body = b->len - start - 10;
	b->len = start;
	put_varint(b, body);
	memmove(b->data + b->len, b->data + start + 10, body);
	b->len += body;
	res->families++;
}
