/*
 * Snapshot building, packing and checking, as snapshot.h describes.
 *
 * A built snapshot is an ordinary protobuf-c tree whose every part comes
 * from malloc, so protobuf-c's own free_unpacked releases it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/snapshot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/metrics.h"
#include "common/native_hist.h"
#include "common/utf8.h"
#include "common/xmalloc.h"

struct builder {
	Cam__Bus__Snapshot *snap;
	size_t cap;
	Cam__Bus__Family *cur;
};

static char **copy_strings(const char *const *src, size_t n)
{
	char **out;

	if (n == 0)
		return NULL;
	out = cam_xmalloc(n * sizeof(char *));
	for (size_t i = 0; i < n; i++)
		out[i] = cam_xstrdup(src[i]);
	return out;
}

static void on_family(void *arg, const struct cam_family_info *info)
{
	struct builder *b = arg;
	Cam__Bus__Family *f = cam_xmalloc(sizeof(*f));

	cam__bus__family__init(f);
	f->name = cam_xstrdup(info->name);
	f->help = cam_xstrdup(info->help);
	f->unit = cam_xstrdup(info->unit);
	f->type = (Cam__Bus__MetricType)info->type;
	f->n_label_names = info->nlabels;
	f->label_names = copy_strings(info->label_names, info->nlabels);
	if (info->type == CAM_HISTOGRAM && info->nbuckets) {
		f->n_bucket_bounds = info->nbuckets;
		f->bucket_bounds = cam_xmalloc(info->nbuckets * sizeof(double));
		memcpy(f->bucket_bounds, info->buckets, info->nbuckets * sizeof(double));
	}
	f->native = info->native != NULL;
	if (info->nseries)
		f->series = cam_xmalloc(info->nseries * sizeof(*f->series));

	if (b->snap->n_families == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->snap->families = cam_xrealloc(b->snap->families,
						 b->cap * sizeof(*b->snap->families));
	}
	b->snap->families[b->snap->n_families++] = f;
	b->cur = f;
}

/* Sorted bucket indices as spans (a new span at every gap) and counts. */
static void pack_buckets(const int32_t *index, const uint64_t *count, size_t n,
			 size_t *nspans, Cam__Bus__BucketSpan ***spans, size_t *ncounts,
			 uint64_t **counts)
{
	size_t k = 0;

	*ncounts = n;
	*counts = n ? cam_xmalloc(n * sizeof(uint64_t)) : NULL;
	if (n)
		memcpy(*counts, count, n * sizeof(uint64_t));
	*nspans = 0;
	*spans = n ? cam_xmalloc(n * sizeof(**spans)) : NULL;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || index[i] != index[i - 1] + 1) {
			Cam__Bus__BucketSpan *sp = cam_xmalloc(sizeof(*sp));
			cam__bus__bucket_span__init(sp);
			sp->offset = i == 0 ? index[0] : index[i] - index[i - 1] - 1;
			(*spans)[k++] = sp;
		}
		(*spans)[k - 1]->length++;
	}
	*nspans = k;
}

static Cam__Bus__NativeBuckets *native_buckets(const struct cam_native_value *nv)
{
	Cam__Bus__NativeBuckets *nb = cam_xmalloc(sizeof(*nb));

	cam__bus__native_buckets__init(nb);
	nb->schema = nv->schema;
	nb->zero_threshold = nv->zero_threshold;
	nb->zero_count = nv->zero_count;
	pack_buckets(nv->pos_index, nv->pos_count, nv->npos, &nb->n_positive_spans,
		     &nb->positive_spans, &nb->n_positive_counts, &nb->positive_counts);
	pack_buckets(nv->neg_index, nv->neg_count, nv->nneg, &nb->n_negative_spans,
		     &nb->negative_spans, &nb->n_negative_counts, &nb->negative_counts);
	return nb;
}

