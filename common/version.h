/* The version both programs report (build_info, HealthCheck, --version). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CAM_VERSION_H
#define CAM_VERSION_H

#define CAM_VERSION "0.1.0"

/* Set by the Makefile from git; "unknown" outside a checkout. */
#ifndef CAM_REVISION
#define CAM_REVISION "unknown"
#endif

#endif
