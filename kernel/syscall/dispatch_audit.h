/*
 * What the dispatcher writes to the audit trail (security/audit.h), in
 * one place:
 * - before a handler runs: an admin verb's record (durable: on disk before
 *   the act; if it cannot be, the act does not run: UNAVAILABLE), or with
 *   CAM_AUDIT_EVENTS=all every call's ("call"); a context change under
 *   "write" is refused while the trail cannot be written;
 * - after: a refusal ("deny": unauthenticated, out of scope, denied by the
 *   policy, over a quota or a rate limit), and with "write" every context
 *   change the handler made (namespace, key, version, size).
 * Records hold the A59 fields (principal, resource, policy, rule,
 * authorized) and the call's ids, never values, data or tokens.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_DISPATCH_AUDIT_H
#define CAM_SYSCALL_DISPATCH_AUDIT_H

#include "kernel/security/audit.h"
#include "kernel/syscall/dispatch.h"

/* Before the handler of a call that passed every check: 0, or
 * CAM_EUNAVAIL with sc->error (the call must not run). */
int cam_dispatch_audit_before(cam_audit *a, struct cam_dispatch_call *c);
/* After the call's status is known (ran or refused). */
void cam_dispatch_audit_after(cam_audit *a, struct cam_dispatch_call *c, int grpc_status);

#endif
