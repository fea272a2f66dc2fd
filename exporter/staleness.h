/*
 * When is the kernel's snapshot too old to serve?
 *
 * The exporter stops serving frozen numbers once the latest snapshot is
 * older than CAM_STALE_INTERVALS publish intervals. Age is measured on
 * CLOCK_MONOTONIC from the moment the snapshot arrived, never from the
 * kernel's wall clock, so clock steps on either side cannot fake freshness.
 * The decision is a pure function of its inputs (the clock is passed in) so
 * tests can walk it through time.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_STALENESS_H
#define CAM_EXPORTER_STALENESS_H

#include <stdbool.h>
#include <stdint.h>

#define CAM_STALE_INTERVALS 3

enum cam_kernel_state {
	CAM_KERNEL_ABSENT = 0, /* no snapshot has arrived yet */
	CAM_KERNEL_FRESH = 1,  /* the latest snapshot may be served */
	CAM_KERNEL_STALE = 2,  /* too old: the kernel is down or stuck */
};

/*
 * The publish interval to judge a snapshot by: the one it carries, else
 * fallback_ms (CAM_PUBLISH_INTERVAL_MS), else 1000.
 */
uint32_t cam_staleness_interval_ms(uint32_t snapshot_ms, uint32_t fallback_ms);

/*
 * Judges a snapshot that arrived at received_ns (CLOCK_MONOTONIC) and
 * promises one every interval_ms, at time now_ns. have false means there is
 * none (ABSENT). Stale once the age is strictly more than
 * CAM_STALE_INTERVALS intervals; a now_ns before received_ns counts as age 0.
 */
enum cam_kernel_state cam_staleness_judge(bool have, uint64_t received_ns,
					  uint32_t interval_ms,
					  uint64_t now_ns);

/* now_ns - received_ns in seconds, 0 when negative. */
double cam_staleness_age_seconds(uint64_t received_ns, uint64_t now_ns);

/* "absent", "fresh", "stale". */
const char *cam_kernel_state_name(enum cam_kernel_state s);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t cam_staleness_now_ns(void);

#endif