static void on_series(void *arg, const struct cam_family_info *info,
		      const struct cam_series_value *v)
{
	struct builder *b = arg;
	Cam__Bus__Series *s = cam_xmalloc(sizeof(*s));

	cam__bus__series__init(s);
	s->n_label_values = info->nlabels;
	s->label_values = copy_strings(v->label_values, info->nlabels);
	if (info->type == CAM_HISTOGRAM) {
		s->n_bucket_counts = info->nbuckets + 1;
		s->bucket_counts = cam_xmalloc(s->n_bucket_counts * sizeof(uint64_t));
		memcpy(s->bucket_counts, v->buckets, s->n_bucket_counts * sizeof(uint64_t));
		s->sum = v->sum;
		s->count = v->count;
		if (v->exemplar) {
			s->exemplar = cam_xmalloc(sizeof(*s->exemplar));
			cam__bus__exemplar__init(s->exemplar);
			s->exemplar->trace_id = cam_xstrdup(v->exemplar->trace_id);
			s->exemplar->span_id = cam_xstrdup(v->exemplar->span_id);
			s->exemplar->value = v->exemplar->value;
			s->exemplar->timestamp_ms = v->exemplar->timestamp_ms;
		}
		if (v->native)
			s->native = native_buckets(v->native);
	} else {
		s->value = v->value;
	}
	b->cur->series[b->cur->n_series++] = s;
}

Cam__Bus__Snapshot *cam_snapshot_build(const struct cam_snapshot_meta *meta)
{
	struct builder b = { 0 };
	struct cam_metrics_visitor v = { on_family, on_series, &b };

	b.snap = cam_xmalloc(sizeof(*b.snap));
	cam__bus__snapshot__init(b.snap);
	b.snap->sequence = meta->sequence;
	b.snap->instance_id = cam_xstrdup(meta->instance_id ? meta->instance_id : "");
	b.snap->start_time_seconds = meta->start_time_seconds;
	b.snap->timestamp_ms = meta->timestamp_ms;
	b.snap->publish_interval_ms = meta->publish_interval_ms;
	b.snap->version = cam_xstrdup(meta->version ? meta->version : "");
	cam_metrics_collect(&v);
	return b.snap;
}

void cam_snapshot_free(Cam__Bus__Snapshot *s)
{
	if (s)
		cam__bus__snapshot__free_unpacked(s, NULL);
}

int cam_snapshot_pack(const Cam__Bus__Snapshot *s, uint8_t **buf, size_t *len)
{
	Cam__Bus__Envelope env = CAM__BUS__ENVELOPE__INIT;
	size_t n;

	env.body_case = CAM__BUS__ENVELOPE__BODY_SNAPSHOT;
	env.snapshot = (Cam__Bus__Snapshot *)s;
	n = cam__bus__envelope__get_packed_size(&env);
	if (n > CAM_BUS_MAX_SNAPSHOT)
		return CAM_ELIMIT;
	*buf = malloc(n ? n : 1);
	if (!*buf)
		return CAM_ENOMEM;
	*len = cam__bus__envelope__pack(&env, *buf);
	return 0;
}

static bool label_values_valid(const Cam__Bus__Series *s)
{
	for (size_t i = 0; i < s->n_label_values; i++) {
		size_t len;
		if (!cam_utf8_valid(s->label_values[i], &len) ||
		    len > CAM_METRICS_MAX_LABEL_VALUE)
			return false;
	}
	return true;
}

/* n lower-case hex digits (n == 0: the empty string only). */
static bool hex_id(const char *s, size_t n)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i >= n || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == n;
}

static bool exemplar_valid(const Cam__Bus__Exemplar *e)
{
	return hex_id(e->trace_id, 32) &&
	       (hex_id(e->span_id, 16) || hex_id(e->span_id, 0));
}

/* The bus type as the registry's (out of range: gauge; check_family refuses those). */
static enum cam_metric_type metric_type(Cam__Bus__MetricType t)
{
	return t == CAM__BUS__METRIC_TYPE__COUNTER ? CAM_COUNTER
	     : t == CAM__BUS__METRIC_TYPE__HISTOGRAM ? CAM_HISTOGRAM : CAM_GAUGE;
}

/* Most native buckets a series may carry, and how far indices may reach
 * (schema 8 needs about +-280k for every double). */
#define MAX_NATIVE_BUCKETS (4u * CAM_NATIVE_MAX_BUCKETS)
#define MAX_NATIVE_INDEX (1 << 24)

/* Spans whose lengths add up to n and whose indices stay in range; adds
 * the counts to *total, false on overflow. */
