/* Unit tests of kernel/security/auth.c: tokens, scopes, rate limits. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/metrics.h"
#include "kernel/security/auth.h"

static char path[64];
static cam_auth *auth;

static void sha256_hex(const char *s, char *out)
{
	char cmd[256];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "printf %%s '%s' | sha256sum", s);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, 65, p));
	pclose(p);
}

static void write_tokens(const char *extra)
{
	char a[80], b[80];
	FILE *f = fopen(path, "w");

	sha256_hex("secret-a", a);
	sha256_hex("secret-b", b);
	fprintf(f, "# comment line\n\n%s agent-a read,write\n%s admin-b admin 2 2\n%s",
		a, b, extra ? extra : "");
	fclose(f);
}

static int setup(void **state)
{
	char why[256];
	int fd;

	(void)state;
	strcpy(path, "/tmp/cam-tokens-XXXXXX");
	fd = mkstemp(path);
	close(fd);
	write_tokens(NULL);
	return cam_auth_new(&(struct cam_auth_opts){ .tokens_file = path }, &auth, why, sizeof(why));
}

static int teardown(void **state)
{
	(void)state;
	cam_auth_free(auth);
	unlink(path);
	return 0;
}

struct probe {
	const char *family, *label; /* label NULL: the series without labels */
	double v;
};

static void on_series(void *arg, const struct cam_family_info *info,
		      const struct cam_series_value *v)
{
	struct probe *p = arg;

	if (strcmp(info->name, p->family) != 0)
		return;
	if (p->label ? info->nlabels && strcmp(v->label_values[0], p->label) == 0
		     : info->nlabels == 0)
		p->v = v->value;
}

/* A series' value now, or -1 when there is none. */
static double value(const char *family, const char *label)
{
	struct probe p = { family, label, -1 };
	struct cam_metrics_visitor vis = { NULL, on_series, &p };

	cam_metrics_collect(&vis);
	return p.v;
}

static void test_good_token(void **state)
{
	struct cam_identity id;
	char msg[200];

	(void)state;
	assert_int_equal(cam_auth_token_count(auth), 2);
	assert_int_equal(cam_auth_identify(auth, "Bearer secret-a", "", &id, msg, sizeof(msg)), 0);
	assert_string_equal(id.caller_id, "agent-a");
	assert_true(id.authenticated);
	assert_int_equal(cam_auth_identify(auth, "bearer secret-a", "agent-a", &id, msg, sizeof(msg)), 0);
}

static void test_refusals(void **state)
{
	const char *F = "cam_os_security_auth_failures_total";
	double missing = value(F, "missing_token"), invalid = value(F, "invalid_token");
	double mismatch = value(F, "caller_mismatch");
	struct cam_identity id;
	char msg[200];

	(void)state;
	assert_true(missing >= 0 && invalid >= 0 && mismatch >= 0);
	assert_int_equal(cam_auth_identify(auth, NULL, "", &id, msg, sizeof(msg)), CAM_EAUTH);
	assert_non_null(strstr(msg, "missing bearer token"));
	assert_int_equal(cam_auth_identify(auth, "Bearer ", "", &id, msg, sizeof(msg)), CAM_EAUTH);
	assert_int_equal(cam_auth_identify(auth, "Basic abc", "", &id, msg, sizeof(msg)), CAM_EAUTH);
	assert_int_equal(cam_auth_identify(auth, "Bearer wrong", "", &id, msg, sizeof(msg)), CAM_EAUTH);
	assert_non_null(strstr(msg, "invalid bearer token"));
	assert_null(strstr(msg, "wrong")); /* never echo the token */
	assert_int_equal(cam_auth_identify(auth, "Bearer secret-a", "someone-else", &id, msg, sizeof(msg)), CAM_EPERM);
	assert_non_null(strstr(msg, "does not match"));
	/* Each refusal is counted under its reason. */
	assert_true(value(F, "missing_token") == missing + 3);
	assert_true(value(F, "invalid_token") == invalid + 1);
	assert_true(value(F, "caller_mismatch") == mismatch + 1);
}

