/*
 * A call's resource from a payload key (resource.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/resource.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"

int cam_resource_from_key(const struct cam_syscall *sc, const char *kind, const char *key,
			  char *buf, size_t len)
{
	const char *v = cam_payload_get(sc->payload, key);
	int n;

	buf[0] = '\0';
	if (!v || !*v)
		return 0;
	n = snprintf(buf, len, "%s:%s", kind, v);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return cam_syscall_fail((struct cam_syscall *)sc, CAM_EINVAL,
					"%s is too long to name a resource", key);
	}
	return 0;
}
