/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kernel/security/policy.c: what a policy may hold, the
 * order of a decision (deny, owner, allow, default), shadow mode, versions,
 * and the index giving the answer a scan of every rule gives, on random
 * policies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/metrics.h"
#include "kernel/security/policy.h"

static cam_policy *fresh(enum cam_policy_mode mode)
{
	cam_policy *p;

	cam_metrics_reset();
	assert_int_equal(cam_policy_new(&(struct cam_policy_opts){ .mode = mode }, &p), 0);
	return p;
}

static void set_ok(cam_policy *p, const char *json)
{
	char why[CAM_POLICY_WHY];
	uint64_t v;

	if (cam_policy_set(p, json, strlen(json), &v, why))
		fail_msg("policy refused: %s", why);
}

static void refused(const char *json, const char *words)
{
	char why[CAM_POLICY_WHY];

	assert_int_equal(cam_policy_check(json, strlen(json), why), CAM_EINVAL);
	if (!strstr(why, words))
		fail_msg("'%s' does not say '%s'", why, words);
}

static void test_invalid(void **state)
{
	(void)state;
	refused("{", "not JSON");
	refused("[]", "must be an object");
	refused("{\"deny_rules\": []}", "needs a name");
	refused("{\"name\": \"p\", \"extra\": 1}", "unknown field extra");
	refused("{\"name\": \"p\", \"allow_rules\": {}}", "must be a list");
	refused("{\"name\": \"p\", \"allow_rules\": [{\"source\": {}}]}", "needs a name");
	refused("{\"name\": \"p\", \"allow_rules\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}",
		"two rules are named a");
	refused("{\"name\": \"p\", \"allow_rules\": [{\"name\": \"a\", \"source\": "
		"{\"principals\": [\"x*y\"]}}]}", "before its end");
	refused("{\"name\": \"p\", \"allow_rules\": [{\"name\": \"a\", \"request\": "
		"{\"verbs\": [\"Ping\"]}}]}", "not a verb name");
	refused("{\"name\": \"p\", \"allow_rules\": [{\"name\": \"a\", \"request\": "
		"{\"resources\": [\"file:/etc\"]}}]}", "not namespace:, driver: or metric:");
	refused("{\"name\": \"p\", \"allow_rules\": [{\"name\": \"a\", \"request\": "
		"{\"verbs\": [1]}}]}", "list of strings");
	refused("{\"name\": \"p\", \"allow_rules\": [{\"name\": \"a\", \"when\": {}}]}",
		"unknown field when");
}

static void expect(cam_policy *p, const char *caller, const char *verb, const char *res,
		   bool allowed, const char *rule)
{
	struct cam_policy_decision d;

	cam_policy_decide(p, caller, verb, res, true, &d);
	if (d.allowed != allowed || strcmp(d.rule, rule))
		fail_msg("%s %s %s: got %s by %s, want %s by %s", caller, verb, res,
			 d.allowed ? "allow" : "deny", d.rule, allowed ? "allow" : "deny", rule);
}

static const char DESIGN_POLICY[] =
	"{ \"name\": \"cam-os\","
	"  \"deny_rules\":  [ { \"name\": \"no-drivers-for-guests\","
	"    \"source\":  { \"principals\": [\"guest-*\"] },"
	"    \"request\": { \"verbs\": [\"driver_invoke\"], \"resources\": [\"driver:*\"] } },"
	"    { \"name\": \"nobody-in-vault\", \"request\": { \"resources\": [\"namespace:vault\"] } } ],"
	"  \"allow_rules\": [ { \"name\": \"team-shared-read\","
	"    \"source\":  { \"principals\": [\"agent-a\", \"agent-b\"] },"
	"    \"request\": { \"verbs\": [\"context_read\", \"context_versions\"],"
	"                   \"resources\": [\"namespace:shared/team-*\"] } } ] }";