/* At HEADERS time: one authorization header at most; with tokens, a
 * valid one; each refusal counted under its reason. */
static void test_credentials_at_headers(void **state)
{
	const char *F = "cam_os_security_auth_failures_total";
	double repeated = value(F, "repeated_credentials"), missing = value(F, "missing_token");
	char msg[200];

	(void)state;
	assert_int_equal(cam_auth_check_credentials(auth, "Bearer secret-a", 1, msg, sizeof(msg)), 0);
	assert_int_equal(cam_auth_check_credentials(auth, "Bearer secret-a", 2, msg, sizeof(msg)),
			 CAM_EAUTH);
	assert_non_null(strstr(msg, "more than one authorization header"));
	assert_int_equal(cam_auth_check_credentials(auth, NULL, 0, msg, sizeof(msg)), CAM_EAUTH);
	assert_int_equal(cam_auth_check_credentials(auth, "Bearer nope", 1, msg, sizeof(msg)),
			 CAM_EAUTH);
	assert_null(strstr(msg, "nope"));
	assert_true(value(F, "repeated_credentials") == repeated + 1);
	assert_true(value(F, "missing_token") == missing + 1);
}

/* Without a tokens file only repeated credentials are refused. */
static void test_credentials_anonymous(void **state)
{
	cam_auth *anon;
	char why[200];

	(void)state;
	assert_int_equal(cam_auth_new(&(struct cam_auth_opts){ 0 }, &anon, why, sizeof(why)), 0);
	assert_int_equal(cam_auth_check_credentials(anon, NULL, 0, why, sizeof(why)), 0);
	assert_int_equal(cam_auth_check_credentials(anon, "Bearer whatever", 1, why, sizeof(why)), 0);
	assert_int_equal(cam_auth_check_credentials(anon, "Bearer a", 2, why, sizeof(why)), CAM_EAUTH);
	cam_auth_free(anon);
}

/* Bad tokens of every length are refused, including prefixes and
 * extensions of a good one (the comparison is of SHA-256 digests with
 * CRYPTO_memcmp, so its time does not depend on where they differ). */
static void test_bad_tokens_of_every_length(void **state)
{
	struct cam_identity id;
	char msg[200], header[300];

	(void)state;
	for (int len = 1; len <= 256; len++) {
		char tok[260];

		memset(tok, 'a' + len % 26, (size_t)len);
		tok[len] = '\0';
		snprintf(header, sizeof(header), "Bearer %s", tok);
		assert_int_equal(cam_auth_identify(auth, header, "", &id, msg, sizeof(msg)), CAM_EAUTH);
	}
	assert_int_equal(cam_auth_identify(auth, "Bearer secret-", "", &id, msg, sizeof(msg)), CAM_EAUTH);
	assert_int_equal(cam_auth_identify(auth, "Bearer secret-aa", "", &id, msg, sizeof(msg)), CAM_EAUTH);
	assert_int_equal(cam_auth_identify(auth, "Bearer secret-A", "", &id, msg, sizeof(msg)), CAM_EAUTH);
	assert_int_equal(cam_auth_identify(auth, "Bearer  secret-a", "", &id, msg, sizeof(msg)), CAM_EAUTH);
}

/* Over a window the bucket lets through its burst plus rate x time. */
static void test_rate_limit_holds_the_rate(void **state)
{
	struct cam_identity id = { .rate = 200, .burst = 20 };
	char msg[200];
	struct timespec t0, t;
	int allowed = 0;
	double elapsed;

	(void)state;
	strcpy(id.caller_id, "rate-probe");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		allowed += cam_auth_rate_limit(auth, &id, msg, sizeof(msg)) == 0;
		usleep(200);
		clock_gettime(CLOCK_MONOTONIC, &t);
		elapsed = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
	} while (elapsed < 0.5);
	/* Expected 20 + 200 x 0.5 = 120; a slow machine calls less often,
	 * which can only lower the count, never raise it past the bound. */
	assert_true(allowed <= 20 + (int)(200 * elapsed) + 1);
	assert_true(allowed >= 60);
}

