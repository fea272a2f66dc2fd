/*
 * The build info gauge (build_info.h). Nothing to free: the family and
 * its one series live in the registry.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/build_info.h"

#include "common/log.h"
#include "common/metrics_table.h"
#include "common/version.h"

static const char *const L_BUILD[] = { "version", "revision", NULL };
static const struct cam_family_desc metrics[] = {
	{ .name = "cam_os_build_info",
	  .help = "CAM-OS kernel build: version and source revision; always 1.",
	  .type = CAM_GAUGE, .label_names = L_BUILD, .max_series = 1 },
};

int cam_build_info_register(void)
{
	cam_family *f;
	char why[160];
	int rc = cam_metrics_table_register(metrics, 1, &f, why, sizeof(why));

	if (rc) {
		cam_log(CAM_LOG_ERROR, "kernel", "%s", why);
		return rc;
	}
	cam_gauge_set(cam_series_get(f, (const char *[]){ CAM_VERSION, CAM_REVISION }), 1);
	return 0;
}
