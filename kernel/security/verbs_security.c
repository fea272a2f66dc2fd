/* whoami: who the kernel thinks is calling, and with which scopes. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "kernel/security/auth.h"
#include "kernel/syscall/syscall.h"

int cam_verb_whoami(struct cam_syscall *sc)
{
	cam_result_add(&sc->result, "caller_id", sc->caller_id);
	cam_result_add(&sc->result, "authenticated", sc->authenticated ? "true" : "false");
	cam_result_addf(&sc->result, "scopes", "%s%s%s",
			sc->scopes & CAM_SCOPE_READ ? "read" : "",
			sc->scopes & CAM_SCOPE_WRITE ? "+write" : "",
			sc->scopes & CAM_SCOPE_ADMIN ? "+admin" : "");
	return 0;
}
