/*
 * Metric families described once, in one static table per module, the way
 * nng describes each statistic in a static const record (src/core/stats.h):
 *
 *     enum { M_TOTAL, M_DURATION, NMETRICS };
 *     static const struct cam_family_desc metrics[NMETRICS] = {
 *         [M_TOTAL] = { .name = "cam_os_syscall_total", .help = "...",
 *                       .type = CAM_COUNTER, .label_names = L_VERB },
 *         ...
 *     };
 *     cam_family *fam[NMETRICS];
 *     rc = cam_metrics_table_register(metrics, NMETRICS, fam, why, sizeof(why));
 *
 * A family belongs to the module whose table describes it; any other
 * module that counts in it is handed the cam_family pointer (or the
 * series). Registering a table again (a module made a second time)
 * returns the same families, with the values they hold.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_METRICS_TABLE_H
#define CAM_METRICS_TABLE_H

#include <stddef.h>

#include "common/metrics.h"

/*
 * Registers table[0..n) into out[0..n) (cam_family_register, metrics.h).
 * 0, or the first error: then why (whylen bytes) names the family and
 * what was wrong, and out is unspecified (families registered before the
 * bad one stay in the registry, harmlessly).
 */
int cam_metrics_table_register(const struct cam_family_desc *table, size_t n,
			       cam_family **out, char *why, size_t whylen);

#endif
