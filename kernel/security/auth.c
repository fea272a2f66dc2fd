/*
 * Bearer tokens, scopes and rate limits: see auth.h.
 *
 * The token table is immutable once built; a reload builds a new one and
 * swaps the pointer under a rwlock, so a call in flight keeps using the
 * table it started with (read lock held only for the lookup).
 *
 * Tokens of the file are found by their SHA-256 in an open-addressing
 * index built with the table (a digest is uniform: its first bytes are its
 * hash), registered tokens in the registry's own index (agents.h): a call
 * costs one SHA-256 and a probe or two, however many tokens there are.
 * (The lookup's timing depends on the digest, never on the token: finding
 * a token from it would take a SHA-256 preimage.)
 *
 * Rate limits are GCRA buckets (common/rate.h). Holders of the file's
 * tokens have their own bucket; registered agents and anonymous callers
 * hash into fixed tables of buckets (names must not grow memory), so two
 * of them may share one.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/security/auth.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "common/metrics_table.h"
#include "common/rate.h"
#include "common/str.h"

#define MAX_TOKENS 4096
#define ANON_BUCKETS 1024
#define AGENT_BUCKETS 16384

struct token {
	unsigned char hash[SHA256_DIGEST_LENGTH];
	char caller_id[128];
	unsigned scopes;
	double rate, burst;
	struct cam_rate_bucket *bucket;
};

struct table {
	size_t n;
	uint16_t index[2 * MAX_TOKENS]; /* token number + 1 by digest; 0: free */
	struct token tokens[];
};

enum reason { R_MISSING, R_INVALID, R_MISMATCH, R_SCOPE, R_REPEATED, R_CERT, R_POLICY, R_COUNT };
static const char *const reason_names[R_COUNT] = { "missing_token", "invalid_token",
						   "caller_mismatch", "missing_scope",
						   "repeated_credentials", "bad_certificate",
						   "policy_denied" };

enum { M_FAILURES, M_HITS, NMETRICS };
static const char *const L_REASON[] = { "reason", NULL };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_FAILURES] = { .name = "cam_os_security_auth_failures_total",
			 .help = "Counter of authentication failures", .type = CAM_COUNTER,
			 .label_names = L_REASON, .max_series = 32 },
	[M_HITS] = { .name = "cam_os_security_rate_limit_hits_total",
		     .help = "Counter of rate limit hits", .type = CAM_COUNTER, .max_series = 1 },
};

struct cam_auth {
	pthread_rwlock_t lock;
	struct table *table; /* NULL: no tokens file */
	char *path;
	cam_agents *agents;
	bool client_certs;
	struct cam_rate_bucket *agent_buckets; /* AGENT_BUCKETS */
	double rate, burst;
	cam_series *failures[R_COUNT];
	cam_series *hits;
	struct cam_rate_bucket anon[ANON_BUCKETS];
	/* Buckets of tokens live as long as the object: a reload keeps the
	 * bucket of a caller that is still there (matched by caller id). */
	struct cam_rate_bucket *token_buckets[MAX_TOKENS];
	char token_bucket_owner[MAX_TOKENS][128];
	size_t ntoken_buckets;
};

int cam_auth_parse_scopes(const char *s, unsigned *out)
{
	char buf[128], *save = NULL, *tok;

	if (strlen(s) >= sizeof(buf))
		return CAM_EINVAL;
	strcpy(buf, s);
	*out = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "read"))
			*out |= CAM_SCOPE_READ;
		else if (!strcmp(tok, "write"))
			*out |= CAM_SCOPE_WRITE | CAM_SCOPE_READ;
		else if (!strcmp(tok, "admin"))
			*out |= CAM_SCOPE_ADMIN | CAM_SCOPE_WRITE | CAM_SCOPE_READ;
		else
			return CAM_EINVAL;
	}
	return *out ? 0 : CAM_EINVAL;
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]) ||
		    sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return s[2 * n] == '\0' ? 0 : -1;
}

/* Called with the write lock held (or before any reader exists). */
static struct cam_rate_bucket *bucket_for(cam_auth *a, const char *caller)
{
	for (size_t i = 0; i < a->ntoken_buckets; i++)
		if (!strcmp(a->token_bucket_owner[i], caller))
			return a->token_buckets[i];
	if (a->ntoken_buckets == MAX_TOKENS)
		return &a->anon[0];
	a->token_buckets[a->ntoken_buckets] = cam_xcalloc_aligned(sizeof(struct cam_rate_bucket));
	snprintf(a->token_bucket_owner[a->ntoken_buckets], 128, "%s", caller);
	return a->token_buckets[a->ntoken_buckets++];
}

