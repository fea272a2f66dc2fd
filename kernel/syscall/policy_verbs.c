/*
 * The verbs that keep agents apart: see policy_verbs.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/policy_verbs.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "kernel/security/policy_file.h"

struct cam_policy_verbs {
	struct cam_policy_verbs_opts o;
	pthread_mutex_t lock; /* one policy change at a time */
};

static int need(struct cam_syscall *sc, const char *key, const char **out)
{
	*out = cam_payload_get(sc->payload, key);
	if (!*out || !**out)
		return cam_syscall_fail(sc, CAM_EINVAL, "payload key '%s' is missing", key);
	return 0;
}

/* "read+write" and the like. */
static const char *scopes_text(unsigned s, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", s & CAM_SCOPE_READ ? "read" : "",
		 s & CAM_SCOPE_WRITE ? "+write" : "", s & CAM_SCOPE_ADMIN ? "+admin" : "");
	return buf;
}

static int policy_query(void *ctx, struct cam_syscall *sc)
{
	cam_policy_verbs *v = ctx;
	const char *verb, *resource = cam_payload_get(sc->payload, "resource");
	const char *caller = cam_payload_get(sc->payload, "caller");
	const struct cam_verb *row;
	struct cam_policy_decision dec;
	unsigned scopes = 0;
	int rc;

	if ((rc = need(sc, "verb", &verb)))
		return rc;
	if (!(row = cam_verbs_find(v->o.verbs, verb)))
		return cam_syscall_fail(sc, CAM_EINVAL, "unknown verb '%.64s'", verb);
	if (!resource)
		resource = "";
	if (caller && *caller && strcmp(caller, sc->caller_id) != 0) {
		if (!(sc->scopes & CAM_SCOPE_ADMIN))
			return cam_syscall_fail(sc, CAM_EPERM,
						"only admin may ask about another caller (%.64s)", caller);
		if (!cam_auth_scopes_of(v->o.auth, caller, &scopes))
			scopes = 0;
	} else {
		caller = sc->caller_id;
		scopes = sc->scopes;
	}
	/* The same order as a call's: scope, then the policy. */
	if (!(scopes & row->scope)) { /* implied scopes are set: admin has write and read */
		dec = (struct cam_policy_decision){ .allowed = false, .enforced = true };
		cam_strlcpy(dec.rule, "scope", sizeof(dec.rule));
		dec.version = cam_policy_version(v->o.policy);
	} else {
		cam_policy_decide_as(v->o.policy, caller, scopes & CAM_SCOPE_ADMIN, verb, resource,
				     false, &dec);
	}
	cam_result_add(&sc->result, "caller", caller);
	cam_result_add(&sc->result, "verb", verb);
	cam_result_add(&sc->result, "resource", resource);
	cam_result_add(&sc->result, "allowed", dec.allowed ? "true" : "false");
	cam_result_add(&sc->result, "rule", dec.rule);
	cam_result_addf(&sc->result, "policy_version", "%" PRIu64, dec.version);
	return 0;
}

static int policy_update(void *ctx, struct cam_syscall *sc)
{
	cam_policy_verbs *v = ctx;
	char why[CAM_POLICY_WHY];
	uint64_t version;
	int rc;

	if (!sc->data_len)
		return cam_syscall_fail(sc, CAM_EINVAL, "the policy's JSON goes in data");
	if ((rc = cam_policy_check((const char *)sc->data, sc->data_len, why)))
		return cam_syscall_fail(sc, rc, "policy not changed: %s", why);
	pthread_mutex_lock(&v->lock);
	version = cam_policy_version(v->o.policy) + 1;
	/* Saved first: a policy in force is one a restart finds. */
	rc = cam_policy_saved_write(v->o.saved_path, (const char *)sc->data, sc->data_len,
				    version, why);
	if (!rc) {
		cam_policy_set_base_version(v->o.policy, version - 1);
		rc = cam_policy_set(v->o.policy, (const char *)sc->data, sc->data_len, &version, why);
	}
	pthread_mutex_unlock(&v->lock);
	if (rc)
		return cam_syscall_fail(sc, rc, "policy not changed: %s", why);
	cam_log(CAM_LOG_INFO, "security", "policy_update by %s: policy version %" PRIu64
		" in force, %zu rules, saved in %s", sc->caller_id, version,
		cam_policy_rule_count(v->o.policy), v->o.saved_path);
	cam_result_addf(&sc->result, "policy_version", "%" PRIu64, version);
	return 0;
}

