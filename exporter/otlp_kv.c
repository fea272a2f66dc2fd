/*
 * The key=value list parser of otlp_kv.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/otlp_kv.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xmalloc.h"

#define MAX_PAIRS 64

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* s[0..n) trimmed of spaces and tabs at both ends. */
static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

/* A malloc'd, percent-decoded copy of s[0..n); NULL when it is bad. */
static char *decode(const char *s, size_t n)
{
	char *out = cam_xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(s[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				goto bad;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			goto bad;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

const char *cam_otlp_kv_get(const struct cam_otlp_kv_list *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->kv[i].key, key) == 0)
			return l->kv[i].value;
	return NULL;
}

/* Takes key and value (malloc'd). */
static void put(struct cam_otlp_kv_list *l, char *key, char *value)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->kv[i].key, key) == 0) {
			free(l->kv[i].value);
			free(key);
			l->kv[i].value = value;
			return;
		}
	l->kv = realloc(l->kv, (l->n + 1) * sizeof(*l->kv));
	if (!l->kv)
		cam_oom((l->n + 1) * sizeof(*l->kv));
	l->kv[l->n++] = (struct cam_otlp_kv){ key, value };
}

void cam_otlp_kv_set(struct cam_otlp_kv_list *l, const char *key, const char *value)
{
	put(l, cam_xstrdup(key), cam_xstrdup(value));
}

int cam_otlp_kv_parse(struct cam_otlp_kv_list *out, const char *s, const char *what,
		      char *err, size_t errlen)
{
	size_t pairs = 0;

	while (s && *s) {
		const char *end = strchr(s, ','), *eq, *k, *v;
		size_t len = end ? (size_t)(end - s) : strlen(s), kn, vn;
		char *key, *value;

		k = s;
		s = end ? end + 1 : s + len;
		kn = len;
		trim(&k, &kn);
		if (kn == 0)
			continue; /* "a=1,,b=2" or a trailing comma */
		eq = memchr(k, '=', kn);
		if (!eq) {
			snprintf(err, errlen, "%s: \"%.*s\" is not key=value", what, (int)kn, k);
			return CAM_EINVAL;
		}
		v = eq + 1;
		vn = (size_t)(k + kn - v);
		kn = (size_t)(eq - k);
		trim(&k, &kn);
		trim(&v, &vn);
		if (kn == 0 || ++pairs > MAX_PAIRS) {
			snprintf(err, errlen, "%s: %s", what,
				 kn == 0 ? "a pair has an empty key" : "more than 64 pairs");
			return CAM_EINVAL;
		}
		key = decode(k, kn);
		value = decode(v, vn);
		if (!key || !value) {
			free(key);
			free(value);
			snprintf(err, errlen,
				 "%s: bad percent-encoding or a control character in \"%.*s\"", what,
				 (int)kn, k);
			return CAM_EINVAL;
		}
		put(out, key, value);
	}
	return 0;
}

void cam_otlp_kv_free(struct cam_otlp_kv_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->kv[i].key);
		free(l->kv[i].value);
	}
	free(l->kv);
	l->kv = NULL;
	l->n = 0;
}
