/*
 * The Prometheus text 0.0.4 and OpenMetrics 1.0 renderers of render.h.
 *
 * Both formats share the sample syntax and differ in the details this file
 * keeps in one place: OpenMetrics names a counter family without its
 * "_total" and suffixes every counter sample with it, escapes '"' in HELP,
 * says "unknown" for "untyped", has UNIT lines and ends with "# EOF".
 * Speed matters (10k series in a few milliseconds): strings are copied in
 * runs between characters that need escaping, integers skip printf, and the
 * "le" values and label sets of a histogram are formatted once and copied
 * into each of its lines.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/render.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "exporter/render_proto.h"

#define DEFAULT_HINT 4096

void cam_render_buf_init(struct cam_render_buf *b, size_t hint)
{
	b->len = 0;
	b->cap = hint ? hint : DEFAULT_HINT;
	b->data = cam_xmalloc(b->cap);
}

void cam_render_buf_free(struct cam_render_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void cam_render_buf_reserve(struct cam_render_buf *b, size_t n)
{
	size_t want;

	if (b->cap - b->len >= n)
		return;
	want = b->cap ? b->cap * 2 : DEFAULT_HINT;
	if (want < b->len + n)
		want = b->len + n;
	b->data = cam_xrealloc(b->data, want);
	b->cap = want;
}

void cam_render_buf_append(struct cam_render_buf *b, const char *s, size_t n)
{
	if (n == 0)
		return;
	cam_render_buf_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

static inline void put(struct cam_render_buf *b, const char *s, size_t n)
{
	cam_render_buf_append(b, s, n);
}

static inline void put_str(struct cam_render_buf *b, const char *s)
{
	cam_render_buf_append(b, s, strlen(s));
}

static inline void put_char(struct cam_render_buf *b, char c)
{
	cam_render_buf_reserve(b, 1);
	b->data[b->len++] = c;
}

/* Writes the decimal digits of v backwards ending at end; returns the start. */
static char *utoa_back(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static size_t format_u64(char *out, uint64_t v)
{
	char tmp[24];
	char *p = utoa_back(tmp + sizeof(tmp), v);
	size_t n = (size_t)(tmp + sizeof(tmp) - p);

	memcpy(out, p, n);
	out[n] = '\0';
	return n;
}

/* Exactly representable integers: |v| < 2^53. */
#define EXACT_INT_LIMIT 9007199254740992.0

size_t cam_render_double(char *out, double v)
{
	int prec;
	int n = 0;

	if (isnan(v)) {
		memcpy(out, "NaN", 4);
		return 3;
	}
	if (isinf(v)) {
		memcpy(out, v > 0 ? "+Inf" : "-Inf", 5);
		return 4;
	}
	if (v > -EXACT_INT_LIMIT && v < EXACT_INT_LIMIT && v == (double)(int64_t)v) {
		if (v < 0) {
			out[0] = '-';
			return 1 + format_u64(out + 1, (uint64_t)(-(int64_t)v));
		}
		return format_u64(out, (uint64_t)v);
	}
	/* Most decimals people write read back at 15 digits; 17 always do. */
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(out, CAM_RENDER_DOUBLE_MAX, "%.*g", prec, v);
		if (prec == 17 || strtod(out, NULL) == v)
			break;
	}
	return (size_t)n;
}

static void put_double(struct cam_render_buf *b, double v)
{
	cam_render_buf_reserve(b, CAM_RENDER_DOUBLE_MAX);
	b->len += cam_render_double(b->data + b->len, v);
}

static void put_u64(struct cam_render_buf *b, uint64_t v)
{
	cam_render_buf_reserve(b, 24);
	b->len += format_u64(b->data + b->len, v);
}

/*
 * Copies s, escaping backslash and newline, and '"' when quote is set: runs
 * with nothing to escape go out in one memcpy.
 */
