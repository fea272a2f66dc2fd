/*
 * Fuzzes the Prometheus protobuf renderer (exporter/render_proto.c) over
 * every snapshot cam_snapshot_unpack accepts: native buckets (schema, zero
 * bucket, spans, counts) as well as classic ones, exemplars, labels.
 *
 * Checks, besides no crash, leak or UB: the output is a sequence of
 * varint-delimited messages that protobuf-c's generated unpacker for
 * io.prometheus.client.MetricFamily accepts, one per family, each with the
 * family's name and one metric per series; and what a scraper relies on
 * holds: classic cumulative counts never fall and stay within the sample
 * count, native spans cover exactly the deltas given, the counts the
 * deltas add up to are never negative, zero count plus bucket counts stay
 * within the sample count, and an empty native histogram still has a span.
 *
 * Objects: common/snapshot.o common/metrics.o common/native_hist.o common/utf8.o common/xmalloc.o gen/proto/bus.pb-c.o gen/proto/prometheus/metrics.pb-c.o exporter/render.o exporter/render_proto.o
 * Libs: libprotobuf-c -lpthread -lm
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/snapshot.h"
#include "exporter/render.h"
#include "proto/prometheus/metrics.pb-c.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef Io__Prometheus__Client__MetricFamily MetricFamily;
typedef Io__Prometheus__Client__Histogram Histogram;

/* Adds the counts a sign's deltas stand for to *total; false if one is
 * negative or the spans do not cover the deltas. */
static bool native_side_ok(Io__Prometheus__Client__BucketSpan **spans, size_t nspans,
			   const int64_t *deltas, size_t ndeltas, uint64_t *total)
{
	size_t covered = 0;
	int64_t count = 0;

	for (size_t i = 0; i < nspans; i++) {
		if (i > 0 && spans[i]->offset < 0)
			return false;
		covered += spans[i]->length;
	}
	if (covered != ndeltas)
		return false;
	for (size_t i = 0; i < ndeltas; i++) {
		if (__builtin_add_overflow(count, deltas[i], &count) || count < 0)
			return false;
		*total += (uint64_t)count;
	}
	return true;
}

static void check_histogram(const Histogram *h, bool native)
{
	uint64_t prev = 0, total;

	FUZZ_CHECK(h->has_sample_count);
	for (size_t i = 0; i < h->n_bucket; i++) {
		FUZZ_CHECK(h->bucket[i]->cumulative_count >= prev);
		prev = h->bucket[i]->cumulative_count;
		if (i)
			FUZZ_CHECK(h->bucket[i]->upper_bound > h->bucket[i - 1]->upper_bound);
	}
	FUZZ_CHECK(prev <= h->sample_count);
	FUZZ_CHECK(h->has_schema == native);
	if (!native)
		return;
	FUZZ_CHECK(h->schema >= -4 && h->schema <= 8);
	FUZZ_CHECK(h->n_positive_span + h->n_negative_span > 0);
	total = h->zero_count;
	FUZZ_CHECK(native_side_ok(h->positive_span, h->n_positive_span, h->positive_delta,
				  h->n_positive_delta, &total));
	FUZZ_CHECK(native_side_ok(h->negative_span, h->n_negative_span, h->negative_delta,
				  h->n_negative_delta, &total));
	FUZZ_CHECK(total <= h->sample_count);
}

static void check_family(const MetricFamily *mf, const Cam__Bus__Family *f)
{
	bool hist = f->type == CAM__BUS__METRIC_TYPE__HISTOGRAM;

	FUZZ_CHECK(strcmp(mf->name, f->name) == 0);
	FUZZ_CHECK(mf->n_metric == f->n_series);
	for (size_t k = 0; k < mf->n_metric; k++) {
		const Io__Prometheus__Client__Metric *m = mf->metric[k];

		FUZZ_CHECK(m->n_label == f->n_label_names);
		FUZZ_CHECK((m->histogram != NULL) == hist);
		if (hist)
			check_histogram(m->histogram, f->series[k]->native != NULL);
		else
			FUZZ_CHECK((f->type == CAM__BUS__METRIC_TYPE__COUNTER ? (void *)m->counter
										: (void *)m->gauge) != NULL);
	}
}

static void check_stream(const struct cam_render_buf *b, const Cam__Bus__Snapshot *s)
{
	size_t pos = 0, n = 0;

	while (pos < b->len) {
		uint64_t len = 0;
		MetricFamily *mf;
		int shift = 0;
		uint8_t c;

		do {
			FUZZ_CHECK(pos < b->len && shift < 64);
			c = (uint8_t)b->data[pos++];
			len |= (uint64_t)(c & 0x7f) << shift;
			shift += 7;
		} while (c & 0x80);
		FUZZ_CHECK(len <= b->len - pos);
		mf = io__prometheus__client__metric_family__unpack(NULL, len,
								  (const uint8_t *)b->data + pos);
		FUZZ_CHECK(mf != NULL);
		FUZZ_CHECK(n < s->n_families);
		check_family(mf, s->families[n]);
		io__prometheus__client__metric_family__free_unpacked(mf, NULL);
		pos += len;
		n++;
	}
	FUZZ_CHECK(n == s->n_families);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const Cam__Bus__Snapshot *snaps[1];
	struct cam_render_result res;
	struct cam_render_buf b;
	Cam__Bus__Envelope *e;
	const char *why = NULL;

	e = cam_snapshot_unpack(data, size, &why);
	if (!e) {
		FUZZ_CHECK(why != NULL);
		return 0;
	}
	if (e->body_case == CAM__BUS__ENVELOPE__BODY_SNAPSHOT) {
		snaps[0] = e->snapshot;
		cam_render_buf_init(&b, 0);
		cam_render(&b, CAM_RENDER_PROTOBUF, snaps, 1, &res);
		FUZZ_CHECK(res.invalid == 0 && res.conflicts == 0);
		check_stream(&b, e->snapshot);
		cam_render_buf_free(&b);
	}
	cam_snapshot_unpacked_free(e);
	return 0;
}
