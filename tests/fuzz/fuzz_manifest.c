/*
 * Fuzzes cam_manifest_parse (kernel/drivers/manifest.c, yajl underneath):
 * a manifest is read from the drivers folder before anything is loaded.
 *
 * Checks, besides no crash, leak or UB: on failure why is a non-empty
 * message and the manifest holds nothing (all zero); on success every field
 * is within the bounds manifest.h documents (name and capabilities valid
 * names, 1-32 capabilities all found by cam_manifest_has_cap, sha256 64
 * lower-case hex digits, library a plain file name, integer fields in
 * range, config set), and the manifest written back as JSON parses again
 * to exactly the same fields.
 *
 * Objects: kernel/drivers/manifest.o common/xmalloc.o
 * Libs: yajl
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernel/drivers/manifest.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
	char *buf;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->buf = realloc(o->buf, o->cap);
		FUZZ_CHECK(o->buf != NULL);
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* s as a JSON string: quotes, backslashes and control bytes escaped; the
 * rest as is (yajl hands out UTF-8 it has checked). */
static void put_str(struct out *o, const char *s)
{
	put(o, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(o, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(o, esc, 6);
		} else {
			put(o, (const char *)&c, 1);
		}
	}
	put(o, "\"", 1);
}

static void put_field(struct out *o, const char *key, const char *val)
{
	put(o, ",", 1);
	put_str(o, key);
	put(o, ":", 1);
	put_str(o, val);
}

static void put_num(struct out *o, const char *key, unsigned long long v)
{
	char tmp[64];
	int n = snprintf(tmp, sizeof(tmp), ",\"%s\":%llu", key, v);

	put(o, tmp, (size_t)n);
}

static void to_json(const struct cam_manifest *m, struct out *o)
{
	put(o, "{\"name\":", 8);
	put_str(o, m->name);
	put_field(o, "version", m->version);
	put_field(o, "author", m->author);
	put_field(o, "license", m->license);
	put_field(o, "description", m->description);
	put_field(o, "library", m->library);
	put_field(o, "sha256", m->sha256);
	put_field(o, "config", m->config);
	put_num(o, "abi_version", m->abi_version);
	put_num(o, "price_micro_usd", m->price_micro_usd);
	put_num(o, "timeout_ms", m->timeout_ms);
	put_num(o, "memory_limit_mb", m->memory_limit_mb);
	put_num(o, "instances", m->instances);
	put(o, ",\"capabilities\":[", 17);
	for (size_t i = 0; i < m->ncaps; i++) {
		if (i)
			put(o, ",", 1);
		put_str(o, m->caps[i]);
	}
	put(o, "]}", 2);
}

static void check_valid(const struct cam_manifest *m)
{
	FUZZ_CHECK(cam_manifest_name_valid(m->name, CAM_MANIFEST_MAX_NAME));
	FUZZ_CHECK(memchr(m->version, '\0', sizeof(m->version)) && m->version[0]);
	FUZZ_CHECK(memchr(m->author, '\0', sizeof(m->author)) && m->author[0]);
	FUZZ_CHECK(memchr(m->license, '\0', sizeof(m->license)) && m->license[0]);
	FUZZ_CHECK(memchr(m->description, '\0', sizeof(m->description)));
	FUZZ_CHECK(memchr(m->library, '\0', sizeof(m->library)) && m->library[0]);
	FUZZ_CHECK(!strchr(m->library, '/') && m->library[0] != '.');
	FUZZ_CHECK(strlen(m->sha256) == 64 &&
		   strspn(m->sha256, "0123456789abcdef") == 64);
	FUZZ_CHECK(m->abi_version <= 1000000);
	FUZZ_CHECK(m->price_micro_usd <= 1000000000000ULL);
	FUZZ_CHECK(m->timeout_ms >= 1 && m->timeout_ms <= 600000);
	FUZZ_CHECK(m->memory_limit_mb >= 16 && m->memory_limit_mb <= 65536);
	FUZZ_CHECK(m->instances >= 1 && m->instances <= CAM_MANIFEST_MAX_INSTANCES);
	FUZZ_CHECK(m->ncaps >= 1 && m->ncaps <= CAM_MANIFEST_MAX_CAPS);
	for (size_t i = 0; i < m->ncaps; i++) {
		FUZZ_CHECK(cam_manifest_name_valid(m->caps[i], 48));
		FUZZ_CHECK(cam_manifest_has_cap(m, m->caps[i]));
	}
	FUZZ_CHECK(m->config != NULL && strlen(m->config) < 4096);
}

static bool same(const struct cam_manifest *a, const struct cam_manifest *b)
{
	struct cam_manifest x = *a, y = *b;

	x.config = y.config = NULL;
	return memcmp(&x, &y, sizeof(x)) == 0 && strcmp(a->config, b->config) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cam_manifest zero;
	struct cam_manifest m, m2;
	char why[256], why2[256];
	struct out o = { 0 };
	int rc;

	/* The parser copies the fields into a zeroed struct; memset here too
	 * so padding compares equal below. */
	memset(&m, 0x5a, sizeof(m));
	why[0] = '\0';
	rc = cam_manifest_parse((const char *)data, size, &m, why, sizeof(why));
	if (rc != 0) {
		FUZZ_CHECK(rc == CAM_EINVAL);
		FUZZ_CHECK(why[0] != '\0' && memchr(why, '\0', sizeof(why)));
		FUZZ_CHECK(memcmp(&m, &zero, sizeof(m)) == 0);
		cam_manifest_free(&m);
		return 0;
	}
	check_valid(&m);
	FUZZ_CHECK(!cam_manifest_has_cap(&m, "Not-A-Cap"));

	to_json(&m, &o);
	memset(&m2, 0x5a, sizeof(m2));
	rc = cam_manifest_parse(o.buf, o.len, &m2, why2, sizeof(why2));
	if (rc != 0)
		fprintf(stderr, "written back: %s\nrefused: %s\n", o.buf, why2);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(same(&m, &m2));
	free(o.buf);
	cam_manifest_free(&m);
	cam_manifest_free(&m2);
	FUZZ_CHECK(m.config == NULL);
	return 0;
}