static void put_escaped(struct cam_render_buf *b, const char *s, bool quote)
{
	const char *specials = quote ? "\\\"\n" : "\\\n";
	size_t run;

	for (;;) {
		run = strcspn(s, specials);
		put(b, s, run);
		s += run;
		if (*s == '\0')
			return;
		put_char(b, '\\');
		put_char(b, *s == '\n' ? 'n' : *s);
		s++;
	}
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* How one family is named in the chosen format. */
struct family_names {
	const char *meta;   /* name on HELP/TYPE/UNIT lines */
	size_t meta_len;
	const char *sample; /* base name of samples */
	size_t sample_len;
	const char *sample_suffix; /* OpenMetrics counters: "_total" or "" */
};

static void family_names(const Cam__Bus__Family *f, enum cam_render_format fmt,
			 struct family_names *nm)
{
	size_t len = strlen(f->name);
	bool counter = f->type == CAM__BUS__METRIC_TYPE__COUNTER;

	nm->meta = f->name;
	nm->meta_len = len;
	nm->sample = f->name;
	nm->sample_len = len;
	nm->sample_suffix = "";
	if (fmt != CAM_RENDER_OPENMETRICS || !counter)
		return;
	if (ends_with(f->name, len, "_total"))
		nm->meta_len = len - 6;
	else
		nm->sample_suffix = "_total";
}

static const char *type_name(Cam__Bus__MetricType t, enum cam_render_format fmt)
{
	switch (t) {
	case CAM__BUS__METRIC_TYPE__COUNTER:
		return "counter";
	case CAM__BUS__METRIC_TYPE__GAUGE:
		return "gauge";
	case CAM__BUS__METRIC_TYPE__HISTOGRAM:
		return "histogram";
	default:
		break;
	}
	return fmt == CAM_RENDER_OPENMETRICS ? "unknown" : "untyped";
}

/* OpenMetrics allows a UNIT only when the family name ends in "_<unit>". */
static bool unit_fits(const struct family_names *nm, const char *unit)
{
	size_t n = strlen(unit);

	return n > 0 && nm->meta_len > n + 1 &&
	       nm->meta[nm->meta_len - n - 1] == '_' &&
	       memcmp(nm->meta + nm->meta_len - n, unit, n) == 0;
}

static void put_meta_line(struct cam_render_buf *b, const char *what,
			  const struct family_names *nm)
{
	put(b, what, strlen(what));
	put(b, nm->meta, nm->meta_len);
	put_char(b, ' ');
}

static void put_metadata(struct cam_render_buf *b, enum cam_render_format fmt,
			 const Cam__Bus__Family *f, const struct family_names *nm)
{
	bool om = fmt == CAM_RENDER_OPENMETRICS;

	if (f->help && f->help[0]) {
		put_meta_line(b, "# HELP ", nm);
		put_escaped(b, f->help, om);
		put_char(b, '\n');
	}
	put_meta_line(b, "# TYPE ", nm);
	put_str(b, type_name(f->type, fmt));
	put_char(b, '\n');
	if (om && f->unit && unit_fits(nm, f->unit)) {
		put_meta_line(b, "# UNIT ", nm);
		put_str(b, f->unit);
		put_char(b, '\n');
	}
}

/*
 * Writes '{' and the series' label pairs without the closing brace; writes
 * nothing for a family without labels.
 */
static void put_labels_open(struct cam_render_buf *b, const Cam__Bus__Family *f,
			    const Cam__Bus__Series *s)
{
	size_t i;

	for (i = 0; i < f->n_label_names; i++) {
		put_char(b, i == 0 ? '{' : ',');
		put_str(b, f->label_names[i]);
		put(b, "=\"", 2);
		put_escaped(b, s->label_values[i], true);
		put_char(b, '"');
	}
}

static void put_sample_name(struct cam_render_buf *b,
			    const struct family_names *nm, const char *suffix)
{
	put(b, nm->sample, nm->sample_len);
	put_str(b, suffix);
}

static void put_simple(struct cam_render_buf *b, const Cam__Bus__Family *f,
		       const struct family_names *nm, const Cam__Bus__Series *s)
{
	put_sample_name(b, nm, nm->sample_suffix);
	put_labels_open(b, f, s);
	if (f->n_label_names)
		put_char(b, '}');
	put_char(b, ' ');
	put_double(b, s->value);
	put_char(b, '\n');
}

/*
 * State shared by the histogram lines of one render call: the formatted
 * bucket bounds of the current family (each `le="..."}` ready to copy) and
 * the label set of the current series. Reused from family to family so a
 * render allocates only when a family is larger than any before it.
 */
struct scratch {
	struct cam_render_buf le;   /* the bounds' texts, back to back */
	size_t *le_end;             /* end offset of bound i in le */
	size_t le_cap;
	struct cam_render_buf labels;
};

static void scratch_init(struct scratch *sc)
{
	memset(sc, 0, sizeof(*sc));
}

static void scratch_free(struct scratch *sc)
{
	cam_render_buf_free(&sc->le);
	cam_render_buf_free(&sc->labels);
	free(sc->le_end);
}

/* Formats the bounds of f; false when one is not finite (a bad family). */
static bool scratch_bounds(struct scratch *sc, const Cam__Bus__Family *f)
{
	size_t i;

	if (sc->le_cap < f->n_bucket_bounds + 1) {
		sc->le_cap = f->n_bucket_bounds + 1;
		sc->le_end = cam_xrealloc(sc->le_end, sc->le_cap * sizeof(size_t));
	}
	sc->le.len = 0;
	for (i = 0; i < f->n_bucket_bounds; i++) {
		if (!isfinite(f->bucket_bounds[i]))
			return false;
		put(&sc->le, "le=\"", 4);
		put_double(&sc->le, f->bucket_bounds[i]);
		put(&sc->le, "\"} ", 3);
		sc->le_end[i] = sc->le.len;
	}
	put_str(&sc->le, "le=\"+Inf\"} ");
	sc->le_end[i] = sc->le.len;
	return true;
}

/* The bucket an exemplar belongs on: the first whose bound holds it. */
static size_t exemplar_bucket(const Cam__Bus__Family *f, double v)
{
	size_t i = 0;

	while (i < f->n_bucket_bounds && !(v <= f->bucket_bounds[i]))
		i++;
	return i;
}

/* " # {trace_id="...",span_id="..."} value timestamp" (OpenMetrics). */
static void put_exemplar(struct cam_render_buf *b, const Cam__Bus__Exemplar *e)
{
	char ts[40];

	put_str(b, " # {trace_id=\"");
	put_escaped(b, e->trace_id, true);
	if (e->span_id && e->span_id[0]) {
		put_str(b, "\",span_id=\"");
		put_escaped(b, e->span_id, true);
	}
	put_str(b, "\"} ");
	put_double(b, e->value);
	snprintf(ts, sizeof(ts), " %lld.%03d", (long long)(e->timestamp_ms / 1000),
		 (int)(e->timestamp_ms % 1000));
	put_str(b, ts);
}

static void put_histogram(struct cam_render_buf *b, struct scratch *sc,
			  enum cam_render_format fmt, const Cam__Bus__Family *f,
			  const struct family_names *nm,
			  const Cam__Bus__Series *s)
{
	size_t i, start = 0, ex_at = SIZE_MAX;
	uint64_t cum = 0;
	bool labelled = f->n_label_names > 0;

	if (fmt == CAM_RENDER_OPENMETRICS && s->exemplar && s->exemplar->trace_id &&
	    s->exemplar->trace_id[0] && s->exemplar->timestamp_ms >= 0 &&
	    isfinite(s->exemplar->value))
		ex_at = exemplar_bucket(f, s->exemplar->value);

	sc->labels.len = 0;
	put_labels_open(&sc->labels, f, s);
	for (i = 0; i <= f->n_bucket_bounds; i++) {
		cum += s->bucket_counts[i];
		put_sample_name(b, nm, "_bucket");
		if (labelled) {
			put(b, sc->labels.data, sc->labels.len);
			put_char(b, ',');
		} else {
			put_char(b, '{');
		}
		put(b, sc->le.data + start, sc->le_end[i] - start);
		start = sc->le_end[i];
		put_u64(b, cum);
		if (i == ex_at && s->bucket_counts[i] > 0)
			put_exemplar(b, s->exemplar);
		put_char(b, '\n');
	}
	put_sample_name(b, nm, "_sum");
	put(b, sc->labels.data, sc->labels.len);
	put(b, labelled ? "} " : " ", labelled ? 2 : 1);
	put_double(b, s->sum);
	put_char(b, '\n');
	/* The +Inf bucket, so _count always equals it as both formats demand. */
	put_sample_name(b, nm, "_count");
	put(b, sc->labels.data, sc->labels.len);
	put(b, labelled ? "} " : " ", labelled ? 2 : 1);
	put_u64(b, cum);
	put_char(b, '\n');
}

static bool series_fits(const Cam__Bus__Family *f, const Cam__Bus__Series *s)
{
	if (s->n_label_values != f->n_label_names)
		return false;
	return f->type != CAM__BUS__METRIC_TYPE__HISTOGRAM ||
	       s->n_bucket_counts == f->n_bucket_bounds + 1;
}

static void render_family(struct cam_render_buf *b, struct scratch *sc,
			  enum cam_render_format fmt, const Cam__Bus__Family *f,
			  struct cam_render_result *res)
{
	struct family_names nm;
	bool histogram = f->type == CAM__BUS__METRIC_TYPE__HISTOGRAM;
	size_t i;

	/* A family with no series yet still gets its HELP and TYPE: the
	 * seed promises every family, and both formats allow it. */
	if (histogram && !scratch_bounds(sc, f)) {
		res->invalid += f->n_series;
		return;
	}
	family_names(f, fmt, &nm);
	put_metadata(b, fmt, f, &nm);
	res->families++;
	for (i = 0; i < f->n_series; i++) {
		const Cam__Bus__Series *s = f->series[i];

		if (!series_fits(f, s)) {
			res->invalid++;
			continue;
		}
		if (histogram)
			put_histogram(b, sc, fmt, f, &nm, s);
		else
			put_simple(b, f, &nm, s);
		res->series++;
	}
}

static bool named_later(const Cam__Bus__Snapshot *const *snaps, size_t n,
			size_t after, const char *name)
{
	size_t i, j;

	for (i = after + 1; i < n; i++) {
		if (!snaps[i])
			continue;
		for (j = 0; j < snaps[i]->n_families; j++)
			if (strcmp(snaps[i]->families[j]->name, name) == 0)
				return true;
	}
	return false;
}

void cam_render_part(struct cam_render_buf *b, enum cam_render_format fmt,
		     const Cam__Bus__Snapshot *snap, bool (*skip)(const char *family),
		     bool last, struct cam_render_result *res)
{
	struct cam_render_result local;
	struct cam_proto_scratch *psc = NULL;
	struct scratch sc;

	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	scratch_init(&sc);
	if (fmt == CAM_RENDER_PROTOBUF)
		psc = cam_proto_scratch_new();
	for (size_t j = 0; snap && j < snap->n_families; j++) {
		const Cam__Bus__Family *f = snap->families[j];

		if (skip && skip(f->name)) {
			res->conflicts++;
			continue;
		}
		if (psc)
			cam_render_proto_family(b, psc, f, res);
		else
			render_family(b, &sc, fmt, f, res);
	}
	if (last && fmt == CAM_RENDER_OPENMETRICS)
		put_str(b, "# EOF\n");
	scratch_free(&sc);
	cam_proto_scratch_free(psc);
}

const char *cam_render_content_type(enum cam_render_format fmt)
{
	return fmt == CAM_RENDER_OPENMETRICS ? CAM_RENDER_CONTENT_TYPE_OPENMETRICS
	     : fmt == CAM_RENDER_PROTOBUF    ? CAM_RENDER_CONTENT_TYPE_PROTOBUF
					     : CAM_RENDER_CONTENT_TYPE_TEXT;
}

void cam_render(struct cam_render_buf *b, enum cam_render_format fmt,
		const Cam__Bus__Snapshot *const *snaps, size_t n,
		struct cam_render_result *res)
{
	struct cam_render_result local;
	struct cam_proto_scratch *psc = NULL;
	struct scratch sc;
	size_t i, j;

	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	scratch_init(&sc);
	if (fmt == CAM_RENDER_PROTOBUF)
		psc = cam_proto_scratch_new();
	for (i = 0; i < n; i++) {
		if (!snaps[i])
			continue;
		for (j = 0; j < snaps[i]->n_families; j++) {
			const Cam__Bus__Family *f = snaps[i]->families[j];

			if (named_later(snaps, n, i, f->name)) {
				res->conflicts++;
				continue;
			}
			if (psc)
				cam_render_proto_family(b, psc, f, res);
			else
				render_family(b, &sc, fmt, f, res);
		}
	}
	if (fmt == CAM_RENDER_OPENMETRICS)
		put_str(b, "# EOF\n");
	scratch_free(&sc);
	cam_proto_scratch_free(psc);
}
