/*
 * The authorization policy (policy.h): parsing with yajl's tree, the
 * rule index, decisions.
 *
 * The index: every rule goes into the lists of the (verb, principal)
 * pairs it names, one hash table of lists keyed by "verb\0principal",
 * where a rule without verbs stands under verb "" and a rule whose
 * principal is a pattern (or absent) under principal "". A decision looks
 * up four lists, (verb, caller), (verb, ""), ("", caller) and ("", ""),
 * and checks only the rules in them: a 1,000-rule policy with a rule or
 * two per agent costs a decision a handful of checks.
 *
 * Locks: `lock` guards which policy is in force. A decision holds the read
 * side while it reads the policy; setting one takes the write side for the
 * swap only. Decisions copy the rule's name out, so nothing of a policy is
 * used once its lock is let go.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/security/policy.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "common/error.h"
#include "common/log.h"
#include "common/metrics_table.h"
#include "common/str.h"
#include "common/xmalloc.h"

#define NAME_MAX_LEN 63

struct pat {
	char *s;
	size_t n;    /* without the '*' */
	bool prefix;
};

struct rule {
	char name[NAME_MAX_LEN + 1];
	bool deny;
	struct pat *principals, *resources;
	size_t np, nr;  /* 0: every principal / every resource */
	cam_series *counted[3]; /* allowed, denied, denied in shadow mode only */
};

/* A list of rule numbers, in file order (deny rules first). */
struct list {
	char *key;      /* "verb\0principal" */
	size_t keylen;
	uint32_t *r;
	size_t n, cap;
	struct list *next;
};

struct set {
	char name[NAME_MAX_LEN + 1];
	uint64_t version;
	struct rule *rules;
	size_t n;
	struct list **buckets;
	size_t nbuckets;
};

struct cam_policy {
	struct cam_policy_opts o;
	pthread_rwlock_t lock;
	struct set *in_force;        /* NULL: ownership and defaults only */
	uint64_t version;            /* the last handed out */
	cam_family *decisions;
	cam_series *builtin[2][3];   /* [owner, default][allowed, denied, shadow] */
	cam_series *other[3];        /* rule "other", made at start: never refused */
};

enum { B_OWNER, B_DEFAULT };
enum { D_ALLOW, D_DENY, D_SHADOW, ND };
static const char *const decision_names[ND] = { "allow", "deny", "shadow_deny" };

static const char *const L_DECISION[] = { "decision", "rule", NULL };
static const struct cam_family_desc family = {
	.name = "cam_os_security_policy_decisions_total",
	.help = "Authorization decisions of the policy, by decision (allow, deny, shadow_deny: "
		"what shadow mode would have denied) and the rule that decided",
	.type = CAM_COUNTER, .label_names = L_DECISION, .max_series = 4096,
};

static int say(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, CAM_POLICY_WHY, fmt, ap);
	va_end(ap);
	return CAM_EINVAL;
}

/* ---- the index ---------------------------------------------------------- */

static uint64_t hash_key(const char *k, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
	return h;
}

/* "verb\0principal" into buf (at most 2 x 128 + 1 bytes); its length. */
static size_t make_key(char *buf, const char *verb, const char *principal)
{
	size_t v = strlen(verb), p = strlen(principal);

	if (v > 127)
		v = 127;
	if (p > 127)
		p = 127;
	memcpy(buf, verb, v);
	buf[v] = '\0';
	memcpy(buf + v + 1, principal, p);
	return v + 1 + p;
}

static struct list *find_list(const struct set *s, const char *key, size_t n)
{
	for (struct list *l = s->buckets[hash_key(key, n) & (s->nbuckets - 1)]; l; l = l->next)
		if (l->keylen == n && memcmp(l->key, key, n) == 0)
			return l;
	return NULL;
}

static void index_add(struct set *s, const char *verb, const char *principal, uint32_t r)
{
	char key[260];
	size_t n = make_key(key, verb, principal);
	struct list *l = find_list(s, key, n);

	if (!l) {
		struct list **b = &s->buckets[hash_key(key, n) & (s->nbuckets - 1)];

		l = cam_xcalloc(1, sizeof(*l));
		l->key = cam_xmalloc(n);
		memcpy(l->key, key, n);
		l->keylen = n;
		l->next = *b;
		*b = l;
	}
	if (l->n && l->r[l->n - 1] == r)
		return; /* a rule naming the same pair twice */
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->r = cam_xrealloc(l->r, l->cap * sizeof(*l->r));
	}
	l->r[l->n++] = r;
}

