/*
 * The authorization policy: who may do which verb on which resource, in
 * the shape of gRPC's authorization policy (../shared/DESIGN.md, "Identity,
 * ownership and policy"):
 *
 *   { "name": "cam-os",
 *     "deny_rules":  [ { "name": "...", "source": { "principals": [...] },
 *                        "request": { "verbs": [...], "resources": [...] } } ],
 *     "allow_rules": [ ... ] }
 *
 * Principals are caller ids, verbs are verb names, resources are
 * "namespace:<ns>", "driver:<name>" or "metric:<name>"; each pattern is
 * exact or ends in '*' (a prefix); an absent list matches everything (a
 * rule with resources never matches a verb that has no resource).
 *
 * A decision, for a caller that holds the verb's scope: a matching deny
 * rule denies; else the caller's own namespace ("<caller>" or under
 * "<caller>/"), or any resource for an admin, is allowed (rule "owner"); else a matching allow rule
 * allows; else namespaces are denied and everything else is allowed (rule
 * "default"). The first matching rule in the file names the decision.
 *
 * Rules are indexed by verb and principal (exact ones in hash tables,
 * patterns in short lists per verb), so a decision looks at the few rules
 * that can apply, never at all of them. A policy object is immutable once
 * made; cam_policy_set swaps the one in force under a rwlock, so a call is
 * decided by one version or the other, never half of each.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SECURITY_POLICY_H
#define CAM_SECURITY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cam_policy cam_policy;

#define CAM_POLICY_WHY 256
/* Rules per policy, and bytes of a policy's JSON. */
#define CAM_POLICY_MAX_RULES 100000
#define CAM_POLICY_MAX_BYTES (16 << 20)

enum cam_policy_mode {
	CAM_POLICY_ENFORCE,
	CAM_POLICY_SHADOW, /* decide, count and log, but deny nothing */
};

struct cam_policy_decision {
	bool allowed;        /* what the policy says */
	bool enforced;       /* false in shadow mode: a denial was not applied */
	char rule[64];       /* the deciding rule's name, or owner / default */
	uint64_t version;    /* of the policy that decided (0: none in force) */
	char policy[64];     /* its name ("" when none) */
};

struct cam_policy_opts {
	enum cam_policy_mode mode;
	size_t max_rule_series; /* rule label values counted (bounded) */
};

/*
 * A policy set with none in force (every call decided by ownership and
 * the defaults, version 0). Registers
 * cam_os_security_policy_decisions_total{decision,rule}.
 */
int cam_policy_new(const struct cam_policy_opts *o, cam_policy **out);
/* No decision may be running. NULL is a no-op. */
void cam_policy_free(cam_policy *p);

/*
 * Parses and checks a policy's JSON whole, then puts it in force as the
 * next version (*version gets it). CAM_EINVAL with why (CAM_POLICY_WHY
 * bytes) for an invalid one, which changes nothing.
 */
int cam_policy_set(cam_policy *p, const char *json, size_t len, uint64_t *version, char *why);
/* Only checks json (cam_policy_set without the swap). */
int cam_policy_check(const char *json, size_t len, char *why);
/* Removes the policy in force (ownership and defaults only). */
void cam_policy_clear(cam_policy *p);
/* The version in force (0: none yet) and the policy's name. */
uint64_t cam_policy_version(cam_policy *p);
/* Starts versions after v (a version kept across restarts). */
void cam_policy_set_base_version(cam_policy *p, uint64_t v);
/* Rules in force. */
size_t cam_policy_rule_count(cam_policy *p);

/*
 * Decides whether caller may do verb on resource ("" when the verb has
 * none). Quick, from any thread. Counts the decision (unless count is
 * false: policy_query asks without acting).
 */
void cam_policy_decide(cam_policy *p, const char *caller, const char *verb,
		       const char *resource, bool count, struct cam_policy_decision *out);
/* The same for a caller with the admin scope, which reaches every resource:
 * it is decided as the owner of all of them (deny rules still apply). */
void cam_policy_decide_as(cam_policy *p, const char *caller, bool admin, const char *verb,
			  const char *resource, bool count, struct cam_policy_decision *out);

#endif