/* Parses one non-comment line into t; a message in why on error. */
static int parse_line(char *line, struct token *t, char *why, size_t why_len, int lineno)
{
	char hash[80], caller[160], scopes[160];
	double rate = -1, burst = -1;
	int n = sscanf(line, "%79s %159s %159s %lf %lf", hash, caller, scopes, &rate, &burst);

	if (n < 3) {
		snprintf(why, why_len, "line %d: expected 'sha256 caller scopes [rate [burst]]'", lineno);
		return CAM_EINVAL;
	}
	if (strlen(hash) != 64 || unhex(hash, t->hash, sizeof(t->hash))) {
		snprintf(why, why_len, "line %d: the first field must be a SHA-256 in hex (64 digits)", lineno);
		return CAM_EINVAL;
	}
	if (strlen(caller) >= sizeof(t->caller_id)) {
		snprintf(why, why_len, "line %d: caller id longer than 127 bytes", lineno);
		return CAM_EINVAL;
	}
	if (cam_auth_parse_scopes(scopes, &t->scopes)) {
		snprintf(why, why_len, "line %d: scopes must be read, write and/or admin", lineno);
		return CAM_EINVAL;
	}
	if ((n >= 4 && !(rate >= 0 && rate <= 1e7)) || (n >= 5 && !(burst >= 1 && burst <= 1e7))) {
		snprintf(why, why_len, "line %d: rate must be 0-1e7 per second, burst 1-1e7", lineno);
		return CAM_EINVAL;
	}
	strcpy(t->caller_id, caller);
	t->rate = n >= 4 ? rate : -1; /* -1: the default applies */
	t->burst = n >= 5 ? burst : -1;
	return 0;
}

static size_t index_slot(const unsigned char *digest)
{
	uint64_t h;

	memcpy(&h, digest, sizeof(h));
	return h & (2 * MAX_TOKENS - 1);
}

/* The digest index of a loaded table (at most half full). */
static void index_tokens(struct table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		size_t j = index_slot(t->tokens[i].hash);

		while (t->index[j])
			j = (j + 1) & (2 * MAX_TOKENS - 1);
		t->index[j] = (uint16_t)(i + 1);
	}
}

static struct table *load(const char *path, char *why, size_t why_len)
{
	FILE *f = fopen(path, "r");
	struct table *t;
	char line[1024];
	int lineno = 0;

