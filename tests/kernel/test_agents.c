/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kernel/security/agents.c and of registered tokens and
 * client certificates as identities (kernel/security/auth.c): a token
 * works at once, is kept only as its digest, survives reopening the store,
 * ends with a revoke or its ttl; a certificate names its caller, and with
 * a token both must agree. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/metrics.h"
#include "kernel/security/agents.h"
#include "kernel/security/auth.h"

static char dir[64];
static cam_store *store;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void open_store(void)
{
	char why[CAM_STORE_WHY];

	if (cam_store_open(&(struct cam_store_opts){ dir, 16 << 20 }, &store, why))
		fail_msg("store: %s", why);
}

static int setup(void **state)
{
	(void)state;
	cam_metrics_reset();
	snprintf(dir, sizeof(dir), "/tmp/cam-test-agents-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	open_store();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cam_store_close(store);
	store = NULL;
	return nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static bool find_token(cam_agents *a, const char *token, struct cam_agent *g)
{
	unsigned char d[32];

	SHA256((const unsigned char *)token, strlen(token), d);
	return cam_agents_find(a, d, g);
}

static void reg(cam_agents *a, const char *name, unsigned scopes, int64_t expires_ms,
		char *token)
{
	struct cam_agent g = { .scopes = scopes, .rate = -1, .burst = -1,
			       .created_ms = cam_real_ms(), .expires_ms = expires_ms };
	char why[CAM_STORE_WHY];

	snprintf(g.name, sizeof(g.name), "%s", name);
	if (cam_agents_register(a, &g, token, why))
		fail_msg("register %s: %s", name, why);
}

static void test_register_revoke_reopen(void **state)
{
	char t1[CAM_AGENT_TOKEN_LEN + 1], t2[CAM_AGENT_TOKEN_LEN + 1], t3[CAM_AGENT_TOKEN_LEN + 1];
	char why[CAM_STORE_WHY];
	struct cam_agent g, list[4];
	size_t n, tokens[4];
	cam_agents *a;

	(void)state;
	assert_int_equal(cam_agents_new(store, &a, why), 0);
	reg(a, "agent-x", CAM_SCOPE_READ | CAM_SCOPE_WRITE, 0, t1);
	reg(a, "agent-x", CAM_SCOPE_READ, 0, t2);
	reg(a, "agent-y", CAM_SCOPE_READ, 0, t3);
	assert_int_equal(strlen(t1), CAM_AGENT_TOKEN_LEN);
	assert_memory_equal(t1, "cam_", 4);
	assert_string_not_equal(t1, t2);
	assert_true(find_token(a, t1, &g));
	assert_string_equal(g.name, "agent-x");
	assert_false(find_token(a, "cam_not-a-token", &g));
	n = cam_agents_list(a, list, tokens, 4);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "agent-x");
	assert_int_equal(tokens[0], 2);
	cam_agents_free(a);

	/* Reopened: the tokens are still there (only their digests were kept). */
	cam_store_close(store);
	open_store();
	assert_int_equal(cam_agents_new(store, &a, why), 0);
	assert_true(find_token(a, t2, &g));
	assert_int_equal(cam_agents_revoke(a, "agent-x", &n, why), 0);
	assert_int_equal(n, 2);
	assert_false(find_token(a, t1, &g));
	assert_false(find_token(a, t2, &g));
	assert_true(find_token(a, t3, &g));
	assert_int_equal(cam_agents_revoke(a, "agent-x", &n, why), CAM_ENOENT);
	cam_agents_free(a);
	cam_store_close(store);
	open_store();
	assert_int_equal(cam_agents_new(store, &a, why), 0);
	assert_false(find_token(a, t1, &g)); /* the revoke was durable too */
	assert_int_equal(cam_agents_count(a), 1);
	cam_agents_free(a);
}

static void test_ttl_and_names(void **state)
{
	char t[CAM_AGENT_TOKEN_LEN + 1], why[CAM_STORE_WHY];
	struct cam_agent g = { .scopes = CAM_SCOPE_READ, .rate = -1, .burst = -1 };
	cam_agents *a;

	(void)state;
	assert_int_equal(cam_agents_new(store, &a, why), 0);
	reg(a, "short-lived", CAM_SCOPE_READ, cam_real_ms() + 150, t);
	assert_true(find_token(a, t, &g));
	usleep(250 * 1000);
	assert_false(find_token(a, t, &g));
	/* Expired tokens are dropped at the next change, store and all. */
	assert_int_equal(cam_agents_count(a), 1);
	reg(a, "long-lived", CAM_SCOPE_READ, 0, t);
	assert_int_equal(cam_agents_count(a), 1);
	assert_false(cam_agents_find_name(a, "short-lived", &g));
	reg(a, "short-again", CAM_SCOPE_READ, cam_real_ms() + 100, t);
	cam_agents_free(a);
	usleep(150 * 1000);
	cam_store_close(store);
	open_store();
	assert_int_equal(cam_agents_new(store, &a, why), 0); /* purged at load too */
	assert_int_equal(cam_agents_count(a), 1);
	g = (struct cam_agent){ .scopes = CAM_SCOPE_READ, .rate = -1, .burst = -1 };
	snprintf(g.name, sizeof(g.name), "bad name");
	assert_int_equal(cam_agents_register(a, &g, t, why), CAM_EINVAL);
	g.name[0] = '\0';
	assert_int_equal(cam_agents_register(a, &g, t, why), CAM_EINVAL);
	cam_agents_free(a);
}

/* Thousands of tokens: each found by its digest. */
static void test_many(void **state)
{
	static char tokens[3000][CAM_AGENT_TOKEN_LEN + 1];
	char why[CAM_STORE_WHY], name[32];
	struct cam_agent g;
	cam_agents *a;

	(void)state;
	assert_int_equal(cam_agents_new(store, &a, why), 0);
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "bulk-%d", i);
		reg(a, name, CAM_SCOPE_READ, 0, tokens[i]);
	}
	for (int i = 0; i < 3000; i += 7) {
		snprintf(name, sizeof(name), "bulk-%d", i);
		assert_true(find_token(a, tokens[i], &g));
		assert_string_equal(g.name, name);
	}
	assert_int_equal(cam_agents_count(a), 3000);
	cam_agents_free(a);
}

