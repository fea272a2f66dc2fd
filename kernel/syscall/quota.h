/*
 * cam_os_security_quota_refusals_total{quota}: calls refused because one
 * caller reached a quota of its own (context bytes per owner, series per
 * caller, queued calls per caller). quota names the setting's subject, so
 * the label set is bounded by the code.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_QUOTA_H
#define CAM_SYSCALL_QUOTA_H

#include "common/metrics.h"

/* The series of one quota (registered on first use; NULL only if the
 * registry refuses it). */
cam_series *cam_quota_refusals(const char *quota);

#endif