	if (!f) {
		snprintf(why, why_len, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	t = cam_xcalloc(1, sizeof(*t) + MAX_TOKENS * sizeof(struct token));
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		lineno++;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		if (t->n == MAX_TOKENS) {
			snprintf(why, why_len, "more than %d tokens", MAX_TOKENS);
			goto out_fail;
		}
		if (parse_line(p, &t->tokens[t->n], why, why_len, lineno))
			goto out_fail;
		t->n++;
	}
	fclose(f);
	index_tokens(t);
	return t;
out_fail:
	fclose(f);
	free(t);
	return NULL;
}

static void swap_in(cam_auth *a, struct table *t)
{
	struct table *old;

	pthread_rwlock_wrlock(&a->lock);
	for (size_t i = 0; i < t->n; i++)
		t->tokens[i].bucket = bucket_for(a, t->tokens[i].caller_id);
	old = a->table;
	a->table = t;
	pthread_rwlock_unlock(&a->lock);
	free(old);
}

int cam_auth_new(const struct cam_auth_opts *o, cam_auth **out, char *why, size_t why_len)
{
	cam_family *fam[NMETRICS];
	cam_auth *a;
	int rc = cam_metrics_table_register(metrics, NMETRICS, fam, why, why_len);

	if (rc)
		return rc;
	a = cam_xcalloc_aligned(sizeof(*a));
	pthread_rwlock_init(&a->lock, NULL);
	a->rate = o->default_rate;
	a->burst = o->default_burst > 0 ? o->default_burst
					: (o->default_rate > 1 ? o->default_rate : 1);
	for (int r = 0; r < R_COUNT; r++)
		a->failures[r] = cam_series_get(fam[M_FAILURES], (const char *[]){ reason_names[r] });
	a->hits = cam_series_get(fam[M_HITS], NULL);
	a->agents = o->agents;
	a->client_certs = o->client_certs;
	a->agent_buckets = cam_xcalloc_aligned(AGENT_BUCKETS * sizeof(struct cam_rate_bucket));
	if (o->tokens_file) {
		a->path = cam_xstrdup(o->tokens_file);
		if ((rc = cam_auth_reload(a, why, why_len))) {
			cam_auth_free(a);
			return rc;
		}
	}
	*out = a;
	return 0;
}

int cam_auth_reload(cam_auth *a, char *why, size_t why_len)
{
	struct table *t;

	if (!a->path) {
		snprintf(why, why_len, "no tokens file configured");
		return 0;
	}
	t = load(a->path, why, why_len);
	if (!t)
		return CAM_EINVAL;
	swap_in(a, t);
	return 0;
}

void cam_auth_free(cam_auth *a)
{
	if (!a)
		return;
	free(a->table);
	for (size_t i = 0; i < a->ntoken_buckets; i++)
		free(a->token_buckets[i]);
	free(a->path);
	free(a->agent_buckets);
	pthread_rwlock_destroy(&a->lock);
	free(a);
}

size_t cam_auth_token_count(cam_auth *a)
{
	size_t n;

	pthread_rwlock_rdlock(&a->lock);
	n = a->table ? a->table->n : 0;
	pthread_rwlock_unlock(&a->lock);
	return n;
}

static int refuse(cam_auth *a, enum reason r, int err, char *msg, size_t msglen,
		  const char *text)
{
	cam_counter_inc(a->failures[r]);
	snprintf(msg, msglen, "%s", text);
	return err;
}

/* The token table entry of a token's digest; caller holds the lock. */
static const struct token *find_token(const struct cam_auth *a, const unsigned char *digest)
{
	const struct table *t = a->table;

	for (size_t j = index_slot(digest); t->index[j]; j = (j + 1) & (2 * MAX_TOKENS - 1)) {
		const struct token *k = &t->tokens[t->index[j] - 1];

		if (CRYPTO_memcmp(digest, k->hash, SHA256_DIGEST_LENGTH) == 0)
			return k;
	}
	return NULL;
}

static bool bearer(const char *authorization)
{
	return authorization && strncasecmp(authorization, "Bearer ", 7) == 0 && authorization[7];
}

bool cam_auth_required(const cam_auth *a)
{
	return a->path || a->client_certs;
}

const char *cam_identified_by_name(enum cam_identified_by by)
{
	switch (by) {
	case CAM_ID_TOKEN:
		return "token";
	case CAM_ID_REGISTERED:
		return "registered";
	case CAM_ID_CERTIFICATE:
		return "certificate";
	default:
		return "anonymous";
	}
}

/* The identity of a bearer token, from the file or the registry: 0, or
 * CAM_EAUTH counted. */
static int token_identity(cam_auth *a, const char *token, struct cam_identity *id, char *msg,
			  size_t msglen)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	const struct token *match = NULL;
	struct cam_agent g;

	SHA256((const unsigned char *)token, strlen(token), digest);
	pthread_rwlock_rdlock(&a->lock);
	if (a->table && (match = find_token(a, digest))) {
		snprintf(id->caller_id, sizeof(id->caller_id), "%s", match->caller_id);
		id->scopes = match->scopes;
		id->by = CAM_ID_TOKEN;
		id->rate = match->rate >= 0 ? match->rate : a->rate;
		id->burst = match->burst >= 0 ? match->burst
					      : (match->rate > 1 ? match->rate : a->burst);
		id->bucket = match->bucket; /* buckets outlive reloads */
	}
	pthread_rwlock_unlock(&a->lock);
	if (!match) {
		if (!a->agents || !cam_agents_find(a->agents, digest, &g))
			return refuse(a, R_INVALID, CAM_EAUTH, msg, msglen, "invalid bearer token");
		cam_strlcpy(id->caller_id, g.name, sizeof(id->caller_id));
		id->scopes = g.scopes;
		id->by = CAM_ID_REGISTERED;
		id->rate = g.rate >= 0 ? g.rate : a->rate;
		id->burst = g.burst >= 0 ? g.burst : (g.rate > 1 ? g.rate : a->burst);
		id->bucket = &a->agent_buckets[cam_rate_hash(g.name) % AGENT_BUCKETS];
	}
	id->authenticated = true;
	return 0;
}

