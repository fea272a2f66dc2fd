/*
 * The protobuf renderer of render_proto.h.
 *
 * One family becomes one message tree in arrays of the scratch (metrics,
 * label pairs, values, buckets, spans, deltas: each array sized for the
 * family first, then filled), which protobuf-c sizes and packs straight
 * into the output buffer behind its varint length.
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
	struct arr metrics, metric_ptrs, labels, label_ptrs, values, hists, buckets,
		bucket_ptrs, exemplars, ex_labels, ex_label_ptrs, stamps, spans, span_ptrs,
		deltas, sizes;
	size_t used_labels, used_buckets, used_ex, used_spans, used_deltas;
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

	sc->metrics.size = sizeof(Metric);
	sc->metric_ptrs.size = sizeof(Metric *);
	sc->labels.size = sizeof(LabelPair);
	sc->label_ptrs.size = sizeof(LabelPair *);
	sc->values.size = sizeof(Counter) > sizeof(Gauge) ? sizeof(Counter) : sizeof(Gauge);
	sc->hists.size = sizeof(Histogram);
	sc->buckets.size = sizeof(Bucket);
	sc->bucket_ptrs.size = sizeof(Bucket *);
	sc->exemplars.size = sizeof(Exemplar);
	sc->ex_labels.size = sizeof(LabelPair);
	sc->ex_label_ptrs.size = sizeof(LabelPair *);
	sc->stamps.size = sizeof(Timestamp);
	sc->spans.size = sizeof(BucketSpan);
	sc->span_ptrs.size = sizeof(BucketSpan *);
	sc->deltas.size = sizeof(int64_t);
	sc->sizes.size = sizeof(size_t);
	return sc;
}

void cam_proto_scratch_free(struct cam_proto_scratch *sc)
{
	if (!sc)
		return;
	struct arr *all[] = { &sc->metrics, &sc->metric_ptrs, &sc->labels, &sc->label_ptrs,
			      &sc->values, &sc->hists, &sc->buckets, &sc->bucket_ptrs,
			      &sc->exemplars, &sc->ex_labels, &sc->ex_label_ptrs, &sc->stamps,
			      &sc->spans, &sc->span_ptrs, &sc->deltas, &sc->sizes };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free(all[i]->p);
	free(sc);
}

static size_t varint_len(size_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
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

/* Sizes every array of sc for family f. */
static void reserve_family(struct cam_proto_scratch *sc, const Cam__Bus__Family *f)
{
	size_t n = f->n_series, nb = 0, nsp = 0;

	for (size_t i = 0; i < n; i++) {
		nb += native_buckets(f->series[i]);
		nsp += native_spans(f->series[i]);
	}
	arr_reserve(&sc->metrics, n);
	arr_reserve(&sc->metric_ptrs, n);
	arr_reserve(&sc->labels, n * f->n_label_names);
	arr_reserve(&sc->label_ptrs, n * f->n_label_names);
	arr_reserve(&sc->values, n);
	if (f->type == CAM__BUS__METRIC_TYPE__HISTOGRAM) {
		arr_reserve(&sc->hists, n);
		arr_reserve(&sc->buckets, n * f->n_bucket_bounds);
		arr_reserve(&sc->bucket_ptrs, n * f->n_bucket_bounds);
		arr_reserve(&sc->exemplars, n);
		arr_reserve(&sc->ex_labels, n * 2);
		arr_reserve(&sc->ex_label_ptrs, n * 2);
		arr_reserve(&sc->stamps, n);
		arr_reserve(&sc->spans, nsp);
		arr_reserve(&sc->span_ptrs, nsp);
		arr_reserve(&sc->deltas, nb);
	}
	sc->used_labels = sc->used_buckets = sc->used_ex = sc->used_spans = sc->used_deltas = 0;
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

/* The exemplar of s as a message, or NULL when it has none to show. */
static Exemplar *exemplar(struct cam_proto_scratch *sc, const Cam__Bus__Exemplar *e)
{
	Exemplar *x;
	LabelPair *lp, **pp;
	Timestamp *ts;

	if (!e || !e->trace_id || !e->trace_id[0] || e->timestamp_ms < 0 || !isfinite(e->value))
		return NULL;
	x = (Exemplar *)sc->exemplars.p + sc->used_ex;
	lp = (LabelPair *)sc->ex_labels.p + 2 * sc->used_ex;
	pp = (LabelPair **)sc->ex_label_ptrs.p + 2 * sc->used_ex;
	ts = (Timestamp *)sc->stamps.p + sc->used_ex;
	sc->used_ex++;
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
			  const Cam__Bus__Series *s)
{
	Bucket *bk = (Bucket *)sc->buckets.p + sc->used_buckets;
	Bucket **pp = (Bucket **)sc->bucket_ptrs.p + sc->used_buckets;
	Exemplar *ex = exemplar(sc, s->exemplar);
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
	Metric *ms, **mp;
	size_t n = 0, size, *sizes;

	reserve_family(sc, f);
	ms = sc->metrics.p;
	mp = sc->metric_ptrs.p;
	sizes = arr_reserve(&sc->sizes, f->n_series);
	for (size_t i = 0; i < f->n_series; i++) {
		const Cam__Bus__Series *s = f->series[i];
		Metric *m = &ms[n];

		if (!series_fits(f, s)) {
			res->invalid++;
			continue;
		}
		io__prometheus__client__metric__init(m);
		set_labels(sc, m, f, s);
		if (hist) {
			m->histogram = (Histogram *)sc->hists.p + n;
			set_histogram(sc, m->histogram, f, s);
		} else if (f->type == CAM__BUS__METRIC_TYPE__COUNTER) {
			Counter *c = (Counter *)sc->values.p + n;
			io__prometheus__client__counter__init(c);
			c->has_value = true;
			c->value = s->value;
			m->counter = c;
		} else {
			Gauge *g = (Gauge *)sc->values.p + n;
			io__prometheus__client__gauge__init(g);
			g->has_value = true;
			g->value = s->value;
			m->gauge = g;
		}
		mp[n++] = m;
		res->series++;
	}
	mf.name = f->name;
	mf.help = f->help;
	mf.has_type = true;
	mf.type = hist ? IO__PROMETHEUS__CLIENT__METRIC_TYPE__HISTOGRAM
		: f->type == CAM__BUS__METRIC_TYPE__COUNTER ? IO__PROMETHEUS__CLIENT__METRIC_TYPE__COUNTER
							    : IO__PROMETHEUS__CLIENT__METRIC_TYPE__GAUGE;
	/*
	 * The family's own fields, then each metric as one more field 4
	 * (repeated fields may come one by one): protobuf-c sizes each metric
	 * once here instead of once for the family and again while packing it.
	 */
	size = io__prometheus__client__metric_family__get_packed_size(&mf);
	for (size_t i = 0; i < n; i++) {
		sizes[i] = io__prometheus__client__metric__get_packed_size(mp[i]);
		size += 1 + varint_len(sizes[i]) + sizes[i];
	}
	cam_render_buf_reserve(b, size + 10);
	put_varint(b, size);
	b->len += io__prometheus__client__metric_family__pack(&mf, (uint8_t *)b->data + b->len);
	for (size_t i = 0; i < n; i++) {
		b->data[b->len++] = (char)((4 << 3) | 2); /* field 4, length-delimited */
		put_varint(b, sizes[i]);
		b->len += io__prometheus__client__metric__pack(mp[i], (uint8_t *)b->data + b->len);
	}
	res->families++;
}
