/*
 * The standard process_* metrics of the process that calls it (the names
 * and meanings of Prometheus' client libraries), refreshed by a collector
 * before every snapshot. Linux only: read from /proc/self.
 */
#ifndef CAM_PROCESS_METRICS_H
#define CAM_PROCESS_METRICS_H

int cam_process_metrics_register(void);

#endif