/* A number payload key within [min, max]; *out untouched when absent. */
static int number(struct cam_syscall *sc, const char *key, double min, double max, double *out)
{
	const char *s = cam_payload_get(sc->payload, key);
	char *end;
	double d;

	if (!s)
		return 0;
	d = strtod(s, &end);
	if (!*s || *end || !(d >= min && d <= max))
		return cam_syscall_fail(sc, CAM_EINVAL, "%s must be a number from %g to %g", key, min,
					max);
	*out = d;
	return 0;
}

static int agent_register(void *ctx, struct cam_syscall *sc)
{
	cam_policy_verbs *v = ctx;
	struct cam_agent g = { .rate = -1, .burst = -1, .created_ms = cam_real_ms() };
	const char *name, *scopes;
	char token[CAM_AGENT_TOKEN_LEN + 1], why[CAM_STORE_WHY], sbuf[32];
	double ttl = 0;
	int rc;

	if ((rc = need(sc, "agent", &name)) || (rc = need(sc, "scopes", &scopes)) ||
	    (rc = number(sc, "rate", 0, 1e7, &g.rate)) || (rc = number(sc, "burst", 1, 1e7, &g.burst)) ||
	    (rc = number(sc, "ttl_s", 1, 1e9, &ttl)))
		return rc;
	if (cam_auth_parse_scopes(scopes, &g.scopes))
		return cam_syscall_fail(sc, CAM_EINVAL, "scopes must be read, write and/or admin, "
					"comma-separated (a value continues past commas)");
	if (strlen(name) > CAM_AGENT_NAME_MAX)
		return cam_syscall_fail(sc, CAM_EINVAL, "agent name longer than %d bytes",
					CAM_AGENT_NAME_MAX);
	cam_strlcpy(g.name, name, sizeof(g.name));
	if (ttl > 0)
		g.expires_ms = g.created_ms + (int64_t)(ttl * 1000);
	if ((rc = cam_agents_register(v->o.agents, &g, token, why)))
		return cam_syscall_fail(sc, rc, "%s", why);
	cam_log(CAM_LOG_INFO, "security", "agent_register by %s: agent %s, scopes %s%s", sc->caller_id,
		g.name, scopes_text(g.scopes, sbuf, sizeof(sbuf)), ttl > 0 ? ", with a ttl" : "");
	cam_result_add(&sc->result, "agent", g.name);
	cam_result_add(&sc->result, "scopes", scopes_text(g.scopes, sbuf, sizeof(sbuf)));
	cam_result_addf(&sc->result, "expires_ms", "%lld", (long long)g.expires_ms);
	cam_result_add(&sc->result, "token_in", "data");
	/* The token, once: the response owns it (dispatch.c frees it). */
	sc->out_data = cam_xmalloc(CAM_AGENT_TOKEN_LEN);
	memcpy(sc->out_data, token, CAM_AGENT_TOKEN_LEN);
	sc->out_len = CAM_AGENT_TOKEN_LEN;
	explicit_bzero(token, sizeof(token));
	return 0;
}

static int agent_revoke(void *ctx, struct cam_syscall *sc)
{
	cam_policy_verbs *v = ctx;
	char why[CAM_STORE_WHY];
	const char *name;
	size_t n = 0;
	int rc;

	if ((rc = need(sc, "agent", &name)))
		return rc;
	if ((rc = cam_agents_revoke(v->o.agents, name, &n, why)))
		return cam_syscall_fail(sc, rc, "%s", why);
	cam_log(CAM_LOG_INFO, "security", "agent_revoke by %s: agent %s, %zu tokens ended",
		sc->caller_id, name, n);
	cam_result_add(&sc->result, "agent", name);
	cam_result_addf(&sc->result, "revoked", "%zu", n);
	return 0;
}

