/*
 * Clock readings every module needs: monotonic time for durations and
 * deadlines, wall-clock time for timestamps. clock_gettime is a vDSO call
 * here, not a syscall, so these are fine on hot paths.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_CLOCK_H
#define CAM_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t cam_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CLOCK_MONOTONIC in seconds. */
static inline double cam_mono_s(void)
{
	return (double)cam_mono_ns() / 1e9;
}

/* Wall clock in milliseconds since the epoch. */
static inline int64_t cam_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
