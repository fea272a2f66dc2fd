/*
 * Driver manifests (manifest.h): yajl's tree parser, then one check per
 * field, each failure naming the field.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/drivers/manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "common/error.h"
#include "common/xmalloc.h"
#include "include/cam/driver.h"

static const char *const known_keys[] = {
	"name", "version", "author", "license", "description", "abi_version",
	"library", "sha256", "price_micro_usd", "capabilities", "timeout_ms",
	"memory_limit_mb", "instances", "config", NULL,
};

static int fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return CAM_EINVAL;
}

int cam_manifest_name_valid(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return 0;
	return n > 0 && n <= max && s[0] >= 'a' && s[0] <= 'z';
}

static yajl_val field(yajl_val root, const char *key)
{
	for (size_t i = 0; i < root->u.object.len; i++)
		if (strcmp(root->u.object.keys[i], key) == 0)
			return root->u.object.values[i];
	return NULL;
}

/* A string field into out (cap bytes): required unless optional is set. */
static int get_str(yajl_val root, const char *key, int optional, char *out, size_t cap,
		   char *why, size_t whylen)
{
	yajl_val v = field(root, key);

	out[0] = '\0';
	if (!v && optional)
		return 0;
	if (!v)
		return fail(why, whylen, "missing field \"%s\"", key);
	if (!YAJL_IS_STRING(v))
		return fail(why, whylen, "field \"%s\" must be a string", key);
	if (strlen(v->u.string) >= cap)
		return fail(why, whylen, "field \"%s\" is longer than %zu bytes", key, cap - 1);
	if (!optional && !*v->u.string)
		return fail(why, whylen, "field \"%s\" is empty", key);
	strcpy(out, v->u.string);
	return 0;
}

/* An integer field in [min, max]; def when absent (def < 0: required). */
static int get_int(yajl_val root, const char *key, long long def, long long min,
		   long long max, long long *out, char *why, size_t whylen)
{
	yajl_val v = field(root, key);

	if (!v && def >= 0) {
		*out = def;
		return 0;
	}
	if (!v)
		return fail(why, whylen, "missing field \"%s\"", key);
	if (!YAJL_IS_INTEGER(v) || v->u.number.i < min || v->u.number.i > max)
		return fail(why, whylen, "field \"%s\" must be an integer from %lld to %lld", key,
			    min, max);
	*out = v->u.number.i;
	return 0;
}

