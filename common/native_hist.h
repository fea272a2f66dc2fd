/*
 * Native histogram buckets: which bucket of a sparse, exponential
 * histogram a value falls in, as Prometheus and client_golang define it.
 *
 * At schema s (-4..8) bucket boundaries are powers of base = 2^(2^-s), and
 * bucket i holds values v with base^(i-1) < |v| <= base^i. The index comes
 * from the value's binary exponent and mantissa (frexp, read straight off
 * the bits for normal numbers) and, for s > 0, the 2^s mantissa bounds in
 * [0.5, 1): the top s + 1 mantissa bits pick a bin holding at most one
 * bound, so one table load and one comparison give the bucket (no log()
 * and no search per value). Halving the resolution (schema
 * s to s - d) maps index i to ceil(i / 2^d), which merges 2^d neighbours
 * into one bucket, so counts are conserved.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_NATIVE_HIST_H
#define CAM_NATIVE_HIST_H

#include <stdint.h>
#include <string.h>

#define CAM_NATIVE_SCHEMA_MIN (-4)
#define CAM_NATIVE_SCHEMA_MAX 8

/* cam_native_bounds[s][j] = 2^(j / 2^s - 1), j < 2^s: mantissa bounds;
 * [s][2^s] is 1, above every mantissa. */
extern double cam_native_bounds[CAM_NATIVE_SCHEMA_MAX + 1][(1 << CAM_NATIVE_SCHEMA_MAX) + 1];
/* cam_native_bins[s][b]: how many bounds of schema s lie below the start of
 * mantissa bin b (the top s + 1 bits of the 52-bit mantissa). */
extern uint16_t cam_native_bins[CAM_NATIVE_SCHEMA_MAX + 1][2 << CAM_NATIVE_SCHEMA_MAX];

/* Fills cam_native_bounds; idempotent and thread-safe. Registration of a
 * native family and cam_native_index call it. */
void cam_native_init(void);

/*
 * The bucket index of v at schema, for v != 0 and not NaN (the caller
 * handles the zero bucket and NaN). The sign is ignored: negative values
 * use the same indices in their own bucket list. +-Inf go one bucket past
 * DBL_MAX, as client_golang puts them. cam_native_init must have run.
 */
static inline int32_t cam_native_index_fast(double v, int schema)
{
	uint64_t bits;
	int32_t exp, key;
	double frac;
	int inf = 0;

	memcpy(&bits, &v, sizeof(bits));
	bits &= ~(1ull << 63);
	if (__builtin_expect((bits >> 52) == 0x7ff, 0)) {
		bits = 0x7fefffffffffffffull; /* DBL_MAX */
		inf = 1;
	}
	if (__builtin_expect((bits >> 52) == 0, 0)) {
		/* Subnormal: scale into the normal range first. */
		double x;
		memcpy(&x, &bits, sizeof(x));
		x *= 18014398509481984.0; /* 2^54 */
		memcpy(&bits, &x, sizeof(bits));
		exp = (int32_t)(bits >> 52) - 1022 - 54;
	} else {
		exp = (int32_t)(bits >> 52) - 1022;
	}
	bits = (bits & 0xfffffffffffffull) | (1022ull << 52);
	memcpy(&frac, &bits, sizeof(frac)); /* in [0.5, 1) */
	if (schema > 0) {
		/* How many bounds are below frac: those below its bin, plus the
		 * one bound the bin may hold. */
		int32_t j = cam_native_bins[schema][(bits >> (52 - schema - 1)) &
						    ((2u << schema) - 1)];

		j += cam_native_bounds[schema][j] < frac;
		key = j + (exp - 1) * (1 << schema);
	} else {
		key = exp - (frac == 0.5);
		key = (key + ((1 << -schema) - 1)) >> -schema;
	}
	return key + inf;
}

/* cam_native_index_fast, after making sure the table is filled. */
int32_t cam_native_index(double v, int schema);

/* Index i at schema s as an index at schema s - d (d >= 0). */
static inline int32_t cam_native_reduce_index(int32_t i, int d)
{
	return (int32_t)(((int64_t)i + ((1 << d) - 1)) >> d);
}

/* The upper bound base^i of bucket i at schema (+Inf past DBL_MAX). */
double cam_native_upper_bound(int32_t i, int schema);

#endif
