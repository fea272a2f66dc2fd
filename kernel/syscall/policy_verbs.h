/*
 * The verbs that keep agents apart (../shared/DESIGN.md, "Identity,
 * ownership and policy"):
 *
 *   policy_query    verb, resource, [caller] -> allowed, rule, policy_version
 *                   (read; asking about another caller needs admin)
 *   policy_update   the policy's JSON in data -> policy_version (admin)
 *   agent_register  agent, scopes, [rate], [burst], [ttl_s] -> agent, scopes,
 *                   expires_ms; the token, once, in data (admin)
 *   agent_revoke    agent -> agent, revoked (admin)
 *   agent_list      -> count, agents ("name:scopes:tokens:expires_ms;...") (admin)
 *
 * A policy_update is checked whole, saved where a restart finds it
 * (policy_file.h), and only then put in force; updates run one at a time.
 * A policy reload (SIGHUP) goes through cam_policy_verbs_reload so that it
 * and the updates are one sequence of versions.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_POLICY_VERBS_H
#define CAM_SYSCALL_POLICY_VERBS_H

#include "kernel/security/agents.h"
#include "kernel/security/auth.h"
#include "kernel/security/policy.h"
#include "kernel/syscall/verbs.h"

typedef struct cam_policy_verbs cam_policy_verbs;

/* Borrowed pointers: each must outlive the object. */
struct cam_policy_verbs_opts {
	cam_verbs *verbs;          /* the rows go here; read for policy_query's verbs */
	cam_auth *auth;
	cam_policy *policy;
	cam_agents *agents;
	const char *saved_path;    /* <data dir>/policy.json */
	const char *policy_file;   /* CAM_POLICY_FILE; NULL: none */
};

/* Adds the rows. 0 or CAM_E*. */
int cam_policy_verbs_new(const struct cam_policy_verbs_opts *o, cam_policy_verbs **out);
/* Removes the rows; NULL is a no-op. */
void cam_policy_verbs_free(cam_policy_verbs *v);

/*
 * What start and SIGHUP do: at start (at_start true) the policy saved by
 * policy_update wins over CAM_POLICY_FILE; on SIGHUP the file is read
 * again and the saved one dropped. A bad file keeps the policy in force.
 * 0 (with what happened in msg) or CAM_E* (with why in msg).
 */
int cam_policy_verbs_reload(cam_policy_verbs *v, bool at_start, char *msg, size_t len);

#endif
