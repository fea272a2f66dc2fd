/*
 * The exporter's own metrics, rendered after the kernel's families.
 *
 * They live in the process's metrics registry like any CAM-OS metric and
 * reach the renderer through cam_snapshot_build, so one renderer serves
 * both. Only the families listed in selfmetrics.c are served: others the
 * common code registers in every process (cam_os_metrics_series_rejected_
 * total and the like) would shadow the kernel's families of the same name.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_SELFMETRICS_H
#define CAM_EXPORTER_SELFMETRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/metrics.h"
#include "exporter/staleness.h"
#include "exporter/subscriber.h"
#include "proto/bus.pb-c.h"

enum cam_scrape_encoding {
	CAM_SCRAPE_IDENTITY = 0,
	CAM_SCRAPE_GZIP = 1,
};

/* The series the exporter updates; resolved once by _register. */
struct cam_selfmetrics {
	cam_series *received;
	cam_series *decode_errors;
	cam_series *age;
	cam_series *kernel_up;
	cam_series *last_sequence;
	cam_series *conflicts;
	cam_series *log_dropped;
	cam_series *scrape_duration;
	cam_series *scrapes[2]; /* by enum cam_scrape_encoding */
};

/*
 * Registers the exporter's families (again is fine) and resolves their
 * series into m. Returns 0, or the CAM_E* code of a registration that
 * failed (a family of the same name and another type exists).
 */
int cam_selfmetrics_register(struct cam_selfmetrics *m);

/* True for the families cam_selfmetrics_register makes. */
bool cam_selfmetrics_owns(const char *family);

/*
 * Sets the gauges and counters that mirror the subscriber's state: what it
 * received and dropped, whether the kernel is up, how old its snapshot is
 * (age_s; +Inf when there is none) and its sequence, and the logger's
 * dropped lines.
 */
void cam_selfmetrics_update(const struct cam_selfmetrics *m,
			    const struct cam_subscriber_stats *st,
			    enum cam_kernel_state state, double age_s);

/*
 * Builds a snapshot of the registry with the exporter's own families moved
 * to the front, in their registry order; *nowned says how many. Render a
 * copy of the struct with n_families = *nowned, and free the original with
 * cam_snapshot_free.
 */
Cam__Bus__Snapshot *cam_selfmetrics_snapshot(size_t *nowned);

#endif