static void set_free(struct set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		for (size_t j = 0; j < s->rules[i].np; j++)
			free(s->rules[i].principals[j].s);
		for (size_t j = 0; j < s->rules[i].nr; j++)
			free(s->rules[i].resources[j].s);
		free(s->rules[i].principals);
		free(s->rules[i].resources);
	}
	for (size_t i = 0; s->buckets && i < s->nbuckets; i++)
		for (struct list *l = s->buckets[i], *next; l; l = next) {
			next = l->next;
			free(l->key);
			free(l->r);
			free(l);
		}
	free(s->buckets);
	free(s->rules);
	free(s);
}

/* ---- parsing ------------------------------------------------------------ */

static const char *const RESOURCE_KINDS[] = { "namespace:", "driver:", "metric:", NULL };

/* A pattern: exact, or a prefix ending in '*'; '*' nowhere else. */
static int parse_pat(const char *s, struct pat *p, const char *what, const char *rule,
		     char *why)
{
	size_t n = strlen(s);
	const char *star = strchr(s, '*');

	if (n == 0 || n > 255)
		return say(why, "rule %s: %s must be 1-255 characters", rule, what);
	if (star && star != s + n - 1)
		return say(why, "rule %s: %s '%.64s' has a '*' before its end", rule, what, s);
	p->s = cam_xstrdup(s);
	p->prefix = star != NULL;
	p->n = n - p->prefix;
	return 0;
}

static int parse_resource(const char *s, struct pat *p, const char *rule, char *why)
{
	for (size_t i = 0; RESOURCE_KINDS[i]; i++)
		if (strncmp(s, RESOURCE_KINDS[i], strlen(RESOURCE_KINDS[i])) == 0)
			return parse_pat(s, p, "resource", rule, why);
	if (strcmp(s, "*") == 0)
		return parse_pat(s, p, "resource", rule, why);
	return say(why, "rule %s: resource '%.64s' is not namespace:, driver: or metric: "
		   "something", rule, s);
}

/* A list of strings at path under obj: *out (NULL when absent), *n. */
static int strings(yajl_val obj, const char *key, yajl_val *out, const char *rule, char *why)
{
	const char *path[] = { key, NULL };
	yajl_val v = yajl_tree_get(obj, path, yajl_t_any);

	*out = NULL;
	if (!v)
		return 0;
	if (!YAJL_IS_ARRAY(v))
		return say(why, "rule %s: %s must be a list of strings", rule, key);
	for (size_t i = 0; i < v->u.array.len; i++)
		if (!YAJL_IS_STRING(v->u.array.values[i]))
			return say(why, "rule %s: %s must be a list of strings", rule, key);
	*out = v;
	return 0;
}

