/*
 * Span batches (span_batch.h). The protobuf-c tree points into the spans
 * and into one scratch block of attribute strings, so packing allocates
 * three blocks whatever the batch size.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/tracing/span_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/snapshot.h"
#include "common/utf8.h"
#include "common/xmalloc.h"

/* One span's attributes: at most CAM_SPAN_MAX_ATTRIBUTES of them. */
struct span_attrs {
	Cam__Bus__SpanAttribute attr[CAM_SPAN_MAX_ATTRIBUTES];
	Cam__Bus__SpanAttribute *ptr[CAM_SPAN_MAX_ATTRIBUTES];
	char text[512 + 4];
	size_t n;
};

static void add_attr(struct span_attrs *a, char *key, char *value)
{
	size_t len;

	/* The exporter refuses a batch with a bad attribute: leave it out. */
	if (a->n == CAM_SPAN_MAX_ATTRIBUTES || !*key || !cam_utf8_valid(key, &len) ||
	    !cam_utf8_valid(value, &len))
		return;
	cam__bus__span_attribute__init(&a->attr[a->n]);
	a->attr[a->n].key = key;
	a->attr[a->n].value = value;
	a->ptr[a->n] = &a->attr[a->n];
	a->n++;
}

/* Splits "k=v,k2=v2" in place; a part with no '=' continues the value. */
static void split_attrs(struct span_attrs *a, const char *list)
{
	size_t total = (size_t)snprintf(a->text, sizeof(a->text), "%s", list);
	char *p, *end, *eq;

	if (total >= sizeof(a->text))
		total = sizeof(a->text) - 1;
	/* A ',' separates only when the part after it has a '='. */
	for (p = a->text; (p = strchr(p, ',')); p++) {
		end = strchr(p + 1, ',');
		if (!end)
			end = p + strlen(p);
		if (memchr(p + 1, '=', (size_t)(end - p - 1)))
			*p = '\0';
	}
	for (p = a->text; p < a->text + total; p += strlen(p) + 1) {
		eq = strchr(p, '=');
		if (!eq)
			continue;
		*eq = '\0';
		add_attr(a, p, eq + 1);
	}
}

static void fill_span(Cam__Bus__Span *out, struct span_attrs *a,
		      const struct cam_span *s)
{
	cam__bus__span__init(out);
	out->trace_id = (char *)s->trace_id;
	out->span_id = (char *)s->span_id;
	out->parent_span_id = (char *)s->parent_span_id;
	out->name = (char *)s->name;
	out->service = (char *)s->service;
	out->start_unix_ns = s->start_unix_ns;
	out->duration_ns = s->duration_ns;
	out->error = s->error != 0;
	out->kind = s->server ? CAM__BUS__SPAN_KIND__SPAN_KIND_SERVER
			      : CAM__BUS__SPAN_KIND__SPAN_KIND_INTERNAL;
	a->n = 0;
	split_attrs(a, s->attributes);
	if (s->original_trace_id[0])
		add_attr(a, "cam.original_trace_id", (char *)s->original_trace_id);
	if (s->original_span_id[0])
		add_attr(a, "cam.original_span_id", (char *)s->original_span_id);
	out->n_attributes = a->n;
	out->attributes = a->ptr;
}

int cam_span_batch_pack(const struct cam_span_batch_meta *meta,
			const struct cam_span *spans, size_t n, uint8_t **buf,
			size_t *len)
{
	Cam__Bus__Envelope env = CAM__BUS__ENVELOPE__INIT;
	Cam__Bus__SpanBatch batch = CAM__BUS__SPAN_BATCH__INIT;
	Cam__Bus__Span *sp = cam_xcalloc(n ? n : 1, sizeof(*sp));
	Cam__Bus__Span **ptr = cam_xcalloc(n ? n : 1, sizeof(*ptr));
	struct span_attrs *attrs = cam_xcalloc(n ? n : 1, sizeof(*attrs));
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		fill_span(&sp[i], &attrs[i], &spans[i]);
		ptr[i] = &sp[i];
	}
	batch.instance_id = (char *)(meta->instance_id ? meta->instance_id : "");
	batch.version = (char *)(meta->version ? meta->version : "");
	batch.sequence = meta->sequence;
	batch.n_spans = n;
	batch.spans = ptr;
	env.body_case = CAM__BUS__ENVELOPE__BODY_SPANS;
	env.spans = &batch;
	*len = cam__bus__envelope__get_packed_size(&env);
	*buf = malloc(*len ? *len : 1);
	if (!*buf)
		rc = CAM_ENOMEM;
	else
		cam__bus__envelope__pack(&env, *buf);
	free(attrs);
	free(ptr);
	free(sp);
	return rc;
}
