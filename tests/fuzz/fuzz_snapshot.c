/*
 * Fuzzes cam_snapshot_unpack (common/snapshot.c): what the exporter calls
 * on every message that arrives on the bus (exporter/subscriber.c), and
 * then what it does with an accepted one: the Prometheus/OpenMetrics
 * renderer (exporter/render.c) for a snapshot, the OTLP and Zipkin JSON
 * encoders (exporter/span_json.c) for a span batch.
 *
 * Checks, besides no crash, leak or UB: garbage is refused with a reason;
 * an accepted envelope holds a snapshot or a span batch that satisfies what
 * snapshot.h promises (checked again here independently: names, label
 * counts, UTF-8, bucket bounds and counts, distinct family names, span ids);
 * packed again it is accepted again and packs to the same bytes; a
 * snapshot renders in both formats as UTF-8 lines, each a comment with a
 * non-empty family name or a sample, with no series skipped as invalid and
 * OpenMetrics ending in "# EOF"; a span batch encodes as valid JSON in both
 * formats.
 *
 * Objects: common/snapshot.o common/metrics.o common/native_hist.o common/utf8.o common/xmalloc.o gen/proto/bus.pb-c.o gen/proto/prometheus/metrics.pb-c.o exporter/render.o exporter/render_proto.o exporter/span_json.o
 * Libs: libprotobuf-c -lpthread -lm
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "common/snapshot.h"
#include "exporter/render.h"
#include "exporter/span_json.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool utf8_str(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n <= max && fuzz_utf8_ok((const uint8_t *)s, n);
}

static bool hex_str(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c == ':' || (!first && c >= '0' && c <= '9');
}

static void check_snapshot(const Cam__Bus__Snapshot *s)
{
	FUZZ_CHECK(s->n_families <= 4096);
	for (size_t i = 0; i < s->n_families; i++) {
		const Cam__Bus__Family *f = s->families[i];
		bool hist = f->type == CAM__BUS__METRIC_TYPE__HISTOGRAM;

		FUZZ_CHECK(f->name[0] && strlen(f->name) <= CAM_METRICS_MAX_NAME);
		for (size_t k = 0; f->name[k]; k++)
			FUZZ_CHECK(name_char(f->name[k], k == 0));
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(s->families[j]->name, f->name) != 0);
		FUZZ_CHECK(f->type >= CAM__BUS__METRIC_TYPE__COUNTER &&
			   f->type <= CAM__BUS__METRIC_TYPE__HISTOGRAM);
		FUZZ_CHECK(utf8_str(f->help, SIZE_MAX) && utf8_str(f->unit, SIZE_MAX));
		FUZZ_CHECK(f->n_label_names <= CAM_METRICS_MAX_LABELS);
		for (size_t k = 0; k < f->n_label_names; k++)
			FUZZ_CHECK(cam_label_name_valid(f->label_names[k]));
		FUZZ_CHECK(f->n_bucket_bounds <= CAM_METRICS_MAX_BUCKETS);
		FUZZ_CHECK(hist || f->n_bucket_bounds == 0);
		for (size_t k = 0; k < f->n_bucket_bounds; k++)
			FUZZ_CHECK(isfinite(f->bucket_bounds[k]) &&
				   (k == 0 || f->bucket_bounds[k] > f->bucket_bounds[k - 1]));
		for (size_t k = 0; k < f->n_series; k++) {
			const Cam__Bus__Series *se = f->series[k];

			FUZZ_CHECK(se->n_label_values == f->n_label_names);
			for (size_t v = 0; v < se->n_label_values; v++)
				FUZZ_CHECK(utf8_str(se->label_values[v],
						    CAM_METRICS_MAX_LABEL_VALUE));
			FUZZ_CHECK(se->n_bucket_counts ==
				   (hist ? f->n_bucket_bounds + 1 : 0));
			if (se->exemplar) {
				FUZZ_CHECK(hist);
				FUZZ_CHECK(hex_str(se->exemplar->trace_id, 32));
				FUZZ_CHECK(hex_str(se->exemplar->span_id, 16) ||
					   !se->exemplar->span_id[0]);
			}
		}
	}
}

static void check_spans(const Cam__Bus__SpanBatch *b)
{
	FUZZ_CHECK(b->n_spans <= CAM_SPAN_BATCH_MAX);
	FUZZ_CHECK(utf8_str(b->instance_id, 128) && utf8_str(b->version, 128));
	for (size_t i = 0; i < b->n_spans; i++) {
		const Cam__Bus__Span *sp = b->spans[i];

		FUZZ_CHECK(hex_str(sp->trace_id, 32) && hex_str(sp->span_id, 16));
		FUZZ_CHECK(hex_str(sp->parent_span_id, 16) || !sp->parent_span_id[0]);
		FUZZ_CHECK(utf8_str(sp->name, 256) && utf8_str(sp->service, 128));
		FUZZ_CHECK(sp->duration_ns >= 0);
		FUZZ_CHECK(sp->n_attributes <= CAM_SPAN_MAX_ATTRIBUTES);
		for (size_t k = 0; k < sp->n_attributes; k++)
			FUZZ_CHECK(utf8_str(sp->attributes[k]->key, 256) &&
				   utf8_str(sp->attributes[k]->value, 1024));
	}
}

/* Every line of an exposition: "# HELP|TYPE|UNIT name ..." with a non-empty
 * name, "# EOF", or a sample starting with a metric name; and no family
 * name on two TYPE lines (both formats want each family once). */