static void test_decisions(void **state)
{
	cam_policy *p = fresh(CAM_POLICY_ENFORCE);

	(void)state;
	/* No policy: ownership and the defaults. */
	expect(p, "agent-a", "context_read", "namespace:agent-a", true, "owner");
	expect(p, "agent-a", "context_read", "namespace:agent-a/notes", true, "owner");
	expect(p, "agent-a", "context_read", "namespace:agent-ab", false, "default");
	expect(p, "agent-b", "context_read", "namespace:agent-a", false, "default");
	expect(p, "agent-b", "driver_invoke", "driver:kv", true, "default");
	expect(p, "agent-b", "ping", "", true, "default");
	assert_int_equal(cam_policy_version(p), 0);

	set_ok(p, DESIGN_POLICY);
	assert_int_equal(cam_policy_version(p), 1);
	expect(p, "agent-a", "context_read", "namespace:shared/team-x", true, "team-shared-read");
	expect(p, "agent-a", "context_write", "namespace:shared/team-x", false, "default");
	expect(p, "agent-c", "context_read", "namespace:shared/team-x", false, "default");
	expect(p, "guest-7", "driver_invoke", "driver:kv", false, "no-drivers-for-guests");
	expect(p, "guest-7", "driver_load", "driver:kv", true, "default");
	/* deny wins over ownership */
	expect(p, "vault", "context_read", "namespace:vault", false, "nobody-in-vault");
	/* a rule with resources never matches a verb without one */
	expect(p, "guest-7", "ping", "", true, "default");
	/* admin owns everything; a deny rule still stops it */
	{
		struct cam_policy_decision d;

		cam_policy_decide_as(p, "root", true, "context_delete", "namespace:agent-a", true, &d);
		assert_true(d.allowed);
		assert_string_equal(d.rule, "owner");
		cam_policy_decide_as(p, "root", true, "context_read", "namespace:vault", true, &d);
		assert_false(d.allowed);
	}
	cam_policy_free(p);
}

static void test_shadow_and_versions(void **state)
{
	cam_policy *p = fresh(CAM_POLICY_SHADOW);
	struct cam_policy_decision d;
	char why[CAM_POLICY_WHY];
	uint64_t v;

	(void)state;
	set_ok(p, DESIGN_POLICY);
	cam_policy_decide(p, "guest-1", "driver_invoke", "driver:x", true, &d);
	assert_false(d.allowed);
	assert_false(d.enforced);
	assert_string_equal(d.policy, "cam-os");
	/* a bad policy changes nothing, the version included */
	assert_int_equal(cam_policy_set(p, "{", 1, &v, why), CAM_EINVAL);
	assert_int_equal(cam_policy_version(p), 1);
	cam_policy_set_base_version(p, 41);
	set_ok(p, "{\"name\": \"empty\"}");
	assert_int_equal(cam_policy_version(p), 42);
	assert_int_equal(cam_policy_rule_count(p), 0);
	cam_policy_clear(p);
	assert_int_equal(cam_policy_version(p), 0);
	cam_policy_free(p);
}

/* ---- the index against a scan of every rule ------------------------------ */

#define NRULES 400
struct brute {
	bool deny;
	char principal[32]; /* "" every one; a trailing '*' a prefix */
	char verb[16];      /* "" every one */
	char resource[40];  /* "" every one */
	char name[16];
};

static bool pmatch(const char *pat, const char *s)
{
	size_t n = strlen(pat);

	if (!*pat)
		return true;
	if (pat[n - 1] == '*')
		return strncmp(pat, s, n - 1) == 0;
	return strcmp(pat, s) == 0;
}

static const char *brute_decide(const struct brute *r, size_t n, const char *caller,
				const char *verb, const char *res, bool *allowed)
{
	size_t cl = strlen(caller);

	for (int deny = 1; deny >= 0; deny--) {
		for (size_t i = 0; i < n; i++) {
			if (r[i].deny != (deny == 1) || !pmatch(r[i].principal, caller) ||
			    (r[i].verb[0] && strcmp(r[i].verb, verb)) ||
			    (r[i].resource[0] && (!*res || !pmatch(r[i].resource, res))))
				continue;
			*allowed = !deny;
			return r[i].name;
		}
		if (deny && !strncmp(res, "namespace:", 10) && !strncmp(res + 10, caller, cl) &&
		    (res[10 + cl] == '\0' || res[10 + cl] == '/')) {
			*allowed = true;
			return "owner";
		}
	}
	*allowed = strncmp(res, "namespace:", 10) != 0;
	return "default";
}

