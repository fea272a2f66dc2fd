/*
 * cam_os_build_info{version,revision} 1: which build of cam-kernel is
 * running, for dashboards and alerts that compare instances.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_BUILD_INFO_H
#define CAM_BUILD_INFO_H

/* Registers the family and sets this build's series to 1. 0 or CAM_E*. */
int cam_build_info_register(void);

#endif
