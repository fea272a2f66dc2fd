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

/*
 * Whether a payload pair is a scheduling factor: 0 when its key is none,
 * 1 when it is one with a good value (its index in *idx, its value in
 * *v), CAM_EINVAL with a message in err (errlen bytes) when its value is
 * not a number from 0 to 1.
 */
int cam_factors_pair(const struct cam_payload_pair *pair, int *idx, double *v, char *err,
		     size_t errlen);
/*
 * The factors a parsed payload carries: fills f (missing ones
 * CAM_THINK_DEFAULT) and returns how many were given, or CAM_EINVAL with
 * a message in err (errlen bytes) when a value is not a number 0-1.
 */
int cam_factors_from_payload(const struct cam_payload *p, double f[CAM_THINK_NFACTORS],
			     char *err, size_t errlen);

#endif