/* By name (a certificate's caller): the newest unexpired token's grant,
 * among thousands of agents, after revokes and reopening. */
static void test_find_name(void **state)
{
	static char tokens[2000][CAM_AGENT_TOKEN_LEN + 1];
	char t[CAM_AGENT_TOKEN_LEN + 1], why[CAM_STORE_WHY], name[32];
	struct cam_agent g;
	size_t n;
	cam_agents *a;

	(void)state;
	assert_int_equal(cam_agents_new(store, &a, why), 0);
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "many-%d", i);
		reg(a, name, i % 2 ? CAM_SCOPE_READ : CAM_SCOPE_READ | CAM_SCOPE_WRITE, 0, tokens[i]);
	}
	for (int i = 0; i < 2000; i += 3) {
		snprintf(name, sizeof(name), "many-%d", i);
		assert_true(cam_agents_find_name(a, name, &g));
		assert_string_equal(g.name, name);
		assert_int_equal(g.scopes, i % 2 ? CAM_SCOPE_READ : CAM_SCOPE_READ | CAM_SCOPE_WRITE);
	}
	assert_false(cam_agents_find_name(a, "many-2000", &g));
	assert_false(cam_agents_find_name(a, "", &g));

	/* Two tokens: the newer's grant; the newer expired: the older's. */
	reg(a, "two", CAM_SCOPE_READ, 0, t);
	usleep(2000);
	reg(a, "two", CAM_SCOPE_ADMIN, cam_real_ms() + 150, t);
	assert_true(cam_agents_find_name(a, "two", &g));
	assert_int_equal(g.scopes, CAM_SCOPE_ADMIN);
	usleep(250 * 1000);
	assert_true(cam_agents_find_name(a, "two", &g));
	assert_int_equal(g.scopes, CAM_SCOPE_READ);

	/* Revoked names are gone; their neighbours stay; reopened, the same. */
	for (int i = 0; i < 2000; i += 2) {
		snprintf(name, sizeof(name), "many-%d", i);
		assert_int_equal(cam_agents_revoke(a, name, &n, why), 0);
	}
	assert_false(cam_agents_find_name(a, "many-0", &g));
	assert_true(cam_agents_find_name(a, "many-1", &g));
	reg(a, "many-0", CAM_SCOPE_READ, 0, t); /* a tombstone reused */
	assert_true(cam_agents_find_name(a, "many-0", &g));
	cam_agents_free(a);
	cam_store_close(store);
	open_store();
	assert_int_equal(cam_agents_new(store, &a, why), 0);
	assert_true(cam_agents_find_name(a, "many-0", &g));
	assert_false(cam_agents_find_name(a, "many-2", &g));
	assert_true(cam_agents_find_name(a, "many-1999", &g));
	assert_int_equal(g.scopes, CAM_SCOPE_READ);
	assert_true(cam_agents_find_name(a, "two", &g));
	assert_int_equal(g.scopes, CAM_SCOPE_READ);
	cam_agents_free(a);
}