static bool buckets_valid(Cam__Bus__BucketSpan *const *spans, size_t nspans,
			  const uint64_t *counts, size_t n, uint64_t *total)
{
	int64_t idx = 0;
	size_t len = 0;

	if (n > MAX_NATIVE_BUCKETS || nspans > n)
		return false;
	for (size_t i = 0; i < nspans; i++) {
		if (i > 0 && spans[i]->offset < 0)
			return false;
		idx += spans[i]->offset;
		len += spans[i]->length;
		if (len > n)
			return false;
		idx += spans[i]->length;
		if (idx > MAX_NATIVE_INDEX || idx < -MAX_NATIVE_INDEX)
			return false;
	}
	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (__builtin_add_overflow(*total, counts[i], total))
			return false;
	return true;
}

static const char *check_native(const Cam__Bus__Series *s)
{
	const Cam__Bus__NativeBuckets *nb = s->native;
	uint64_t total = nb->zero_count, classic = 0;

	if (nb->schema < CAM_NATIVE_SCHEMA_MIN || nb->schema > CAM_NATIVE_SCHEMA_MAX)
		return "native schema outside -4..8";
	if (!(nb->zero_threshold >= 0) || !isfinite(nb->zero_threshold))
		return "native zero threshold not finite and >= 0";
	if (!buckets_valid(nb->positive_spans, nb->n_positive_spans, nb->positive_counts,
			   nb->n_positive_counts, &total) ||
	    !buckets_valid(nb->negative_spans, nb->n_negative_spans, nb->negative_counts,
			   nb->n_negative_counts, &total))
		return "native spans do not match their counts, or too many or too far";
	/* The count renderers show is the classic buckets' total. */
	for (size_t i = 0; i < s->n_bucket_counts; i++)
		if (__builtin_add_overflow(classic, s->bucket_counts[i], &classic))
			return "classic bucket counts overflow";
	if (total > classic)
		return "native bucket counts add up to more than the series' count";
	return NULL;
}

static const char *check_family(const Cam__Bus__Family *f)
{
	bool hist = f->type == CAM__BUS__METRIC_TYPE__HISTOGRAM;
	const char *bad;
	size_t len;

	cam_metric_claim claims[CAM_METRIC_MAX_CLAIMS];

	if (!cam_metric_name_valid(f->name))
		return "invalid metric name";
	if (f->type < CAM__BUS__METRIC_TYPE__COUNTER ||
	    f->type > CAM__BUS__METRIC_TYPE__HISTOGRAM)
		return "unknown metric type";
	if (!cam_metric_claims(f->name, metric_type(f->type), claims))
		return "a counter named just _total";
	if (!cam_utf8_valid(f->help, &len) || !cam_utf8_valid(f->unit, &len))
		return "help or unit is not UTF-8";
	if (f->n_label_names > CAM_METRICS_MAX_LABELS)
		return "too many label names";
	for (size_t i = 0; i < f->n_label_names; i++)
		if (!cam_label_name_valid(f->label_names[i]))
			return "invalid label name";
	if (f->n_bucket_bounds > CAM_METRICS_MAX_BUCKETS ||
	    (!hist && f->n_bucket_bounds))
		return "bucket bounds on a non-histogram, or too many";
	for (size_t i = 0; i < f->n_bucket_bounds; i++)
		if (!isfinite(f->bucket_bounds[i]) ||
		    (i && !(f->bucket_bounds[i] > f->bucket_bounds[i - 1])))
			return "bucket bounds not finite and increasing";
	for (size_t k = 0; k < f->n_series; k++) {
		const Cam__Bus__Series *s = f->series[k];

		if (s->n_label_values != f->n_label_names)
			return "label value count differs from label names";
		if (!label_values_valid(s))
			return "label value not UTF-8 or too long";
		if (hist ? s->n_bucket_counts != f->n_bucket_bounds + 1
			 : s->n_bucket_counts != 0)
			return "bucket count does not match the bounds";
		if (s->exemplar && (!hist || !exemplar_valid(s->exemplar)))
			return "exemplar on a non-histogram, or with bad ids";
		if (s->native && !(hist && f->native))
			return "native buckets on a series of a family without them";
		if (s->native && (bad = check_native(s)))
			return bad;
	}
	if (f->native && !hist)
		return "native buckets on a non-histogram";
	return NULL;
}

/* Whether family upto takes a name an earlier one takes (metrics.h). */
static bool name_seen(const Cam__Bus__Snapshot *s, size_t upto)
{
	const Cam__Bus__Family *f = s->families[upto];

	for (size_t i = 0; i < upto; i++)
		if (cam_metric_claims_clash(s->families[i]->name, metric_type(s->families[i]->type),
					    f->name, metric_type(f->type)))
			return true;
	return false;
}

