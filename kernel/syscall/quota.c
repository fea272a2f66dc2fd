/*
 * The quota refusals family (quota.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/quota.h"

#include "common/metrics_table.h"

static const char *const L_QUOTA[] = { "quota", NULL };
static const struct cam_family_desc family = {
	.name = "cam_os_security_quota_refusals_total",
	.help = "Calls refused RESOURCE_EXHAUSTED because their caller reached a quota of its own",
	.type = CAM_COUNTER, .label_names = L_QUOTA, .max_series = 8,
};

cam_series *cam_quota_refusals(const char *quota)
{
	cam_family *f;
	char why[160];

	if (cam_metrics_table_register(&family, 1, &f, why, sizeof(why)))
		return NULL;
	return cam_series_get(f, (const char *[]){ quota });
}