static void test_scopes(void **state)
{
	struct cam_identity id;
	char msg[200];
	unsigned s;

	(void)state;
	assert_int_equal(cam_auth_identify(auth, "Bearer secret-a", "", &id, msg, sizeof(msg)), 0);
	assert_int_equal(cam_auth_check_scope(auth, &id, CAM_SCOPE_READ, "ping", msg, sizeof(msg)), 0);
	assert_int_equal(cam_auth_check_scope(auth, &id, CAM_SCOPE_WRITE, "emit_metric", msg, sizeof(msg)), 0);
	assert_int_equal(cam_auth_check_scope(auth, &id, CAM_SCOPE_ADMIN, "tune_system", msg, sizeof(msg)), CAM_EPERM);
	assert_non_null(strstr(msg, "lacks scope admin"));
	assert_int_equal(cam_auth_identify(auth, "Bearer secret-b", "", &id, msg, sizeof(msg)), 0);
	assert_int_equal(cam_auth_check_scope(auth, &id, CAM_SCOPE_ADMIN, "tune_system", msg, sizeof(msg)), 0);
	assert_int_equal(cam_auth_parse_scopes("read,bogus", &s), CAM_EINVAL);
	assert_int_equal(cam_auth_parse_scopes("", &s), CAM_EINVAL);
}

static void test_rate_limit_burst_then_refuse(void **state)
{
	struct cam_identity id;
	char msg[200];
	int allowed = 0;

	(void)state;
	/* admin-b: 2 calls/s, burst 2. */
	assert_int_equal(cam_auth_identify(auth, "Bearer secret-b", "", &id, msg, sizeof(msg)), 0);
	for (int i = 0; i < 10; i++)
		allowed += cam_auth_rate_limit(auth, &id, msg, sizeof(msg)) == 0;
	assert_int_equal(allowed, 2);
	assert_non_null(strstr(msg, "rate limit"));
	assert_true(value("cam_os_security_rate_limit_hits_total", NULL) >= 8);
	usleep(600 * 1000); /* a little more than one token's worth */
	assert_int_equal(cam_auth_rate_limit(auth, &id, msg, sizeof(msg)), 0);
	assert_int_equal(cam_auth_rate_limit(auth, &id, msg, sizeof(msg)), CAM_ELIMIT);
	/* agent-a has no limit (default 0 = unlimited). */
	assert_int_equal(cam_auth_identify(auth, "Bearer secret-a", "", &id, msg, sizeof(msg)), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(cam_auth_rate_limit(auth, &id, msg, sizeof(msg)), 0);
}

static void test_reload(void **state)
{
	struct cam_identity id;
	char msg[200], why[256], c[80];

	(void)state;
	/* A bad file keeps the tokens in force. */
	write_tokens("zzzz not-a-hash read\n");
	assert_int_equal(cam_auth_reload(auth, why, sizeof(why)), CAM_EINVAL);
	assert_non_null(strstr(why, "line 5"));
	assert_int_equal(cam_auth_identify(auth, "Bearer secret-a", "", &id, msg, sizeof(msg)), 0);
	/* A good one adds a token. */
	sha256_hex("secret-c", c);
	{
		char line[160];
		snprintf(line, sizeof(line), "%s agent-c read\n", c);
		write_tokens(line);
	}
	assert_int_equal(cam_auth_reload(auth, why, sizeof(why)), 0);
	assert_int_equal(cam_auth_token_count(auth), 3);
	assert_int_equal(cam_auth_identify(auth, "Bearer secret-c", "", &id, msg, sizeof(msg)), 0);
	assert_string_equal(id.caller_id, "agent-c");
	assert_int_equal(cam_auth_check_scope(auth, &id, CAM_SCOPE_WRITE, "emit_metric", msg, sizeof(msg)), CAM_EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_token),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_credentials_at_headers),
		cmocka_unit_test(test_credentials_anonymous),
		cmocka_unit_test(test_bad_tokens_of_every_length),
		cmocka_unit_test(test_rate_limit_holds_the_rate),
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_rate_limit_burst_then_refuse),
		cmocka_unit_test(test_reload),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