static bool verb_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 31 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static int parse_rule(struct set *s, yajl_val r, bool deny, char *why)
{
	const char *np[] = { "name", NULL }, *sp[] = { "source", NULL }, *rp[] = { "request", NULL };
	yajl_val name = yajl_tree_get(r, np, yajl_t_string);
	yajl_val src = yajl_tree_get(r, sp, yajl_t_any), req = yajl_tree_get(r, rp, yajl_t_any);
	yajl_val principals = NULL, verbs = NULL, resources = NULL;
	struct rule *x = &s->rules[s->n];
	const char *rn;
	int rc;

	if (!YAJL_IS_OBJECT(r))
		return say(why, "every rule must be an object");
	rn = name ? YAJL_GET_STRING(name) : NULL;
	if (!rn || !*rn || strlen(rn) > NAME_MAX_LEN)
		return say(why, "every rule needs a name of 1-%d characters", NAME_MAX_LEN);
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->rules[i].name, rn) == 0)
			return say(why, "two rules are named %.64s", rn);
	if ((src && !YAJL_IS_OBJECT(src)) || (req && !YAJL_IS_OBJECT(req)))
		return say(why, "rule %s: source and request must be objects", rn);
	for (size_t i = 0; r->u.object.len > i; i++) {
		const char *k = r->u.object.keys[i];
		if (strcmp(k, "name") && strcmp(k, "source") && strcmp(k, "request"))
			return say(why, "rule %s: unknown field %.64s", rn, k);
	}
	if ((src && (rc = strings(src, "principals", &principals, rn, why))) ||
	    (req && (rc = strings(req, "verbs", &verbs, rn, why))) ||
	    (req && (rc = strings(req, "resources", &resources, rn, why))))
		return rc;
	cam_strlcpy(x->name, rn, sizeof(x->name));
	x->deny = deny;
	s->n++; /* owned by s from here: set_free frees what was parsed */
	if (principals) {
		x->principals = cam_xcalloc(principals->u.array.len, sizeof(*x->principals));
		for (; x->np < principals->u.array.len; x->np++)
			if ((rc = parse_pat(YAJL_GET_STRING(principals->u.array.values[x->np]),
					    &x->principals[x->np], "principal", rn, why)))
				return rc;
	}
	if (resources) {
		x->resources = cam_xcalloc(resources->u.array.len, sizeof(*x->resources));
		for (; x->nr < resources->u.array.len; x->nr++)
			if ((rc = parse_resource(YAJL_GET_STRING(resources->u.array.values[x->nr]),
						 &x->resources[x->nr], rn, why)))
				return rc;
	}
	for (size_t i = 0; verbs && i < verbs->u.array.len; i++)
		if (!verb_name_ok(YAJL_GET_STRING(verbs->u.array.values[i])))
			return say(why, "rule %s: '%.64s' is not a verb name", rn,
				   YAJL_GET_STRING(verbs->u.array.values[i]));
	/* Index it under every (verb, principal) it names. */
	for (size_t v = 0; v < (verbs && verbs->u.array.len ? verbs->u.array.len : 1); v++) {
		const char *verb = verbs && verbs->u.array.len
					   ? YAJL_GET_STRING(verbs->u.array.values[v]) : "";
		bool any_pattern = !x->np;

		for (size_t p = 0; p < x->np; p++) {
			if (x->principals[p].prefix)
				any_pattern = true;
			else
				index_add(s, verb, x->principals[p].s, (uint32_t)(s->n - 1));
		}
		if (any_pattern)
			index_add(s, verb, "", (uint32_t)(s->n - 1));
	}
	return 0;
}

static int parse_rules(struct set *s, yajl_val root, const char *key, bool deny, char *why)
{
	const char *path[] = { key, NULL };
	yajl_val v = yajl_tree_get(root, path, yajl_t_any);
	int rc;

	if (!v)
		return 0;
	if (!YAJL_IS_ARRAY(v))
		return say(why, "%s must be a list of rules", key);
	for (size_t i = 0; i < v->u.array.len; i++)
		if ((rc = parse_rule(s, v->u.array.values[i], deny, why)))
			return rc;
	return 0;
}

/* The rules of both lists, counted before anything is allocated for them. */
static size_t count_rules(yajl_val root)
{
	const char *d[] = { "deny_rules", NULL }, *a[] = { "allow_rules", NULL };
	yajl_val dv = yajl_tree_get(root, d, yajl_t_array);
	yajl_val av = yajl_tree_get(root, a, yajl_t_array);

	return (dv ? dv->u.array.len : 0) + (av ? av->u.array.len : 0);
}

static int parse(const char *json, size_t len, struct set **out, char *why)
{
	char err[200] = "", *text;
	const char *np[] = { "name", NULL }, *pname;
	yajl_val root, name;
	struct set *s;
	size_t nrules;
	int rc;

	if (len > CAM_POLICY_MAX_BYTES)
		return say(why, "policy of %zu bytes is over the limit of %d", len, CAM_POLICY_MAX_BYTES);
	text = cam_xmalloc(len + 1);
	memcpy(text, json, len);
	text[len] = '\0';
	root = yajl_tree_parse(text, err, sizeof(err));
	free(text);
	if (!root)
		return say(why, "policy is not JSON: %s", err[0] ? strtok(err, "\n") : "parse error");
	rc = say(why, "policy must be an object with name, deny_rules and allow_rules");
	if (!YAJL_IS_OBJECT(root))
		goto out_tree;
	for (size_t i = 0; i < root->u.object.len; i++) {
		const char *k = root->u.object.keys[i];
		if (strcmp(k, "name") && strcmp(k, "deny_rules") && strcmp(k, "allow_rules")) {
			rc = say(why, "unknown field %.64s (a policy holds name, deny_rules, allow_rules)", k);
			goto out_tree;
		}
	}
	name = yajl_tree_get(root, np, yajl_t_string);
	pname = name ? YAJL_GET_STRING(name) : NULL;
	if (!pname || !*pname || strlen(pname) > NAME_MAX_LEN) {
		rc = say(why, "policy needs a name of 1-%d characters", NAME_MAX_LEN);
		goto out_tree;
	}
	if ((nrules = count_rules(root)) > CAM_POLICY_MAX_RULES) {
		rc = say(why, "%zu rules is over the limit of %d", nrules, CAM_POLICY_MAX_RULES);
		goto out_tree;
	}
	s = cam_xcalloc(1, sizeof(*s));
	cam_strlcpy(s->name, pname, sizeof(s->name));
	s->rules = cam_xcalloc(nrules ? nrules : 1, sizeof(*s->rules));
	for (s->nbuckets = 16; s->nbuckets < nrules * 2; s->nbuckets *= 2)
		;
	s->buckets = cam_xcalloc(s->nbuckets, sizeof(*s->buckets));
	if ((rc = parse_rules(s, root, "deny_rules", true, why)) ||
	    (rc = parse_rules(s, root, "allow_rules", false, why))) {
		set_free(s);
		goto out_tree;
	}
	*out = s;
	rc = 0;
out_tree:
	yajl_tree_free(root);
	return rc;
}

