/*
 * Names of the component statuses (component.h), as HealthCheck and the
 * cam_os_component_status{status} label spell them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/component.h"

static const char *const names[CAM_COMPONENT_NSTATUS] = { "healthy", "degraded", "unhealthy",
							  "disabled" };

const char *cam_component_status_name(int status)
{
	if (status < 0 || status >= CAM_COMPONENT_NSTATUS)
		return "unknown";
	return names[status];
}