static bool short_utf8(const char *s, size_t max)
{
	size_t len;

	return cam_utf8_valid(s, &len) && len <= max;
}

static const char *check_span(const Cam__Bus__Span *sp)
{
	if (!hex_id(sp->trace_id, 32) || !hex_id(sp->span_id, 16) ||
	    !(hex_id(sp->parent_span_id, 16) || hex_id(sp->parent_span_id, 0)))
		return "span ids are not W3C hex";
	if (!short_utf8(sp->name, 256) || !short_utf8(sp->service, 128))
		return "span name or service not UTF-8 or too long";
	if (sp->duration_ns < 0 || sp->n_attributes > CAM_SPAN_MAX_ATTRIBUTES)
		return "span duration negative or too many attributes";
	for (size_t i = 0; i < sp->n_attributes; i++)
		if (!short_utf8(sp->attributes[i]->key, 256) ||
		    !short_utf8(sp->attributes[i]->value, 1024))
			return "span attribute not UTF-8 or too long";
	return NULL;
}

static const char *check_spans(const Cam__Bus__SpanBatch *b)
{
	const char *bad;

	if (b->n_spans > CAM_SPAN_BATCH_MAX)
		return "too many spans in one batch";
	if (!short_utf8(b->instance_id, 128) || !short_utf8(b->version, 128))
		return "span batch instance or version not UTF-8";
	for (size_t i = 0; i < b->n_spans; i++)
		if ((bad = check_span(b->spans[i])))
			return bad;
	return NULL;
}

static const char *check_logs(const Cam__Bus__LogBatch *b)
{
	if (b->n_lines > CAM_LOG_BATCH_MAX)
		return "too many lines in one log batch";
	if (!short_utf8(b->instance_id, 128) || !short_utf8(b->version, 128))
		return "log batch instance or version not UTF-8";
	for (size_t i = 0; i < b->n_lines; i++) {
		const Cam__Bus__LogLine *l = b->lines[i];

		if (l->kind != CAM__BUS__LOG_KIND__LOG_KIND_LOG &&
		    l->kind != CAM__BUS__LOG_KIND__LOG_KIND_AUDIT)
			return "log line of an unknown kind";
		if (!short_utf8(l->json, CAM_LOG_BUS_LINE_MAX) || l->json[0] != '{')
			return "log line not a UTF-8 JSON object or too long";
	}
	return NULL;
}

Cam__Bus__Envelope *cam_snapshot_unpack(const uint8_t *buf, size_t len,
					const char **why)
{
	Cam__Bus__Envelope *e;
	const Cam__Bus__Snapshot *s;

	if (len > CAM_BUS_MAX_SNAPSHOT) {
		*why = "message larger than the snapshot limit";
		return NULL;
	}
	e = cam__bus__envelope__unpack(NULL, len, buf);
	if (!e) {
		*why = "not a protobuf Envelope (garbage or truncated)";
		return NULL;
	}
	if (e->body_case == CAM__BUS__ENVELOPE__BODY_SPANS && e->spans) {
		if ((*why = check_spans(e->spans)))
			goto out_free;
		return e;
	}
	if (e->body_case == CAM__BUS__ENVELOPE__BODY_LOGS && e->logs) {
		if ((*why = check_logs(e->logs)))
			goto out_free;
		return e;
	}
	if (e->body_case != CAM__BUS__ENVELOPE__BODY_SNAPSHOT || !e->snapshot) {
		*why = "envelope holds no snapshot";
		goto out_free;
	}
	s = e->snapshot;
	if (s->n_families > 4096) {
		*why = "too many families";
		goto out_free;
	}
	for (size_t i = 0; i < s->n_families; i++) {
		const char *bad = check_family(s->families[i]);
		if (bad) {
			*why = bad;
			goto out_free;
		}
		if (name_seen(s, i)) {
			*why = "two families take the same name (x_total and x, or a histogram's "
			       "_bucket, _sum or _count)";
			goto out_free;
		}
	}
	return e;
out_free:
	cam__bus__envelope__free_unpacked(e, NULL);
	return NULL;
}

void cam_snapshot_unpacked_free(Cam__Bus__Envelope *e)
{
	if (e)
		cam__bus__envelope__free_unpacked(e, NULL);
}