/* ---- decisions ---------------------------------------------------------- */

static bool pat_match(const struct pat *p, const char *s, size_t n)
{
	return p->prefix ? n >= p->n && memcmp(s, p->s, p->n) == 0
			 : n == p->n && memcmp(s, p->s, n) == 0;
}

static bool rule_matches(const struct rule *r, const char *caller, size_t clen,
			 const char *resource, size_t rlen)
{
	bool ok = !r->np;

	for (size_t i = 0; !ok && i < r->np; i++)
		ok = pat_match(&r->principals[i], caller, clen);
	if (!ok || !r->nr)
		return ok;
	for (size_t i = 0; rlen && i < r->nr; i++)
		if (pat_match(&r->resources[i], resource, rlen))
			return true;
	return false;
}

/* The first rule (lowest number) of the four lists that matches, deny
 * rules and allow rules apart: *deny and *allow get their numbers, or
 * UINT32_MAX. */
static void first_matches(const struct set *s, const char *caller, const char *verb,
			  const char *resource, uint32_t *deny, uint32_t *allow)
{
	const char *verbs[2] = { verb, "" }, *principals[2] = { caller, "" };
	size_t clen = strlen(caller), rlen = strlen(resource);
	char key[260];

	*deny = *allow = UINT32_MAX;
	for (int v = 0; v < 2; v++)
		for (int p = 0; p < 2; p++) {
			size_t n = make_key(key, verbs[v], principals[p]);
			const struct list *l = find_list(s, key, n);

			for (size_t i = 0; l && i < l->n; i++) {
				uint32_t r = l->r[i];
				uint32_t *best = s->rules[r].deny ? deny : allow;

				if (r < *best && rule_matches(&s->rules[r], caller, clen, resource, rlen))
					*best = r;
			}
		}
}

/* Whether resource is one of caller's namespaces. */
static bool owns(const char *caller, const char *resource)
{
	size_t n = strlen(caller);

	if (strncmp(resource, "namespace:", 10) != 0)
		return false;
	resource += 10;
	return strncmp(resource, caller, n) == 0 && (resource[n] == '\0' || resource[n] == '/');
}

void cam_policy_decide(cam_policy *p, const char *caller, const char *verb,
		       const char *resource, bool counted, struct cam_policy_decision *out)
{
	cam_policy_decide_as(p, caller, false, verb, resource, counted, out);
}

void cam_policy_decide_as(cam_policy *p, const char *caller, bool admin, const char *verb,
			  const char *resource, bool counted, struct cam_policy_decision *out)
{
	const struct set *s;
	uint32_t deny = UINT32_MAX, allow = UINT32_MAX;
	cam_series *const *series;
	const char *rule;

	pthread_rwlock_rdlock(&p->lock);
	s = p->in_force;
	if (s)
		first_matches(s, caller, verb, resource, &deny, &allow);
	if (deny != UINT32_MAX) {
		rule = s->rules[deny].name;
		series = s->rules[deny].counted;
		out->allowed = false;
	} else if (admin || owns(caller, resource)) {
		rule = "owner";
		series = p->builtin[B_OWNER];
		out->allowed = true;
	} else if (allow != UINT32_MAX) {
		rule = s->rules[allow].name;
		series = s->rules[allow].counted;
		out->allowed = true;
	} else {
		rule = "default";
		series = p->builtin[B_DEFAULT];
		out->allowed = strncmp(resource, "namespace:", 10) != 0;
	}
	out->enforced = out->allowed || p->o.mode == CAM_POLICY_ENFORCE;
	if (counted)
		cam_counter_inc(series[out->allowed ? D_ALLOW : out->enforced ? D_DENY : D_SHADOW]);
	cam_strlcpy(out->rule, rule, sizeof(out->rule));
	cam_strlcpy(out->policy, s ? s->name : "", sizeof(out->policy));
	out->version = s ? s->version : 0;
	pthread_rwlock_unlock(&p->lock);
}