static int agent_list(void *ctx, struct cam_syscall *sc)
{
	cam_policy_verbs *v = ctx;
	size_t max = cam_agents_count(v->o.agents) + 1, n, off = 0;
	struct cam_agent *a = cam_xmalloc(max * sizeof(*a));
	size_t *tokens = cam_xmalloc(max * sizeof(*tokens));
	char *list, sbuf[32];

	n = cam_agents_list(v->o.agents, a, tokens, max);
	list = cam_xmalloc(n * (CAM_AGENT_NAME_MAX + 64) + 1);
	list[0] = '\0';
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(list + off, "%s%s:%s:%zu:%lld", i ? ";" : "", a[i].name,
				       scopes_text(a[i].scopes, sbuf, sizeof(sbuf)), tokens[i],
				       (long long)a[i].expires_ms);
	cam_result_addf(&sc->result, "count", "%zu", n);
	cam_result_add(&sc->result, "agents", list);
	free(list);
	free(tokens);
	free(a);
	return 0;
}

int cam_policy_verbs_reload(cam_policy_verbs *v, bool at_start, char *msg, size_t len)
{
	char why[CAM_POLICY_WHY];
	uint64_t version;
	int rc;

	pthread_mutex_lock(&v->lock);
	if (at_start) {
		rc = cam_policy_saved_load(v->o.policy, v->o.saved_path, &version, why);
		if (rc == 0) {
			snprintf(msg, len, "policy version %" PRIu64 " from policy_update (%s), %zu rules%s",
				 version, v->o.saved_path, cam_policy_rule_count(v->o.policy),
				 v->o.policy_file ? "; CAM_POLICY_FILE is read again on SIGHUP" : "");
			goto out_unlock;
		}
		if (rc != CAM_ENOENT) {
			snprintf(msg, len, "%s", why);
			goto out_unlock;
		}
	}
	if (!v->o.policy_file) {
		rc = 0;
		snprintf(msg, len, "no policy file (CAM_POLICY_FILE): ownership and the defaults decide");
		goto out_unlock;
	}
	if ((rc = cam_policy_file_load(v->o.policy, v->o.policy_file, &version, why))) {
		snprintf(msg, len, "%s", why);
		goto out_unlock;
	}
	if (!at_start)
		cam_policy_saved_remove(v->o.saved_path, why);
	snprintf(msg, len, "policy version %" PRIu64 " from %s, %zu rules", version,
		 v->o.policy_file, cam_policy_rule_count(v->o.policy));
out_unlock:
	pthread_mutex_unlock(&v->lock);
	return rc;
}

static const char *const K_QUERY[] = { "verb", "resource", "caller", NULL };
static const char *const K_NONE[] = { NULL };
static const char *const K_REGISTER[] = { "agent", "scopes", "rate", "burst", "ttl_s", NULL };
static const char *const K_AGENT[] = { "agent", NULL };

static const struct cam_verb rows[] = {
	{ .name = "policy_query", .fn = policy_query, .keys = K_QUERY, .scope = CAM_SCOPE_READ },
	{ .name = "policy_update", .fn = policy_update, .keys = K_NONE, .scope = CAM_SCOPE_ADMIN,
	  .may_block = true },
	{ .name = "agent_register", .fn = agent_register, .keys = K_REGISTER,
	  .scope = CAM_SCOPE_ADMIN, .may_block = true },
	{ .name = "agent_revoke", .fn = agent_revoke, .keys = K_AGENT, .scope = CAM_SCOPE_ADMIN,
	  .may_block = true },
	{ .name = "agent_list", .fn = agent_list, .keys = K_NONE, .scope = CAM_SCOPE_ADMIN },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

int cam_policy_verbs_new(const struct cam_policy_verbs_opts *o, cam_policy_verbs **out)
{
	cam_policy_verbs *v;
	int rc;

	if (!o->verbs || !o->auth || !o->policy || !o->agents || !o->saved_path)
		return CAM_EINVAL;
	v = cam_xcalloc(1, sizeof(*v));
	v->o = *o;
	pthread_mutex_init(&v->lock, NULL);
	if ((rc = cam_verbs_add(o->verbs, "security", rows, NROWS, v))) {
		pthread_mutex_destroy(&v->lock);
		free(v);
		return rc;
	}
	*out = v;
	return 0;
}

void cam_policy_verbs_free(cam_policy_verbs *v)
{
	if (!v)
		return;
	cam_verbs_remove(v->o.verbs, rows, NROWS);
	pthread_mutex_destroy(&v->lock);
	free(v);
}
