/*
 * Registration of the kernel's metric families (see kernel_metrics.h).
 * Names and help texts follow the seed document word for word where it
 * gives them; series with fixed label values are created up front so
 * dashboards see zeros rather than gaps.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/kernel_metrics.h"

#include <stddef.h>

#include "common/error.h"
#include "common/log.h"
#include "common/version.h"
#include "kernel/process_metrics.h"

static const char *const L_VERB[] = { "verb", NULL };
static const char *const L_VERB_CODE[] = { "verb", "code", NULL };
static const char *const L_OP_STATUS[] = { "op", "status", NULL };
static const char *const L_BACKEND[] = { "backend", NULL };
static const char *const L_REASON[] = { "reason", NULL };
static const char *const L_CLASS[] = { "class", NULL };
static const char *const L_DRIVER[] = { "driver", NULL };
static const char *const L_BUILD[] = { "version", "revision", NULL };

/* Priorities are integers 0-9; le is inclusive, so bucket i holds priority i. */
static const double PRIORITY_BUCKETS[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const double LOAD_BUCKETS[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
				       0.25,  0.5,   1,    2.5,   5,    10 };

struct def {
	cam_family **out;
	struct cam_family_desc desc;
};

int cam_kernel_metrics_register(struct cam_kernel_metrics *m)
{
	const struct def defs[] = {
		{ &m->syscall_duration,
		  { "cam_os_syscall_duration_seconds", "Histogram of syscall execution times",
		    CAM_HISTOGRAM, "seconds", L_VERB, NULL, 0, 64 } },
		{ &m->syscall_total,
		  { "cam_os_syscall_total", "Counter of total syscalls executed",
		    CAM_COUNTER, NULL, L_VERB, NULL, 0, 64 } },
		{ &m->syscall_errors,
		  { "cam_os_syscall_errors_total", "Counter of syscall errors",
		    CAM_COUNTER, NULL, L_VERB_CODE, NULL, 0, 1024 } },
		{ &m->memctx_operations,
		  { "cam_os_memory_context_operations_total", "Counter of memory operations",
		    CAM_COUNTER, NULL, L_OP_STATUS, NULL, 0, 256 } },
		{ &m->memctx_size,
		  { "cam_os_memory_context_size_bytes", "Gauge of memory context size",
		    CAM_GAUGE, "bytes", L_BACKEND, NULL, 0, 8 } },
		{ &m->memctx_versions,
		  { "cam_os_memory_context_versions_total", "Counter of context versions",
		    CAM_COUNTER, NULL, NULL, NULL, 0, 1 } },
		{ &m->tpm_operations,
		  { "cam_os_security_tpm_operations_total", "Counter of TPM operations",
		    CAM_COUNTER, NULL, L_OP_STATUS, NULL, 0, 256 } },
		{ &m->auth_failures,
		  { "cam_os_security_auth_failures_total", "Counter of authentication failures",
		    CAM_COUNTER, NULL, L_REASON, NULL, 0, 32 } },
		{ &m->rate_limit_hits,
		  { "cam_os_security_rate_limit_hits_total", "Counter of rate limit hits",
		    CAM_COUNTER, NULL, NULL, NULL, 0, 1 } },
		{ &m->sched_queue_size,
		  { "cam_os_scheduler_queue_size", "Gauge of scheduler queue size",
		    CAM_GAUGE, NULL, L_CLASS, NULL, 0, 8 } },
		{ &m->sched_priority,
		  { "cam_os_scheduler_priority_distribution", "Histogram of priority distribution",
		    CAM_HISTOGRAM, NULL, NULL, PRIORITY_BUCKETS, 10, 1 } },
		{ &m->driver_load_time,
		  { "cam_os_driver_load_time_seconds", "Histogram of driver load times",
		    CAM_HISTOGRAM, "seconds", L_DRIVER, LOAD_BUCKETS, 12, 256 } },
		{ &m->build_info,
		  { "cam_os_build_info", "CAM-OS kernel build: version and source revision; always 1.",
		    CAM_GAUGE, NULL, L_BUILD, NULL, 0, 1 } },
	};
	static const char *const classes[] = { "high", "normal", "low" };
	const char *why;

	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		int rc = cam_family_register(&defs[i].desc, defs[i].out, &why);
		if (rc) {
			cam_log(CAM_LOG_ERROR, "metrics", "cannot register %s: %s",
				defs[i].desc.name, why ? why : cam_strerror(rc));
			return rc;
		}
	}
	for (size_t i = 0; i < 3; i++)
		cam_gauge_set(cam_series_get(m->sched_queue_size,
					     (const char *[]){ classes[i] }), 0);
	cam_series_get(m->memctx_versions, NULL);
	cam_series_get(m->rate_limit_hits, NULL);
	cam_series_get(m->sched_priority, NULL);
	cam_gauge_set(cam_series_get(m->build_info,
				     (const char *[]){ CAM_VERSION, CAM_REVISION }), 1);
	return cam_process_metrics_register();
}
