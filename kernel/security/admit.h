/*
 * The security gate of every syscall: who calls (bearer token or
 * anonymous), whether the caller's rate limit allows the call, and whether
 * the caller holds the scope the verb's table row asks for.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SECURITY_ADMIT_H
#define CAM_SECURITY_ADMIT_H

#include "kernel/syscall/syscall.h"

/* Identifies the caller into sc (caller_id, scopes) and takes one call
 * from its rate limit. 0 or a gRPC status with sc->error set. */
int cam_security_admit(struct cam_syscall *sc, const char *authorization,
		       const char *claimed_caller);
/* Checks sc->verb's scope against the caller's. 0 or PERMISSION_DENIED. */
int cam_security_authorize(struct cam_syscall *sc);

#endif
