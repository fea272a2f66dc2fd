/* The security gate: see admit.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "kernel/security/admit.h"

#include <stdio.h>
#include <string.h>

#include "kernel/security/auth.h"

int cam_security_admit(struct cam_syscall *sc, const char *authorization,
		       const char *claimed_caller)
{
	struct cam_identity id;
	int status = cam_auth_identify(authorization, claimed_caller, &id, sc->error,
				       sizeof(sc->error));

	if (status)
		return status;
	snprintf(sc->caller_buf, sizeof(sc->caller_buf), "%s", id.caller_id);
	sc->caller_id = sc->caller_buf;
	sc->scopes = id.scopes;
	sc->authenticated = id.authenticated;
	return cam_auth_rate_limit(&id, sc->error, sizeof(sc->error));
}

int cam_security_authorize(struct cam_syscall *sc)
{
	struct cam_identity id = { .scopes = sc->scopes };

	snprintf(id.caller_id, sizeof(id.caller_id), "%s", sc->caller_id);
	return cam_auth_check_scope(&id, sc->verb->scope, sc->verb->name, sc->error,
				    sizeof(sc->error));
}