static int check_keys(yajl_val root, char *why, size_t whylen)
{
	for (size_t i = 0; i < root->u.object.len; i++) {
		size_t k = 0;

		while (known_keys[k] && strcmp(known_keys[k], root->u.object.keys[i]) != 0)
			k++;
		if (!known_keys[k])
			return fail(why, whylen, "unknown field \"%.64s\"", root->u.object.keys[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(root->u.object.keys[j], root->u.object.keys[i]) == 0)
				return fail(why, whylen, "duplicate field \"%s\"", known_keys[k]);
	}
	return 0;
}

static int get_caps(yajl_val root, struct cam_manifest *m, char *why, size_t whylen)
{
	yajl_val v = field(root, "capabilities");

	if (!v)
		return fail(why, whylen, "missing field \"capabilities\"");
	if (!YAJL_IS_ARRAY(v) || v->u.array.len == 0 || v->u.array.len > CAM_MANIFEST_MAX_CAPS)
		return fail(why, whylen, "\"capabilities\" must be an array of 1 to %d operation names",
			    CAM_MANIFEST_MAX_CAPS);
	for (size_t i = 0; i < v->u.array.len; i++) {
		yajl_val c = v->u.array.values[i];

		if (!YAJL_IS_STRING(c) || !cam_manifest_name_valid(c->u.string, 48))
			return fail(why, whylen,
				    "capability %zu must be an operation name ([a-z][a-z0-9_]{0,47})", i);
		strcpy(m->caps[i], c->u.string);
	}
	m->ncaps = v->u.array.len;
	return 0;
}

static int check_fields(struct cam_manifest *m, char *why, size_t whylen)
{
	if (!cam_manifest_name_valid(m->name, CAM_MANIFEST_MAX_NAME))
		return fail(why, whylen, "\"name\" must match [a-z][a-z0-9_]{0,%d}", CAM_MANIFEST_MAX_NAME - 1);
	if (strchr(m->library, '/') || m->library[0] == '.')
		return fail(why, whylen, "\"library\" must be a file name in the manifest's folder");
	if (strlen(m->sha256) != 64 || strspn(m->sha256, "0123456789abcdefABCDEF") != 64)
		return fail(why, whylen, "\"sha256\" must be 64 hex digits");
	for (char *p = m->sha256; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	return 0;
}

static int parse_root(yajl_val root, struct cam_manifest *m, char *why, size_t whylen)
{
	char config[4096];
	long long abi, price, timeout, mem, inst;
	int rc;

	if ((rc = check_keys(root, why, whylen)) ||
	    (rc = get_str(root, "name", 0, m->name, sizeof(m->name), why, whylen)) ||
	    (rc = get_str(root, "version", 0, m->version, sizeof(m->version), why, whylen)) ||
	    (rc = get_str(root, "author", 0, m->author, sizeof(m->author), why, whylen)) ||
	    (rc = get_str(root, "license", 0, m->license, sizeof(m->license), why, whylen)) ||
	    (rc = get_str(root, "description", 1, m->description, sizeof(m->description), why,
			  whylen)) ||
	    (rc = get_str(root, "library", 0, m->library, sizeof(m->library), why, whylen)) ||
	    (rc = get_str(root, "sha256", 0, m->sha256, sizeof(m->sha256), why, whylen)) ||
	    (rc = get_str(root, "config", 1, config, sizeof(config), why, whylen)) ||
	    (rc = get_int(root, "abi_version", -1, 0, 1000000, &abi, why, whylen)) ||
	    (rc = get_int(root, "price_micro_usd", -1, 0, 1000000000000LL, &price, why, whylen)) ||
	    (rc = get_int(root, "timeout_ms", 5000, 1, 600000, &timeout, why, whylen)) ||
	    (rc = get_int(root, "memory_limit_mb", 256, 16, 65536, &mem, why, whylen)) ||
	    (rc = get_int(root, "instances", 1, 1, CAM_MANIFEST_MAX_INSTANCES, &inst, why, whylen)) ||
	    (rc = get_caps(root, m, why, whylen)) || (rc = check_fields(m, why, whylen)))
		return rc;
	m->abi_version = (unsigned)abi;
	m->price_micro_usd = (uint64_t)price;
	m->timeout_ms = (unsigned)timeout;
	m->memory_limit_mb = (unsigned)mem;
	m->instances = (unsigned)inst;
	m->config = cam_xstrdup(config);
	return 0;
}

int cam_manifest_parse(const char *json, size_t len, struct cam_manifest *m,
		       char *why, size_t whylen)
{
	char err[256] = "";
	char *text;
	yajl_val root;
	int rc;

	memset(m, 0, sizeof(*m));
	if (len > CAM_MANIFEST_MAX_BYTES)
		return fail(why, whylen, "manifest is larger than %d bytes", CAM_MANIFEST_MAX_BYTES);
	if (memchr(json, '\0', len))
		return fail(why, whylen, "manifest contains a NUL byte");
	text = cam_xmalloc(len + 1);
	memcpy(text, json, len);
	text[len] = '\0';
	root = yajl_tree_parse(text, err, sizeof(err));
	free(text);
	if (!root) {
		/* yajl's message spans lines; keep the first. */
		err[strcspn(err, "\n")] = '\0';
		return fail(why, whylen, "not valid JSON: %s", err[0] ? err : "parse error");
	}
	if (!YAJL_IS_OBJECT(root))
		rc = fail(why, whylen, "manifest must be a JSON object");
	else
		rc = parse_root(root, m, why, whylen);
	yajl_tree_free(root);
	if (rc) {
		memset(m, 0, sizeof(*m));
	}
	return rc;
}

void cam_manifest_free(struct cam_manifest *m)
{
	free(m->config);
	m->config = NULL;
}

int cam_manifest_has_cap(const struct cam_manifest *m, const char *op)
{
	for (size_t i = 0; i < m->ncaps; i++)
		if (strcmp(m->caps[i], op) == 0)
			return 1;
	return 0;
}
