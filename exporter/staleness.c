/* The staleness rule of staleness.h, kept apart so tests can inject time. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "exporter/staleness.h"

#include "common/clock.h"

#define DEFAULT_INTERVAL_MS 1000u

uint32_t cam_staleness_interval_ms(uint32_t snapshot_ms, uint32_t fallback_ms)
{
	if (snapshot_ms)
		return snapshot_ms;
	return fallback_ms ? fallback_ms : DEFAULT_INTERVAL_MS;
}

enum cam_kernel_state cam_staleness_judge(bool have, uint64_t received_ns,
					  uint32_t interval_ms,
					  uint64_t now_ns)
{
	uint64_t limit_ns = (uint64_t)CAM_STALE_INTERVALS *
			    cam_staleness_interval_ms(interval_ms, 0) *
			    1000000u;

	if (!have)
		return CAM_KERNEL_ABSENT;
	if (now_ns <= received_ns)
		return CAM_KERNEL_FRESH;
	return now_ns - received_ns > limit_ns ? CAM_KERNEL_STALE
					       : CAM_KERNEL_FRESH;
}

double cam_staleness_age_seconds(uint64_t received_ns, uint64_t now_ns)
{
	if (now_ns <= received_ns)
		return 0;
	return (double)(now_ns - received_ns) / 1e9;
}

const char *cam_kernel_state_name(enum cam_kernel_state s)
{
	switch (s) {
	case CAM_KERNEL_ABSENT:
		return "absent";
	case CAM_KERNEL_FRESH:
		return "fresh";
	case CAM_KERNEL_STALE:
		return "stale";
	}
	return "unknown";
}

uint64_t cam_staleness_now_ns(void)
{
	return (uint64_t)cam_mono_ns();
}
