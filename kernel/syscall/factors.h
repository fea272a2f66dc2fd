/*
 * The scheduling factors (kernel/scheduler/think.h: urgency, importance,
 * efficiency, energy, trust) as payload keys. Every verb accepts them, so
 * any request may carry them instead of a priority; think scores them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_FACTORS_H
#define CAM_SYSCALL_FACTORS_H

#include <stdbool.h>
#include <stddef.h>

#include "kernel/scheduler/think.h"
#include "kernel/syscall/payload.h"

/* Whether key is one of the five factor names. */
bool cam_factors_is_key(const char *key, size_t len);
/*
 * The factors a parsed payload carries: fills f (missing ones
 * CAM_THINK_DEFAULT) and returns how many were given, or CAM_EINVAL with
 * a message in err (errlen bytes) when a value is not a number 0-1.
 */
int cam_factors_from_payload(const struct cam_payload *p, double f[CAM_THINK_NFACTORS],
			     char *err, size_t errlen);

#endif