static void check_exposition(const struct cam_render_buf *b, bool om)
{
	const char *p = b->data, *end = b->data + b->len;
	const char **types = NULL;
	size_t ntypes = 0;

	FUZZ_CHECK(fuzz_utf8_ok((const uint8_t *)b->data, b->len));
	FUZZ_CHECK(b->len == 0 || b->data[b->len - 1] == '\n');
	if (om)
		FUZZ_CHECK(b->len >= 6 && memcmp(end - 6, "# EOF\n", 6) == 0);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)(nl - p);
		bool ok;

		if (p[0] == '#')
			ok = (len == 5 && memcmp(p, "# EOF", 5) == 0) ||
			     (len > 7 &&
			      (memcmp(p, "# HELP ", 7) == 0 || memcmp(p, "# TYPE ", 7) == 0 ||
			       memcmp(p, "# UNIT ", 7) == 0) &&
			      name_char(p[7], true));
		else
			ok = len > 0 && name_char(p[0], true);
		if (!ok)
			fprintf(stderr, "bad %s line: \"%.*s\"\n", om ? "OpenMetrics" : "text",
				(int)len, p);
		FUZZ_CHECK(ok);
		if (memcmp(p, "# TYPE ", 7) == 0) {
			size_t nlen = strcspn(p + 7, " \n");

			for (size_t i = 0; i < ntypes; i++) {
				size_t olen = strcspn(types[i], " \n");

				if (olen == nlen && memcmp(types[i], p + 7, nlen) == 0) {
					fprintf(stderr, "family %.*s has two TYPE lines (%s)\n",
						(int)nlen, p + 7, om ? "OpenMetrics" : "text");
					FUZZ_CHECK(!"a family name given twice");
				}
			}
			types = realloc(types, (ntypes + 1) * sizeof(*types));
			types[ntypes++] = p + 7;
		}
		p = nl + 1;
	}
	free(types);
}

static void render(const Cam__Bus__Snapshot *s)
{
	for (int om = 0; om <= 1; om++) {
		struct cam_render_buf b;
		struct cam_render_result res;

		cam_render_buf_init(&b, 0);
		cam_render(&b, om ? CAM_RENDER_OPENMETRICS : CAM_RENDER_TEXT, &s, 1, &res);
		check_exposition(&b, om);
		FUZZ_CHECK(res.invalid == 0 && res.conflicts == 0);
		FUZZ_CHECK(res.families <= s->n_families);
		cam_render_buf_free(&b);
	}
}

static void encode_spans(const Cam__Bus__SpanBatch *batch)
{
	struct cam_span_ref *refs = calloc(batch->n_spans + 1, sizeof(*refs));

	for (size_t i = 0; i < batch->n_spans; i++) {
		refs[i].span = batch->spans[i];
		refs[i].batch = batch;
	}
	for (int zipkin = 0; zipkin <= 1; zipkin++) {
		struct cam_render_buf b;

		cam_render_buf_init(&b, 0);
		if (zipkin)
			cam_span_json_zipkin(&b, refs, batch->n_spans, "cam-exporter");
		else
			cam_span_json_otlp(&b, refs, batch->n_spans, "cam-exporter");
		if (!fuzz_json_ok(b.data, b.len))
			fprintf(stderr, "not JSON: %.*s\n", (int)b.len, b.data);
		FUZZ_CHECK(fuzz_json_ok(b.data, b.len));
		cam_render_buf_free(&b);
	}
	free(refs);
}

