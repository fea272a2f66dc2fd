/*
 * Bearer-token authentication, scopes and per-caller rate limits.
 *
 * The tokens file (CAM_AUTH_TOKENS_FILE) holds one token a line:
 *
 *     # sha256-of-token                                          caller    scopes        [rate/s [burst]]
 *     9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 agent-123 read,write   50 100
 *
 * Only SHA-256 hashes of tokens are stored (printf %s "$TOKEN" | sha256sum
 * makes one). Scopes: read, write (implies read), admin (implies all).
 * A token's rate limit overrides the default one. The file is read at
 * start and again on SIGHUP (cam_auth_reload): a bad file keeps the tokens
 * in force and says why. Comparison is constant-time; tokens are never
 * logged.
 *
 * Besides the file: tokens the kernel registered itself (agent_register,
 * kernel/security/agents.h), looked up the same way, and client
 * certificates the TLS layer verified (cam_auth_identify_peer). A call may
 * carry both a certificate and a token; they must name the same caller.
 *
 * With no tokens file and no client certificates configured, a call
 * without credentials is anonymous (the kernel only allows that on
 * loopback unless told otherwise) and names itself with the request's
 * caller_id; a registered token still identifies its agent.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SECURITY_AUTH_H
#define CAM_SECURITY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/security/agents.h"

enum cam_scope {
	CAM_SCOPE_READ = 1,
	CAM_SCOPE_WRITE = 2,
	CAM_SCOPE_ADMIN = 4,
};

typedef struct cam_auth cam_auth;

struct cam_auth_opts {
	const char *tokens_file; /* NULL: anonymous callers */
	cam_agents *agents;      /* registered tokens (borrowed); NULL: none */
	/* Client certificates are verified by TLS; calls must then carry one
	 * or a token (like a tokens file, this ends anonymous callers). */
	bool client_certs;
	double default_rate;     /* calls per second per caller; 0 = unlimited */
	double default_burst;    /* 0: same as the rate (at least 1) */
};

/* How a caller was identified. */
enum cam_identified_by {
	CAM_ID_ANONYMOUS,
	CAM_ID_TOKEN,        /* the tokens file */
	CAM_ID_REGISTERED,   /* a token from agent_register */
	CAM_ID_CERTIFICATE,  /* a verified client certificate */
};
/* "anonymous", "token", "registered" or "certificate". */
const char *cam_identified_by_name(enum cam_identified_by by);

/* What a verified client certificate says (kernel/grpc/tls.h). */
struct cam_peer_cert {
	const char *caller;  /* the caller it names; NULL: none */
	const char *error;   /* why a certificate given names nobody; NULL: none */
};

/* What a caller is, as decided for one call. */
struct cam_identity {
	char caller_id[128];
	unsigned scopes;     /* enum cam_scope bits */
	bool authenticated;  /* from a token or a certificate (false: anonymous) */
	enum cam_identified_by by;
	double rate, burst;  /* the limit that applies; rate 0 = none */
	void *bucket;        /* the token's own bucket (NULL: shared table) */
};

/*
 * Registers cam_os_security_auth_failures_total{reason} and
 * cam_os_security_rate_limit_hits_total and loads the tokens (when
 * configured). CAM_EINVAL with the reason in why (why_len bytes) when the
 * file is unreadable or malformed; *out is untouched on failure.
 */
int cam_auth_new(const struct cam_auth_opts *o, cam_auth **out, char *why, size_t why_len);
/* No call may be identified any more. NULL is a no-op. */
void cam_auth_free(cam_auth *a);
/* Reads the tokens file again; on error the old tokens stay in force. */
int cam_auth_reload(cam_auth *a, char *why, size_t why_len);
/* Tokens in force (0 without a tokens file). */
size_t cam_auth_token_count(cam_auth *a);

/*
 * Decides who calls: `authorization` is the metadata value (NULL when
 * absent), `claimed` the request's caller_id ("" when none). Returns 0,
 * CAM_EAUTH (no or a bad token) or CAM_EPERM (caller_id is not the
 * token's) with msg filled; each refusal is counted by reason.
 */
int cam_auth_identify(cam_auth *a, const char *authorization, const char *claimed,
		      struct cam_identity *id, char *msg, size_t msglen);
/*
 * The same with the connection's client certificate (cert may be NULL).
 * A certificate names the caller; its scopes are those of the agent's
 * registered tokens, else of the caller's line in the tokens file, else
 * read,write. With a token too, both must name the same caller
 * (CAM_EPERM). A certificate that names nobody acceptable is CAM_EAUTH.
 */
/*
 * Who a call's credentials name, for the record of a call refused before it
 * was identified (a full queue): the certificate's caller, else the token's,
 * into out. CAM_ID_ANONYMOUS when they name nobody. Counts nothing, takes
 * nothing from a rate limit.
 */
enum cam_identified_by cam_auth_caller_of(cam_auth *a, const char *authorization,
					  const struct cam_peer_cert *cert, char *out,
					  size_t outlen);
int cam_auth_identify_peer(cam_auth *a, const char *authorization,
			   const struct cam_peer_cert *cert, const char *claimed,
			   struct cam_identity *id, char *msg, size_t msglen);
/*
 * The credentials a call carries, checked as soon as its headers are
 * read (before its message is): `authorization` is the first value of
 * that header, `count` how many times it was sent. Two or more are
 * refused (only one may count, and which one a proxy keeps is anyone's
 * guess); without a tokens file nothing else is checked; with one, the
 * token must be there and valid. 0 or CAM_EAUTH with msg filled, counted
 * by reason. The caller_id claim is checked later (cam_auth_identify).
 */
int cam_auth_check_credentials(cam_auth *a, const char *authorization, unsigned count,
			       char *msg, size_t msglen);
/* The same, where a verified client certificate (cert may be NULL) counts
 * as credentials too. */
int cam_auth_check_credentials_peer(cam_auth *a, const char *authorization, unsigned count,
				    const struct cam_peer_cert *cert, char *msg, size_t msglen);
/* Whether calls need credentials (a tokens file or client certificates). */
bool cam_auth_required(const cam_auth *a);
/* Whether the identity holds scope (one enum cam_scope value): 0, or
 * CAM_EPERM counted as reason="missing_scope". */
int cam_auth_check_scope(cam_auth *a, const struct cam_identity *id, unsigned scope,
			 const char *verb, char *msg, size_t msglen);
/* Takes one call from the caller's token bucket: 0, or CAM_ELIMIT
 * (counted in cam_os_security_rate_limit_hits_total). Lock-free. */
int cam_auth_rate_limit(cam_auth *a, const struct cam_identity *id, char *msg, size_t msglen);

/* The scopes a named caller holds, for policy_query about another
 * caller: its registered grant, its line in the tokens file, read,write
 * when client certificates may name it; false when it has none. */
bool cam_auth_scopes_of(cam_auth *a, const char *caller, unsigned *scopes);

/* Counts a call the policy denied, as reason="policy_denied". */
void cam_auth_count_policy_denial(cam_auth *a);

/* Parses "read,write" into scope bits; CAM_EINVAL for an unknown scope. */
int cam_auth_parse_scopes(const char *s, unsigned *out);
/* "read", "write" or "admin": the highest scope in bits. */
const char *cam_auth_scope_name(unsigned bits);

#endif
