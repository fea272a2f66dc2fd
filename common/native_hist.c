/*
 * The bucket table and the slower helpers of native_hist.h.
 *
 * The mantissa bounds are worked out in long double (64-bit mantissa on
 * x86-64) and rounded once to double, so each is the double nearest to
 * 2^(j/2^s - 1), as client_golang's literal tables are.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/native_hist.h"

#include <math.h>
#include <pthread.h>

double cam_native_bounds[CAM_NATIVE_SCHEMA_MAX + 1][(1 << CAM_NATIVE_SCHEMA_MAX) + 1];
uint16_t cam_native_bins[CAM_NATIVE_SCHEMA_MAX + 1][2 << CAM_NATIVE_SCHEMA_MAX];

static pthread_once_t bounds_once = PTHREAD_ONCE_INIT;

static void fill_bounds(void)
{
	for (int s = 1; s <= CAM_NATIVE_SCHEMA_MAX; s++) {
		int n = 1 << s;

		for (int j = 0; j < n; j++)
			cam_native_bounds[s][j] = (double)exp2l((long double)j / n - 1.0L);
		cam_native_bounds[s][n] = 1.0;
		/* Bins are 0.25 / n wide; bounds lie at least 0.5 (2^(1/n) - 1)
		 * > 0.34 / n apart, so no bin holds two. */
		for (int b = 0, j = 0; b < 2 * n; b++) {
			double start = 0.5 + 0.5 * b / (2.0 * n);
			while (j < n && cam_native_bounds[s][j] < start)
				j++;
			cam_native_bins[s][b] = (uint16_t)j;
		}
	}
	cam_native_bounds[0][0] = 0.5;
}

void cam_native_init(void)
{
	pthread_once(&bounds_once, fill_bounds);
}

int32_t cam_native_index(double v, int schema)
{
	cam_native_init();
	return cam_native_index_fast(v, schema);
}

double cam_native_upper_bound(int32_t i, int schema)
{
	int32_t n, q, r;

	cam_native_init();
	if (schema <= 0) {
		int64_t e = (int64_t)i * (1 << -schema);
		return e > 1024 ? INFINITY : ldexp(1.0, (int)(e < -1100 ? -1100 : e));
	}
	n = 1 << schema;
	q = i >= 0 ? i / n : -((-i + n - 1) / n); /* floor division */
	r = i - q * n;
	if (q + 1 > 1024)
		return INFINITY;
	/* base^i = 2^q * 2^(r/n) = bounds[r] * 2^(q+1) */
	return ldexp(cam_native_bounds[schema][r], q + 1);
}
