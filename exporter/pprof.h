/*
 * The exporter's side of the profiling channel (common/pprof_channel.h):
 * asks cam-kernel for a profile and waits for it. http.c serves the
 * results under /debug/pprof/ like Go's net/http/pprof.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_PPROF_H
#define CAM_EXPORTER_PPROF_H

#include <stddef.h>
#include <stdint.h>

#include "common/pprof_channel.h"

/* What the kernel answered. */
struct cam_pprof_reply {
	int status;     /* enum cam_pprof_status */
	uint8_t *data;  /* the profile, or a message; malloc'd, NUL-terminated */
	size_t len;
};

/*
 * Sends request ("profile 30", "heap") to the kernel at addr and waits up
 * to timeout_ms. Returns 0 with *r filled (free r->data), CAM_EUNAVAIL when
 * no kernel listens there, CAM_ETIMEDOUT, or another CAM_E* code.
 */
int cam_pprof_request(const char *addr, const char *request, int timeout_ms,
		      struct cam_pprof_reply *r);

#endif
