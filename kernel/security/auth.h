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
 * With no tokens file every caller is anonymous (the kernel only allows
 * that on loopback unless told otherwise) and names itself with the
 * request's caller_id.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SECURITY_AUTH_H
#define CAM_SECURITY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cam_scope {
	CAM_SCOPE_READ = 1,
	CAM_SCOPE_WRITE = 2,
	CAM_SCOPE_ADMIN = 4,
};

typedef struct cam_auth cam_auth;

struct cam_auth_opts {
	const char *tokens_file; /* NULL: anonymous callers */
	double default_rate;     /* calls per second per caller; 0 = unlimited */
	double default_burst;    /* 0: same as the rate (at least 1) */
};

/* What a caller is, as decided for one call. */
struct cam_identity {
	char caller_id[128];
	unsigned scopes;     /* enum cam_scope bits */
	bool authenticated;  /* from a token (false: anonymous) */
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
/* Whether the identity holds scope (one enum cam_scope value): 0, or
 * CAM_EPERM counted as reason="missing_scope". */
int cam_auth_check_scope(cam_auth *a, const struct cam_identity *id, unsigned scope,
			 const char *verb, char *msg, size_t msglen);
/* Takes one call from the caller's token bucket: 0, or CAM_ELIMIT
 * (counted in cam_os_security_rate_limit_hits_total). Lock-free. */
int cam_auth_rate_limit(cam_auth *a, const struct cam_identity *id, char *msg, size_t msglen);

/* Parses "read,write" into scope bits; CAM_EINVAL for an unknown scope. */
int cam_auth_parse_scopes(const char *s, unsigned *out);
/* "read", "write" or "admin": the highest scope in bits. */
const char *cam_auth_scope_name(unsigned bits);

#endif
