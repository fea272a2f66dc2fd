/*
 * The verb registry (verbs.h): a small array searched in order. Verbs
 * added first are found first, so kernel/main.c adds the system verbs
 * (ping, the benchmark verb) before the others.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/verbs.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xmalloc.h"

#define NAME_MAX_LEN 31

struct cam_verbs {
	size_t n;
	struct cam_verb rows[CAM_VERBS_MAX];
};

int cam_verbs_new(cam_verbs **out)
{
	*out = cam_xcalloc(1, sizeof(**out));
	return 0;
}

void cam_verbs_free(cam_verbs *v)
{
	free(v);
}

static bool name_valid(const char *s)
{
	size_t n = 0;

	if (!s || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return false;
	return n <= NAME_MAX_LEN;
}

static ptrdiff_t index_of(const cam_verbs *v, const char *name)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->rows[i].name, name) == 0)
			return (ptrdiff_t)i;
	return -1;
}

int cam_verbs_add(cam_verbs *v, const char *subsystem, const struct cam_verb *rows,
		  size_t n, void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		if (!name_valid(rows[i].name) || !rows[i].fn)
			return CAM_EINVAL;
		if (index_of(v, rows[i].name) >= 0)
			return CAM_EEXIST;
		for (size_t j = 0; j < i; j++)
			if (strcmp(rows[j].name, rows[i].name) == 0)
				return CAM_EEXIST;
	}
	if (n > CAM_VERBS_MAX - v->n)
		return CAM_ELIMIT;
	for (size_t i = 0; i < n; i++) {
		struct cam_verb *r = &v->rows[v->n];

		*r = rows[i];
		r->ctx = ctx;
		r->subsystem = subsystem ? subsystem : "";
		r->index = (unsigned)v->n++;
	}
	return 0;
}

void cam_verbs_remove(cam_verbs *v, const struct cam_verb *rows, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		ptrdiff_t k = index_of(v, rows[i].name);

		if (k < 0)
			continue;
		memmove(&v->rows[k], &v->rows[k + 1], (v->n - (size_t)k - 1) * sizeof(v->rows[0]));
		v->n--;
	}
	for (size_t i = 0; i < v->n; i++)
		v->rows[i].index = (unsigned)i;
}

const struct cam_verb *cam_verbs_find(const cam_verbs *v, const char *name)
{
	ptrdiff_t i = name ? index_of(v, name) : -1;

	return i < 0 ? NULL : &v->rows[i];
}

size_t cam_verbs_count(const cam_verbs *v)
{
	return v->n;
}

const struct cam_verb *cam_verbs_at(const cam_verbs *v, size_t i)
{
	return i < v->n ? &v->rows[i] : NULL;
}