static const char *const PRINCIPALS[] = { "a1", "a2", "a3", "b1", "a*", "b*", "" };
static const char *const VERBS[] = { "ping", "context_read", "context_write", "driver_invoke", "" };
static const char *const RESOURCES[] = { "namespace:a1", "namespace:s/t1", "namespace:s/*",
					 "driver:kv", "driver:*", "metric:m", "" };
#define PICK(a) a[(size_t)rand() % (sizeof(a) / sizeof(a[0]))]

/* One rule of r as JSON into buf. */
static int rule_json(const struct brute *r, char *buf, size_t len)
{
	char src[64] = "", req[160] = "", verbs[48] = "", res[64] = "";

	if (r->principal[0])
		snprintf(src, sizeof(src), ", \"source\": {\"principals\": [\"%s\"]}", r->principal);
	if (r->verb[0])
		snprintf(verbs, sizeof(verbs), "\"verbs\": [\"%s\"]", r->verb);
	if (r->resource[0])
		snprintf(res, sizeof(res), "\"resources\": [\"%s\"]", r->resource);
	if (verbs[0] || res[0])
		snprintf(req, sizeof(req), ", \"request\": {%s%s%s}", verbs,
			 verbs[0] && res[0] ? ", " : "", res);
	return snprintf(buf, len, "{\"name\": \"%s\"%s%s}", r->name, src, req);
}

static void test_index_is_a_scan(void **state)
{
	static struct brute r[NRULES];
	static char json[NRULES * 200 + 100];
	cam_policy *p = fresh(CAM_POLICY_ENFORCE);
	size_t off = 0;

	(void)state;
	srand(7);
	for (size_t i = 0; i < NRULES; i++) {
		r[i].deny = rand() % 4 == 0;
		snprintf(r[i].principal, sizeof(r[i].principal), "%s", PICK(PRINCIPALS));
		snprintf(r[i].verb, sizeof(r[i].verb), "%s", PICK(VERBS));
		snprintf(r[i].resource, sizeof(r[i].resource), "%s", PICK(RESOURCES));
		snprintf(r[i].name, sizeof(r[i].name), "r%zu", i);
	}
	/* deny rules first in the file, as in the brute force's numbering */
	off += (size_t)snprintf(json + off, sizeof(json) - off, "{\"name\": \"rand\", \"deny_rules\": [");
	for (int deny = 1; deny >= 0; deny--) {
		bool first = true;

		if (!deny)
			off += (size_t)snprintf(json + off, sizeof(json) - off, "], \"allow_rules\": [");
		for (size_t i = 0; i < NRULES; i++)
			if (r[i].deny == (deny == 1)) {
				if (!first)
					json[off++] = ',';
				first = false;
				off += (size_t)rule_json(&r[i], json + off, sizeof(json) - off);
			}
	}
	snprintf(json + off, sizeof(json) - off, "]}");
	set_ok(p, json);
	for (int t = 0; t < 20000; t++) {
		static const char *const callers[] = { "a1", "a2", "b1", "c9", "s" };
		static const char *const res[] = { "namespace:a1", "namespace:a1/x", "namespace:s/t1",
						   "namespace:s/t2", "driver:kv", "driver:zz",
						   "metric:m", "" };
		const char *caller = PICK(callers), *verb = VERBS[(size_t)rand() % 4],
			   *resource = PICK(res);
		bool allowed;
		const char *want = brute_decide(r, NRULES, caller, verb, resource, &allowed);

		expect(p, caller, verb, resource, allowed, want);
	}
	cam_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_decisions),
		cmocka_unit_test(test_shadow_and_versions),
		cmocka_unit_test(test_index_is_a_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
