/*
 * Tests of exporter/staleness.c: the stale rule walked through time with an
 * injected clock.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "exporter/staleness.h"

#define MS 1000000ull
#define S (1000 * MS)

static void test_absent_without_snapshot(void **state)
{
	(void)state;
	assert_int_equal(cam_staleness_judge(false, 0, 1000, 0),
			 CAM_KERNEL_ABSENT);
	assert_int_equal(cam_staleness_judge(false, 5 * S, 1000, 100 * S),
			 CAM_KERNEL_ABSENT);
}

/* Fresh up to exactly three intervals, stale one nanosecond later. */
static void test_three_interval_edge(void **state)
{
	uint64_t t0 = 1000 * S;

	(void)state;
	assert_int_equal(cam_staleness_judge(true, t0, 1000, t0),
			 CAM_KERNEL_FRESH);
	assert_int_equal(cam_staleness_judge(true, t0, 1000, t0 + 2 * S),
			 CAM_KERNEL_FRESH);
	assert_int_equal(cam_staleness_judge(true, t0, 1000, t0 + 3 * S),
			 CAM_KERNEL_FRESH);
	assert_int_equal(cam_staleness_judge(true, t0, 1000, t0 + 3 * S + 1),
			 CAM_KERNEL_STALE);
	assert_int_equal(cam_staleness_judge(true, t0, 200, t0 + 600 * MS),
			 CAM_KERNEL_FRESH);
	assert_int_equal(cam_staleness_judge(true, t0, 200, t0 + 601 * MS),
			 CAM_KERNEL_STALE);
	assert_int_equal(cam_staleness_judge(true, t0, 60000, t0 + 179 * S),
			 CAM_KERNEL_FRESH);
	assert_int_equal(cam_staleness_judge(true, t0, 60000, t0 + 181 * S),
			 CAM_KERNEL_STALE);
}

/* A clock reading before the arrival (cannot happen on CLOCK_MONOTONIC,
 * but must not wrap into "very old"). */
static void test_clock_before_arrival(void **state)
{
	(void)state;
	assert_int_equal(cam_staleness_judge(true, 10 * S, 1000, 5 * S),
			 CAM_KERNEL_FRESH);
	assert_true(cam_staleness_age_seconds(10 * S, 5 * S) == 0);
}

/* The snapshot's interval wins, then the configured one, then 1000 ms. */
static void test_interval_fallback(void **state)
{
	(void)state;
	assert_int_equal(cam_staleness_interval_ms(250, 5000), 250);
	assert_int_equal(cam_staleness_interval_ms(0, 5000), 5000);
	assert_int_equal(cam_staleness_interval_ms(0, 0), 1000);
	/* interval 0 judged as 1000 ms */
	assert_int_equal(cam_staleness_judge(true, 0, 0, 3 * S),
			 CAM_KERNEL_FRESH);
	assert_int_equal(cam_staleness_judge(true, 0, 0, 3 * S + 1),
			 CAM_KERNEL_STALE);
}

static void test_age_and_names(void **state)
{
	uint64_t now;

	(void)state;
	assert_true(cam_staleness_age_seconds(S, 3 * S + 500 * MS) == 2.5);
	assert_string_equal(cam_kernel_state_name(CAM_KERNEL_ABSENT), "absent");
	assert_string_equal(cam_kernel_state_name(CAM_KERNEL_FRESH), "fresh");
	assert_string_equal(cam_kernel_state_name(CAM_KERNEL_STALE), "stale");
	now = cam_staleness_now_ns();
	assert_true(cam_staleness_now_ns() >= now);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absent_without_snapshot),
		cmocka_unit_test(test_three_interval_edge),
		cmocka_unit_test(test_clock_before_arrival),
		cmocka_unit_test(test_interval_fallback),
		cmocka_unit_test(test_age_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
