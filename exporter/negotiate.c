/*
 * The Accept and Accept-Encoding rules of negotiate.h. Headers are walked
 * in place: one element at a time between commas, its parameters between
 * semicolons, nothing allocated.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/negotiate.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One element of a comma-separated header: [start, end) of its value. */
struct element {
	const char *start;
	const char *end;
};

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static const char *trim_end(const char *start, const char *end)
{
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return end;
}

/* Moves *p past the next element; false when the header is used up. */
static bool next_element(const char **p, struct element *el)
{
	const char *s = *p, *comma;

	while (*s == ',' || *s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return false;
	comma = strchr(s, ',');
	if (!comma)
		comma = s + strlen(s);
	el->start = s;
	el->end = comma;
	*p = comma;
	return true;
}

/* The token before the first ';' (trimmed), as [*start, return). */
static const char *token_end(const struct element *el)
{
	const char *semi = memchr(el->start, ';', (size_t)(el->end - el->start));

	return trim_end(el->start, semi ? semi : el->end);
}

static bool token_is(const struct element *el, const char *want)
{
	const char *end = token_end(el);
	size_t n = strlen(want);

	return (size_t)(end - el->start) == n &&
	       strncasecmp(el->start, want, n) == 0;
}

/* The q parameter of an element: 1 when absent, clamped to [0, 1]. */
static double quality(const struct element *el)
{
	const char *p = el->start;
	char num[16];
	size_t n;
	double q;

	while ((p = memchr(p, ';', (size_t)(el->end - p))) != NULL) {
		p = skip_space(p + 1, el->end);
		if (el->end - p < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=')
			continue;
		p += 2;
		n = (size_t)(trim_end(p, el->end) - p);
		if (n >= sizeof(num))
			n = sizeof(num) - 1;
		memcpy(num, p, n);
		num[n] = '\0';
		q = strtod(num, NULL);
		return q < 0 ? 0 : q > 1 ? 1 : q;
	}
	return 1;
}

/* Whether parameter name of el, when present, has the value want. */
static bool param_absent_or(const struct element *el, const char *name, const char *want)
{
	const char *p = el->start;
	size_t n = strlen(name), w = strlen(want);

	while ((p = memchr(p, ';', (size_t)(el->end - p))) != NULL) {
		const char *v, *vend;

		p = skip_space(p + 1, el->end);
		if ((size_t)(el->end - p) <= n || strncasecmp(p, name, n) != 0 || p[n] != '=')
			continue;
		v = p + n + 1;
		vend = memchr(v, ';', (size_t)(el->end - v));
		vend = trim_end(v, vend ? vend : el->end);
		return (size_t)(vend - v) == w && strncasecmp(v, want, w) == 0;
	}
	return true;
}

static bool is_protobuf(const struct element *el)
{
	return token_is(el, "application/vnd.google.protobuf") &&
	       param_absent_or(el, "proto", "io.prometheus.client.MetricFamily") &&
	       param_absent_or(el, "encoding", "delimited");
}

enum cam_render_format cam_negotiate_format(const char *accept)
{
	struct element el;
	double best_q = 0;
	enum cam_render_format best = CAM_RENDER_TEXT;

	if (!accept)
		return CAM_RENDER_TEXT;
	while (next_element(&accept, &el)) {
		enum cam_render_format fmt;
		double q = quality(&el);

		if (is_protobuf(&el))
			fmt = CAM_RENDER_PROTOBUF;
		else if (token_is(&el, "application/openmetrics-text"))
			fmt = CAM_RENDER_OPENMETRICS;
		else if (token_is(&el, "text/plain") || token_is(&el, "text/*") ||
			 token_is(&el, "*/*"))
			fmt = CAM_RENDER_TEXT;
		else
			continue;
		/* Strictly higher wins: on a tie the one listed first stays. */
		if (q > best_q) {
			best_q = q;
			best = fmt;
		}
	}
	return best;
}

bool cam_negotiate_gzip(const char *accept_encoding)
{
	struct element el;
	bool gzip = false, star = false, gzip_named = false;

	if (!accept_encoding)
		return false;
	while (next_element(&accept_encoding, &el)) {
		if (token_is(&el, "gzip") || token_is(&el, "x-gzip")) {
			gzip_named = true;
			gzip = gzip || quality(&el) > 0;
		} else if (token_is(&el, "*")) {
			star = quality(&el) > 0;
		}
	}
	return gzip || (!gzip_named && star);
}
