/*
 * The dispatcher's audit records (dispatch_audit.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/dispatch_audit.h"

#include <string.h>

#include "common/error.h"
#include "common/grpc_status.h"
#include "kernel/security/auth.h"

/* The record every event of a call shares. */
static struct cam_audit_record base(const struct cam_dispatch_call *c, const char *event,
				    int authorized)
{
	const struct cam_syscall *sc = &c->sc;

	return (struct cam_audit_record){
		.event = event,
		.verb = c->verb_label,
		.principal = sc->caller_id,
		.identified_by = cam_identified_by_name(sc->identified_by),
		.resource = sc->resource[0] ? sc->resource : NULL,
		.policy_name = sc->policy_name[0] ? sc->policy_name : NULL,
		.matched_rule = sc->policy_rule[0] ? sc->policy_rule : NULL,
		.authorized = authorized,
		.request_id = c->request_id,
		.trace_id = sc->trace_id[0] ? sc->trace_id : NULL,
		.peer = c->peer,
		.version = -1,
		.size = -1,
	};
}

int cam_dispatch_audit_before(cam_audit *a, struct cam_dispatch_call *c)
{
	struct cam_syscall *sc = &c->sc;
	bool admin = sc->verb->scope & CAM_SCOPE_ADMIN;
	bool auth = !strncmp(sc->verb->name, "agent_", 6);
	struct cam_audit_record r;
	int rc;

	if (!a)
		return 0;
	if ((admin && cam_audit_wants(a, CAM_AUDIT_ADMIN)) || (auth && cam_audit_wants(a, CAM_AUDIT_AUTH))) {
		r = base(c, admin && cam_audit_wants(a, CAM_AUDIT_ADMIN) ? "admin" : "auth", 1);
		rc = cam_audit_write(a, &r, true, sc->error, sizeof(sc->error));
	} else if (cam_audit_wants(a, CAM_AUDIT_ALL)) {
		r = base(c, "call", 1);
		rc = cam_audit_write(a, &r, false, sc->error, sizeof(sc->error));
	} else if (cam_audit_wants(a, CAM_AUDIT_WRITE) && sc->verb->scope & CAM_SCOPE_WRITE &&
		   !strncmp(sc->verb->name, "context_", 8) && cam_audit_failing(a)) {
		rc = cam_syscall_fail(sc, CAM_EUNAVAIL, "audit log unavailable: a context change "
				      "would go unrecorded");
	} else {
		return 0;
	}
	sc->audited = rc == 0;
	return rc ? CAM_EUNAVAIL : 0;
}

static bool is_denial(const struct cam_syscall *sc, int status)
{
	return status == CAM_GRPC_UNAUTHENTICATED || status == CAM_GRPC_PERMISSION_DENIED ||
	       (status == CAM_GRPC_RESOURCE_EXHAUSTED && sc->refusal);
}

void cam_dispatch_audit_after(cam_audit *a, struct cam_dispatch_call *c, int grpc_status)
{
	struct cam_syscall *sc = &c->sc;
	struct cam_audit_record r;
	char why[200];

	if (!a)
		return;
	if (is_denial(sc, grpc_status) && cam_audit_wants(a, CAM_AUDIT_DENY)) {
		r = base(c, "deny", 0);
		r.code = cam_grpc_status_name(grpc_status);
		if (!r.matched_rule)
			r.matched_rule = sc->refusal ? sc->refusal
					 : grpc_status == CAM_GRPC_UNAUTHENTICATED ? "authentication"
										  : "scope";
		r.message = sc->error[0] ? sc->error : NULL; /* errors never hold values */
		/* A denial stays a denial: a record that cannot be written is
		 * counted by the trail, the answer does not change. */
		cam_audit_write(a, &r, false, why, sizeof(why));
	} else if (!sc->audited && cam_audit_wants(a, CAM_AUDIT_ALL)) {
		/* every call, those refused before they could run too (an
		 * unknown verb, a bad payload, a passed deadline) */
		r = base(c, "call", grpc_status == CAM_GRPC_OK);
		r.code = cam_grpc_status_name(grpc_status);
		r.message = sc->error[0] ? sc->error : NULL;
		cam_audit_write(a, &r, false, why, sizeof(why));
	} else if (grpc_status == CAM_GRPC_OK && sc->change_ns && cam_audit_wants(a, CAM_AUDIT_WRITE)) {
		r = base(c, "write", 1);
		r.code = "OK";
		r.ns = sc->change_ns;
		r.key = sc->change_key;
		r.version = sc->change_version;
		r.size = sc->change_size;
		cam_audit_write(a, &r, false, why, sizeof(why));
	}
}
