/*
 * The standard process_* metrics of the process that calls it (the names
 * and meanings of Prometheus' client libraries), refreshed by a collector
 * before every snapshot. Linux only: read from /proc/self.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_PROCESS_METRICS_H
#define CAM_PROCESS_METRICS_H

typedef struct cam_process_metrics cam_process_metrics;

/* Registers the families and their collector, and reads them once.
 * 0 or CAM_E* (*out untouched). */
int cam_process_metrics_new(cam_process_metrics **out);
/* Removes the collector (the last values stay in the registry); NULL is a
 * no-op. */
void cam_process_metrics_free(cam_process_metrics *ps);

#endif
