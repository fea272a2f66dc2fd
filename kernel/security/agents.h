/*
 * Registered agents: bearer tokens the kernel hands out itself
 * (agent_register), kept durably in the kernel's store (the "agents"
 * database of kernel/store/store.h) as the SHA-256 of each token, never
 * the token. A token works from the moment agent_register answers, with no
 * SIGHUP, survives restarts, and ends with agent_revoke (every token of
 * that agent at once) or when its ttl runs out.
 *
 * Lookups (cam_agents_find) are by the token's digest in an in-memory hash
 * table under a rwlock, quick from any thread; changes are written to the
 * store first and only then made visible, so a token the kernel answered
 * for is one a restart still knows, and a revoked one is not.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SECURITY_AGENTS_H
#define CAM_SECURITY_AGENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/store/store.h"

typedef struct cam_agents cam_agents;

#define CAM_AGENT_NAME_MAX 127
/* A token: "cam_" and 43 characters of base64url (32 random bytes). */
#define CAM_AGENT_TOKEN_LEN 47

/* One registered token's grant. */
struct cam_agent {
	char name[CAM_AGENT_NAME_MAX + 1];
	unsigned scopes;      /* enum cam_scope bits */
	double rate, burst;   /* -1: the kernel's default */
	int64_t created_ms;   /* Unix time */
	int64_t expires_ms;   /* 0: never */
};

/* Loads the registry from store (borrowed; must outlive it). CAM_E* with
 * why (CAM_STORE_WHY bytes) on a store error. */
int cam_agents_new(cam_store *store, cam_agents **out, char *why);
/* NULL is a no-op. */
void cam_agents_free(cam_agents *a);

/* Whether a bearer token (its SHA-256) is a registered, unexpired one;
 * *out gets its grant. Any thread; never waits on the store. */
bool cam_agents_find(cam_agents *a, const unsigned char digest[32], struct cam_agent *out);
/* The grant of any registered token of agent name (scopes for a client
 * certificate naming it); false when it has none. */
bool cam_agents_find_name(cam_agents *a, const char *name, struct cam_agent *out);

/*
 * Registers a new token for g->name (1-127 bytes of [A-Za-z0-9_.@/-]):
 * token gets it (CAM_AGENT_TOKEN_LEN + 1 bytes), to hand out once. Waits
 * for the store's commit: 0, CAM_EINVAL (bad name), CAM_ELIMIT (too many
 * tokens) or the store's code, with why.
 */
int cam_agents_register(cam_agents *a, const struct cam_agent *g, char *token, char *why);
/* Ends every token of name; *revoked gets how many. CAM_ENOENT when it has
 * none. Waits for the store's commit. */
int cam_agents_revoke(cam_agents *a, const char *name, size_t *revoked, char *why);

/* The registered agents (one entry a name, the grant of its newest token,
 * tokens counted in *ntokens), up to max; returns how many. */
size_t cam_agents_list(cam_agents *a, struct cam_agent *out, size_t *ntokens, size_t max);
/* Registered tokens in force. */
size_t cam_agents_count(cam_agents *a);

#endif