static void test_identities(void **state)
{
	char t[CAM_AGENT_TOKEN_LEN + 1], bearer[64], why[CAM_STORE_WHY], msg[256];
	struct cam_peer_cert cert_c = { .caller = "agent-c" }, cert_x = { .caller = "agent-x" };
	struct cam_peer_cert bad = { .error = "client certificate's SPIFFE ID spiffe://x/agent/c ..." };
	struct cam_identity id;
	cam_agents *ag;
	cam_auth *a;

	(void)state;
	assert_int_equal(cam_agents_new(store, &ag, why), 0);
	reg(ag, "agent-c", CAM_SCOPE_READ, 0, t);
	snprintf(bearer, sizeof(bearer), "Bearer %s", t);
	assert_int_equal(cam_auth_new(&(struct cam_auth_opts){ .agents = ag, .client_certs = true },
				      &a, why, sizeof(why)), 0);
	assert_true(cam_auth_required(a));
	/* a registered token */
	assert_int_equal(cam_auth_identify_peer(a, bearer, NULL, "", &id, msg, sizeof(msg)), 0);
	assert_string_equal(id.caller_id, "agent-c");
	assert_int_equal(id.by, CAM_ID_REGISTERED);
	/* a certificate: the agent's registered scopes */
	assert_int_equal(cam_auth_identify_peer(a, NULL, &cert_c, "", &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.by, CAM_ID_CERTIFICATE);
	assert_int_equal(id.scopes, CAM_SCOPE_READ);
	/* a certificate of an unregistered caller: read and write */
	assert_int_equal(cam_auth_identify_peer(a, NULL, &cert_x, "", &id, msg, sizeof(msg)), 0);
	assert_int_equal(id.scopes, CAM_SCOPE_READ | CAM_SCOPE_WRITE);
	/* both, naming different callers */
	assert_int_equal(cam_auth_identify_peer(a, bearer, &cert_x, "", &id, msg, sizeof(msg)),
			 CAM_EPERM);
	assert_non_null(strstr(msg, "certificate names agent-x but the token names agent-c"));
	/* both, agreeing */
	assert_int_equal(cam_auth_identify_peer(a, bearer, &cert_c, "", &id, msg, sizeof(msg)), 0);
	/* a certificate naming nobody acceptable, and no credentials at all */
	assert_int_equal(cam_auth_identify_peer(a, NULL, &bad, "", &id, msg, sizeof(msg)), CAM_EAUTH);
	assert_int_equal(cam_auth_check_credentials_peer(a, NULL, 0, &bad, msg, sizeof(msg)),
			 CAM_EAUTH);
	assert_int_equal(cam_auth_identify_peer(a, NULL, NULL, "", &id, msg, sizeof(msg)), CAM_EAUTH);
	assert_int_equal(cam_auth_check_credentials_peer(a, NULL, 0, NULL, msg, sizeof(msg)),
			 CAM_EAUTH);
	assert_int_equal(cam_auth_check_credentials_peer(a, NULL, 0, &cert_c, msg, sizeof(msg)), 0);
	/* caller_id must match the certificate */
	assert_int_equal(cam_auth_identify_peer(a, NULL, &cert_c, "agent-z", &id, msg, sizeof(msg)),
			 CAM_EPERM);
	cam_auth_free(a);
	cam_agents_free(ag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register_revoke_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl_and_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identities, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
