/*
 * The 5-D score (formula in think.h) and reading its factors from raw
 * payload text (the I/O thread's classifier).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/scheduler/think.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernel/scheduler/scheduler.h"

/* In enum cam_think_factor's order; the lengths come from the same list. */
#define FACTOR_NAMES(X) X("urgency") X("importance") X("efficiency") X("energy") X("trust")
#define AS_NAME(s) s,
#define AS_LEN(s) sizeof(s) - 1,
const char *const cam_think_factor_names[CAM_THINK_NFACTORS] = { FACTOR_NAMES(AS_NAME) };
static const size_t factor_lens[CAM_THINK_NFACTORS] = { FACTOR_NAMES(AS_LEN) };

const unsigned cam_think_weights[CAM_THINK_NFACTORS] = { 300, 250, 150, 100, 200 };

void cam_think_score(const double f[CAM_THINK_NFACTORS], struct cam_think *out)
{
	double acc = 0;
	long bp;

	for (int i = 0; i < CAM_THINK_NFACTORS; i++) {
		out->factors[i] = f[i];
		out->contrib[i] = cam_think_weights[i] * f[i] / 1000.0;
		acc += cam_think_weights[i] * f[i];
	}
	/* acc is in thousandths: ten times that is basis points. */
	bp = lround(acc * 10.0);
	if (bp < 0)
		bp = 0;
	if (bp > 10000)
		bp = 10000;
	out->score = (double)bp / 10000.0;
	out->priority = bp / 1000 > 9 ? 9 : (unsigned)(bp / 1000);
	out->klass = cam_sched_class_of(out->priority);
}

int cam_think_factor_index(const char *key, size_t len)
{
	/* Asked for every key of every payload classified: no strlen. */
	for (int i = 0; i < CAM_THINK_NFACTORS; i++)
		if (factor_lens[i] == len && key[0] == cam_think_factor_names[i][0] &&
		    memcmp(cam_think_factor_names[i], key, len) == 0)
			return i;
	return -1;
}

int cam_think_parse_factor(const char *s, size_t len, double *out)
{
	char buf[32];
	size_t digits = 0, dots = 0;
	double v;

	if (len == 0 || len >= sizeof(buf))
		return CAM_EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digits++;
		else if (s[i] == '.')
			dots++;
		else
			return CAM_EINVAL;
	}
	if (digits == 0 || dots > 1)
		return CAM_EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	v = strtod(buf, NULL);
	if (!(v >= 0 && v <= 1))
		return CAM_EINVAL;
	*out = v;
	return 0;
}

int cam_think_scan(const char *p, size_t len, double f[CAM_THINK_NFACTORS])
{
	const char *end = p + len;
	unsigned seen = 0;
	bool in_factor = false;
	int n = 0;

	for (int i = 0; i < CAM_THINK_NFACTORS; i++)
		f[i] = CAM_THINK_DEFAULT;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *tok_end = comma ? comma : end;
		const char *colon = memchr(p, ':', (size_t)(tok_end - p));
		int idx;

		if (!colon) {
			/* Continues the previous value: a factor's is then bad. */
			if (in_factor)
				return CAM_EINVAL;
		} else {
			idx = cam_think_factor_index(p, (size_t)(colon - p));
			in_factor = idx >= 0;
			if (in_factor) {
				if (seen & (1u << idx) ||
				    cam_think_parse_factor(colon + 1, (size_t)(tok_end - colon - 1),
							   &f[idx]))
					return CAM_EINVAL;
				seen |= 1u << idx;
				n++;
			}
		}
		p = comma ? comma + 1 : end;
	}
	return n;
}
