/*
 * The kernel's metric families: the twelve the seed document promises,
 * with the types and labels DESIGN.md fixes, plus build info. Registered
 * once at start; subsystems resolve their series from these families.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_KERNEL_METRICS_H
#define CAM_KERNEL_METRICS_H

#include "common/metrics.h"

struct cam_kernel_metrics {
	cam_family *syscall_duration;      /* histogram {verb} */
	cam_family *syscall_total;         /* counter {verb} */
	cam_family *syscall_errors;        /* counter {verb, code} */
	cam_family *memctx_operations;     /* counter {op, status} */
	cam_family *memctx_size;           /* gauge {backend} */
	cam_family *memctx_versions;       /* counter */
	cam_family *tpm_operations;        /* counter {op, status} */
	cam_family *auth_failures;         /* counter {reason} */
	cam_family *rate_limit_hits;       /* counter */
	cam_family *sched_queue_size;      /* gauge {class} */
	cam_family *sched_priority;        /* histogram */
	cam_family *driver_load_time;      /* histogram {driver} */
	cam_family *build_info;            /* gauge {version, revision} */
};

/* Registers every family above (and process_* metrics). 0 or CAM_E*. */
int cam_kernel_metrics_register(struct cam_kernel_metrics *m);

#endif