enum cam_identified_by cam_auth_caller_of(cam_auth *a, const char *authorization,
					  const struct cam_peer_cert *cert, char *out,
					  size_t outlen)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	enum cam_identified_by by = CAM_ID_ANONYMOUS;
	const struct token *match;
	struct cam_agent g;

	if (cert && cert->caller && !cert->error) {
		cam_strlcpy(out, cert->caller, outlen);
		return CAM_ID_CERTIFICATE;
	}
	if (!bearer(authorization))
		return CAM_ID_ANONYMOUS;
	SHA256((const unsigned char *)authorization + 7, strlen(authorization + 7), digest);
	pthread_rwlock_rdlock(&a->lock);
	if (a->table && (match = find_token(a, digest))) {
		cam_strlcpy(out, match->caller_id, outlen);
		by = CAM_ID_TOKEN;
	}
	pthread_rwlock_unlock(&a->lock);
	if (by == CAM_ID_ANONYMOUS && a->agents && cam_agents_find(a->agents, digest, &g)) {
		cam_strlcpy(out, g.name, outlen);
		by = CAM_ID_REGISTERED;
	}
	return by;
}

/* The grant of a caller a certificate names: its registration's scopes and
 * rate limit, else its line's in the tokens file, else read,write at the
 * kernel's rate. Rate and burst follow the same defaults as a token's. */
static void cert_grant(cam_auth *a, struct cam_identity *id)
{
	struct cam_agent g;

	id->scopes = CAM_SCOPE_READ | CAM_SCOPE_WRITE;
	id->rate = a->rate;
	id->burst = a->burst;
	if (a->agents && cam_agents_find_name(a->agents, id->caller_id, &g)) {
		id->scopes = g.scopes;
		id->rate = g.rate >= 0 ? g.rate : a->rate;
		id->burst = g.burst >= 0 ? g.burst : (g.rate > 1 ? g.rate : a->burst);
		id->bucket = &a->agent_buckets[cam_rate_hash(g.name) % AGENT_BUCKETS];
		return;
	}
	pthread_rwlock_rdlock(&a->lock);
	for (size_t i = 0; a->table && i < a->table->n; i++) {
		const struct token *t = &a->table->tokens[i];

		if (strcmp(t->caller_id, id->caller_id) == 0) {
			id->scopes = t->scopes;
			id->rate = t->rate >= 0 ? t->rate : a->rate;
			id->burst = t->burst >= 0 ? t->burst : (t->rate > 1 ? t->rate : a->burst);
			id->bucket = t->bucket;
			break;
		}
	}
	pthread_rwlock_unlock(&a->lock);
}

static void anonymous(cam_auth *a, const char *claimed, struct cam_identity *id)
{
	cam_strlcpy(id->caller_id, claimed && *claimed ? claimed : "anonymous",
		    sizeof(id->caller_id));
	id->scopes = CAM_SCOPE_READ | CAM_SCOPE_WRITE | CAM_SCOPE_ADMIN;
	id->by = CAM_ID_ANONYMOUS;
	id->rate = a->rate;
	id->burst = a->burst;
}

int cam_auth_check_credentials_peer(cam_auth *a, const char *authorization, unsigned count,
				    const struct cam_peer_cert *cert, char *msg, size_t msglen)
{
	struct cam_identity id;

	if (count > 1)
		return refuse(a, R_REPEATED, CAM_EAUTH, msg, msglen,
			      "more than one authorization header");
	if (cert && cert->error)
		return refuse(a, R_CERT, CAM_EAUTH, msg, msglen, cert->error);
	if (bearer(authorization) && (a->path || (a->agents && cam_agents_count(a->agents))))
		return token_identity(a, authorization + 7, &id, msg, msglen);
	if (!cam_auth_required(a) || (cert && cert->caller))
		return 0;
	return refuse(a, R_MISSING, CAM_EAUTH, msg, msglen,
		      a->client_certs ? "missing credentials: a client certificate or a bearer token"
				      : "missing bearer token (authorization: Bearer <token>)");
}

int cam_auth_check_credentials(cam_auth *a, const char *authorization, unsigned count,
			       char *msg, size_t msglen)
{
	return cam_auth_check_credentials_peer(a, authorization, count, NULL, msg, msglen);
}

int cam_auth_identify_peer(cam_auth *a, const char *authorization,
			   const struct cam_peer_cert *cert, const char *claimed,
			   struct cam_identity *id, char *msg, size_t msglen)
{
	bool has_token = bearer(authorization);
	int rc;