/*
 * Every message of the tree, to set their unknown fields aside while the
 * envelope is packed again: protobuf-c keeps fields it does not know and
 * packs them back, but accepts a field number 0 when its tag is encoded in
 * more bytes than needed (0x85 0x00) and refuses the one-byte 0x05 it
 * writes back; that is protobuf-c's business, not the checks'.
 */
struct msgs {
	ProtobufCMessage **m;
	size_t n, cap;
};

static void add(struct msgs *l, void *msg)
{
	if (!msg)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->m = realloc(l->m, l->cap * sizeof(*l->m));
		FUZZ_CHECK(l->m != NULL);
	}
	l->m[l->n++] = msg;
}

static void collect(struct msgs *l, Cam__Bus__Envelope *e)
{
	add(l, e);
	/* snapshot and spans share a union: body_case says which. */
	if (e->body_case == CAM__BUS__ENVELOPE__BODY_SNAPSHOT && e->snapshot) {
		add(l, e->snapshot);
		for (size_t i = 0; i < e->snapshot->n_families; i++) {
			Cam__Bus__Family *f = e->snapshot->families[i];

			add(l, f);
			for (size_t k = 0; k < f->n_series; k++) {
				add(l, f->series[k]);
				add(l, f->series[k]->exemplar);
			}
		}
	}
	if (e->body_case == CAM__BUS__ENVELOPE__BODY_SPANS && e->spans) {
		add(l, e->spans);
		for (size_t i = 0; i < e->spans->n_spans; i++) {
			add(l, e->spans->spans[i]);
			for (size_t k = 0; k < e->spans->spans[i]->n_attributes; k++)
				add(l, e->spans->spans[i]->attributes[k]);
		}
	}
}

/* Packs e without its unknown fields into a new buffer. */
static uint8_t *pack_known(Cam__Bus__Envelope *e, size_t *len)
{
	struct msgs l = { 0 };
	unsigned *saved;
	uint8_t *buf;

	collect(&l, e);
	saved = calloc(l.n + 1, sizeof(*saved));
	for (size_t i = 0; i < l.n; i++) {
		saved[i] = l.m[i]->n_unknown_fields;
		l.m[i]->n_unknown_fields = 0;
	}
	*len = cam__bus__envelope__get_packed_size(e);
	buf = malloc(*len + 1);
	FUZZ_CHECK(cam__bus__envelope__pack(e, buf) == *len);
	for (size_t i = 0; i < l.n; i++)
		l.m[i]->n_unknown_fields = saved[i];
	free(saved);
	free(l.m);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL, *why2 = NULL;
	Cam__Bus__Envelope *e, *e2;
	uint8_t *buf, *buf2;
	size_t n, n2;

	e = cam_snapshot_unpack(data, size, &why);
	if (!e) {
		FUZZ_CHECK(why != NULL && why[0] != '\0');
		return 0;
	}
	if (e->body_case == CAM__BUS__ENVELOPE__BODY_SNAPSHOT) {
		FUZZ_CHECK(e->snapshot != NULL);
		check_snapshot(e->snapshot);
		render(e->snapshot);
	} else {
		FUZZ_CHECK(e->body_case == CAM__BUS__ENVELOPE__BODY_SPANS && e->spans);
		check_spans(e->spans);
		encode_spans(e->spans);
	}

	/* Packed again: accepted again, and the same bytes once more. */
	buf = pack_known(e, &n);
	e2 = cam_snapshot_unpack(buf, n, &why2);
	if (!e2)
		fprintf(stderr, "repacked envelope refused: %s\n", why2);
	FUZZ_CHECK(e2 != NULL);
	FUZZ_CHECK(e2->body_case == e->body_case);
	buf2 = pack_known(e2, &n2);
	FUZZ_CHECK(n2 == n && memcmp(buf, buf2, n) == 0);
	free(buf2);
	free(buf);
	cam_snapshot_unpacked_free(e2);
	cam_snapshot_unpacked_free(e);
	return 0;
}
