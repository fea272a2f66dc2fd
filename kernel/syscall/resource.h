/*
 * A call's resource for the policy (verbs.h, resource): "<kind>:<value>"
 * from one payload key, the helper each verb file's resource function
 * calls.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_RESOURCE_H
#define CAM_SYSCALL_RESOURCE_H

#include <stddef.h>

#include "kernel/syscall/syscall.h"

/* "<kind>:<payload key's value>" into buf, or "" when the key is absent
 * (the handler refuses that call itself). 0, or CAM_EINVAL (with
 * sc->error) for a value too long to name a resource. */
int cam_resource_from_key(const struct cam_syscall *sc, const char *kind, const char *key,
			  char *buf, size_t len);

#endif