	memset(id, 0, sizeof(*id));
	if (cert && cert->error)
		return refuse(a, R_CERT, CAM_EAUTH, msg, msglen, cert->error);
	if (has_token && (a->path || (a->agents && cam_agents_count(a->agents)))) {
		if ((rc = token_identity(a, authorization + 7, id, msg, msglen)))
			return rc;
		if (cert && cert->caller && strcmp(cert->caller, id->caller_id) != 0) {
			char text[320];

			snprintf(text, sizeof(text), "the client certificate names %.100s but the "
				 "token names %.100s", cert->caller, id->caller_id);
			return refuse(a, R_MISMATCH, CAM_EPERM, msg, msglen, text);
		}
	} else if (cert && cert->caller) {
		cam_strlcpy(id->caller_id, cert->caller, sizeof(id->caller_id));
		id->by = CAM_ID_CERTIFICATE;
		id->authenticated = true;
		cert_grant(a, id);
	} else if (cam_auth_required(a)) {
		return refuse(a, R_MISSING, CAM_EAUTH, msg, msglen,
			      has_token ? "invalid bearer token"
			      : a->client_certs ? "missing credentials: a client certificate or a bearer token"
						: "missing bearer token (authorization: Bearer <token>)");
	} else {
		anonymous(a, claimed, id);
		return 0;
	}
	if (claimed && *claimed && strcmp(claimed, id->caller_id) != 0)
		return refuse(a, R_MISMATCH, CAM_EPERM, msg, msglen,
			      id->by == CAM_ID_CERTIFICATE
				      ? "caller_id does not match the certificate's caller"
				      : "caller_id does not match the token's caller");
	return 0;
}

int cam_auth_identify(cam_auth *a, const char *authorization, const char *claimed,
		      struct cam_identity *id, char *msg, size_t msglen)
{
	return cam_auth_identify_peer(a, authorization, NULL, claimed, id, msg, msglen);
}

bool cam_auth_scopes_of(cam_auth *a, const char *caller, unsigned *scopes)
{
	struct cam_identity id = { 0 };
	bool found = false;
	struct cam_agent g;

	if (!cam_auth_required(a) && !(a->agents && cam_agents_find_name(a->agents, caller, &g))) {
		*scopes = CAM_SCOPE_READ | CAM_SCOPE_WRITE | CAM_SCOPE_ADMIN; /* anonymous */
		return true;
	}
	if (a->agents && cam_agents_find_name(a->agents, caller, &g)) {
		*scopes = g.scopes;
		return true;
	}
	pthread_rwlock_rdlock(&a->lock);
	for (size_t i = 0; a->table && i < a->table->n && !found; i++)
		if (strcmp(a->table->tokens[i].caller_id, caller) == 0) {
			*scopes = a->table->tokens[i].scopes;
			found = true;
		}
	pthread_rwlock_unlock(&a->lock);
	if (!found && a->client_certs) {
		cam_strlcpy(id.caller_id, caller, sizeof(id.caller_id));
		cert_grant(a, &id);
		*scopes = id.scopes;
		found = true;
	}
	return found;
}

void cam_auth_count_policy_denial(cam_auth *a)
{
	cam_counter_inc(a->failures[R_POLICY]);
}

const char *cam_auth_scope_name(unsigned bits)
{
	if (bits & CAM_SCOPE_ADMIN)
		return "admin";
	return bits & CAM_SCOPE_WRITE ? "write" : "read";
}

int cam_auth_check_scope(cam_auth *a, const struct cam_identity *id, unsigned scope,
			 const char *verb, char *msg, size_t msglen)
{
	/* Only the highest bit asked for matters: admin implies write and
	 * read, write implies read (cam_auth_parse_scopes). */
	unsigned need = scope & CAM_SCOPE_ADMIN ? CAM_SCOPE_ADMIN
			: scope & CAM_SCOPE_WRITE ? CAM_SCOPE_WRITE : CAM_SCOPE_READ;

	if (id->scopes & need)
		return 0;
	cam_counter_inc(a->failures[R_SCOPE]);
	snprintf(msg, msglen, "caller %s lacks scope %s needed by %s", id->caller_id,
		 cam_auth_scope_name(need), verb);
	return CAM_EPERM;
}

int cam_auth_rate_limit(cam_auth *a, const struct cam_identity *id, char *msg, size_t msglen)
{
	struct cam_rate_bucket *b = id->bucket;

	if (!(id->rate > 0))
		return 0;
	if (!b)
		b = &a->anon[cam_rate_hash(id->caller_id) % ANON_BUCKETS];
	if (cam_rate_take(b, id->rate, id->burst < 1 ? 1 : id->burst, cam_mono_ns()))
		return 0;
	cam_counter_inc(a->hits);
	snprintf(msg, msglen, "rate limit of %g calls/s (burst %g) reached for %s", id->rate,
		 id->burst, id->caller_id);
	return CAM_ELIMIT;
}
