/*
 * Hand-built cam.bus snapshots for the exporter's tests.
 *
 * Everything is malloc'd the way protobuf-c's unpacker does it, so one
 * cam__bus__snapshot__free_unpacked() (or envelope) frees a whole tree.
 * The helpers are static inline so a test file uses only what it needs.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_TESTS_EXPORTER_FIXTURE_H
#define CAM_TESTS_EXPORTER_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/bus.pb-c.h"

static inline void *fx_grow(void *arr, size_t n, size_t size)
{
	void *p = realloc(arr, (n + 1) * size);

	if (!p)
		abort();
	return p;
}

static inline char *fx_strdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

static inline Cam__Bus__Snapshot *fx_snapshot(const char *instance,
					      uint64_t seq)
{
	Cam__Bus__Snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	cam__bus__snapshot__init(s);
	s->instance_id = fx_strdup(instance);
	s->sequence = seq;
	s->publish_interval_ms = 1000;
	s->version = fx_strdup("test");
	return s;
}

/* Adds a family; labels is NULL-terminated (or NULL). */
static inline Cam__Bus__Family *fx_family(Cam__Bus__Snapshot *s,
					  const char *name, const char *help,
					  Cam__Bus__MetricType type,
					  const char *const *labels)
{
	Cam__Bus__Family *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	cam__bus__family__init(f);
	f->name = fx_strdup(name);
	if (help)
		f->help = fx_strdup(help);
	f->type = type;
	while (labels && labels[f->n_label_names]) {
		f->label_names = fx_grow(f->label_names, f->n_label_names,
					 sizeof(char *));
		f->label_names[f->n_label_names] =
			fx_strdup(labels[f->n_label_names]);
		f->n_label_names++;
	}
	s->families = fx_grow(s->families, s->n_families, sizeof(*s->families));
	s->families[s->n_families++] = f;
	return f;
}

static inline void fx_unit(Cam__Bus__Family *f, const char *unit)
{
	f->unit = fx_strdup(unit);
}

static inline void fx_bounds(Cam__Bus__Family *f, size_t n,
			     const double *bounds)
{
	f->bucket_bounds = malloc(n * sizeof(double));
	if (!f->bucket_bounds)
		abort();
	memcpy(f->bucket_bounds, bounds, n * sizeof(double));
	f->n_bucket_bounds = n;
}

/* Adds a series with one value per label of f (values may be NULL). */
static inline Cam__Bus__Series *fx_series(Cam__Bus__Family *f,
					  const char *const *values, double v)
{
	Cam__Bus__Series *se = calloc(1, sizeof(*se));
	size_t i;

	if (!se)
		abort();
	cam__bus__series__init(se);
	for (i = 0; values && values[i]; i++) {
		se->label_values = fx_grow(se->label_values, i, sizeof(char *));
		se->label_values[i] = fx_strdup(values[i]);
	}
	se->n_label_values = i;
	se->value = v;
	f->series = fx_grow(f->series, f->n_series, sizeof(*f->series));
	f->series[f->n_series++] = se;
	return se;
}

/* Adds a histogram series: counts has n_bucket_bounds + 1 entries. */
static inline Cam__Bus__Series *fx_hseries(Cam__Bus__Family *f,
					   const char *const *values,
					   const uint64_t *counts, double sum)
{
	Cam__Bus__Series *se = fx_series(f, values, 0);
	size_t n = f->n_bucket_bounds + 1, i;

	se->bucket_counts = malloc(n * sizeof(uint64_t));
	if (!se->bucket_counts)
		abort();
	memcpy(se->bucket_counts, counts, n * sizeof(uint64_t));
	se->n_bucket_counts = n;
	se->sum = sum;
	for (i = 0; i < n; i++)
		se->count += counts[i];
	return se;
}

/* Packs s in an Envelope; the returned buffer is malloc'd. */
static inline uint8_t *fx_pack(Cam__Bus__Snapshot *s, size_t *len)
{
	Cam__Bus__Envelope env = CAM__BUS__ENVELOPE__INIT;
	uint8_t *buf;

	env.body_case = CAM__BUS__ENVELOPE__BODY_SNAPSHOT;
	env.snapshot = s;
	*len = cam__bus__envelope__get_packed_size(&env);
	buf = malloc(*len ? *len : 1);
	if (!buf)
		abort();
	cam__bus__envelope__pack(&env, buf);
	return buf;
}

static inline void fx_free(Cam__Bus__Snapshot *s)
{
	if (s)
		cam__bus__snapshot__free_unpacked(s, NULL);
}

/* Reads a whole file (NUL-terminated); NULL when it cannot. */
static inline char *fx_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

#endif