/* ---- the policy in force ------------------------------------------------- */

/* The decision series of a new set's rules: the first max_rule_series
 * rules by name, the rest under rule "other" (the label stays bounded
 * whatever the policy holds). Series are never removed from the registry,
 * so the rules of past policies keep theirs; once the family is full a new
 * name is counted under "other" too. */
static void resolve_series(cam_policy *p, struct set *s)
{
	for (size_t i = 0; i < s->n; i++)
		for (int d = 0; d < ND; d++) {
			const char *rule = i < p->o.max_rule_series ? s->rules[i].name : "other";

			/* an allow rule never denies, a deny rule never allows */
			if ((d == D_ALLOW) == s->rules[i].deny)
				continue;
			s->rules[i].counted[d] = cam_series_get(
				p->decisions, (const char *[]){ decision_names[d], rule });
			if (!s->rules[i].counted[d])
				s->rules[i].counted[d] = p->other[d];
		}
}

int cam_policy_new(const struct cam_policy_opts *o, cam_policy **out)
{
	cam_family *f;
	cam_policy *p;
	char why[160];
	int rc = cam_metrics_table_register(&family, 1, &f, why, sizeof(why));

	if (rc)
		return rc;
	p = cam_xcalloc(1, sizeof(*p));
	p->o = *o;
	if (!p->o.max_rule_series)
		p->o.max_rule_series = 1000;
	pthread_rwlock_init(&p->lock, NULL);
	p->decisions = f;
	for (int b = 0; b < 2; b++)
		for (int d = 0; d < ND; d++)
			p->builtin[b][d] = cam_series_get(
				f, (const char *[]){ decision_names[d], b == B_OWNER ? "owner" : "default" });
	for (int d = 0; d < ND; d++)
		p->other[d] = cam_series_get(f, (const char *[]){ decision_names[d], "other" });
	*out = p;
	return 0;
}

void cam_policy_free(cam_policy *p)
{
	if (!p)
		return;
	set_free(p->in_force);
	pthread_rwlock_destroy(&p->lock);
	free(p);
}

int cam_policy_check(const char *json, size_t len, char *why)
{
	struct set *s;
	int rc = parse(json, len, &s, why);

	if (rc == 0)
		set_free(s);
	return rc;
}

int cam_policy_set(cam_policy *p, const char *json, size_t len, uint64_t *version, char *why)
{
	struct set *s, *old;
	int rc = parse(json, len, &s, why);

	if (rc)
		return rc;
	resolve_series(p, s);
	pthread_rwlock_wrlock(&p->lock);
	s->version = ++p->version;
	old = p->in_force;
	p->in_force = s;
	pthread_rwlock_unlock(&p->lock);
	set_free(old); /* no decision holds it: they hold the lock while reading */
	if (version)
		*version = s->version;
	return 0;
}

void cam_policy_clear(cam_policy *p)
{
	struct set *old;

	pthread_rwlock_wrlock(&p->lock);
	old = p->in_force;
	p->in_force = NULL;
	p->version++;
	pthread_rwlock_unlock(&p->lock);
	set_free(old);
}

uint64_t cam_policy_version(cam_policy *p)
{
	uint64_t v;

	pthread_rwlock_rdlock(&p->lock);
	v = p->in_force ? p->in_force->version : 0;
	pthread_rwlock_unlock(&p->lock);
	return v;
}

void cam_policy_set_base_version(cam_policy *p, uint64_t v)
{
	pthread_rwlock_wrlock(&p->lock);
	if (v > p->version)
		p->version = v;
	pthread_rwlock_unlock(&p->lock);
}

size_t cam_policy_rule_count(cam_policy *p)
{
	size_t n;

	pthread_rwlock_rdlock(&p->lock);
	n = p->in_force ? p->in_force->n : 0;
	pthread_rwlock_unlock(&p->lock);
	return n;
}
