/*
 * The standard process_* metrics of the process that calls it (the names
 * and meanings of Prometheus' client libraries), refreshed by a collector
 * before every snapshot. Linux only: read from /proc/self.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_PROCESS_METRICS_H
#define CAM_PROCESS_METRICS_H

int cam_process_metrics_register(void);

#endif
