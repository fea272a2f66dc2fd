/* The payload grammar: see payload.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "kernel/syscall/payload.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xmalloc.h"

static bool key_valid(const char *k, size_t n)
{
	if (n == 0 || n > CAM_PAYLOAD_MAX_KEY)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		bool ok = (c >= 'a' && c <= 'z') || c == '_' ||
			  (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

static const struct cam_payload_pair *find(const struct cam_payload *p, const char *key,
					     size_t klen)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->pairs[i].klen == klen && memcmp(p->pairs[i].key, key, klen) == 0)
			return &p->pairs[i];
	return NULL;
}

static int fail(struct cam_payload *p, char *err, size_t errlen, const char *fmt,
		const char *what, size_t n)
{
	char shown[CAM_PAYLOAD_MAX_KEY + 8];

	/* Show at most a short prefix of what was wrong, never the rest. */
	if (n > CAM_PAYLOAD_MAX_KEY)
		n = CAM_PAYLOAD_MAX_KEY;
	memcpy(shown, what, n);
	shown[n] = '\0';
	snprintf(err, errlen, fmt, shown);
	cam_payload_free(p);
	return CAM_EINVAL;
}

int cam_payload_parse(const char *s, size_t len, struct cam_payload *p,
		      char *err, size_t errlen)
{
	char *w, *last_nul;
	size_t i = 0;

	p->n = 0;
	p->buf = NULL;
	if (len > CAM_PAYLOAD_MAX_BYTES) {
		snprintf(err, errlen, "payload is %zu bytes, more than the %d allowed",
			 len, CAM_PAYLOAD_MAX_BYTES);
		return CAM_EINVAL;
	}
	if (memchr(s, '\0', len))
		return fail(p, err, errlen, "payload contains a NUL byte%s", "", 0);
	if (len == 0)
		return 0;
	/* Keys and values are NUL-terminated copies inside one buffer no
	 * longer than the payload itself plus one terminator per pair. */
	p->buf = len + 1 <= sizeof(p->small_buf) ? p->small_buf : cam_xmalloc(len + 1);
	w = p->buf;
	last_nul = NULL;
	/* Each token takes its length plus one byte (a NUL, or the comma a
	 * continuation puts back), so len + 1 bytes always suffice. */
	for (;;) {
		const char *tok = s + i;
		const char *end = memchr(tok, ',', len - i);
		size_t tlen = end ? (size_t)(end - tok) : len - i;
		const char *colon = memchr(tok, ':', tlen);

		if (colon) {
			size_t klen = (size_t)(colon - tok), vlen = tlen - klen - 1;

			if (!key_valid(tok, klen))
				return fail(p, err, errlen,
					    klen ? "invalid payload key '%s' (keys match [a-z_][a-z0-9_]*)"
						 : "empty payload key%s",
					    tok, klen);
			if (p->n == CAM_PAYLOAD_MAX_PAIRS)
				return fail(p, err, errlen, "more than 32 payload keys%s", "", 0);
			memcpy(w, tok, klen);
			w[klen] = '\0';
			if (find(p, w, klen))
				return fail(p, err, errlen, "duplicate payload key '%s'", tok, klen);
			p->pairs[p->n].key = w;
			p->pairs[p->n].klen = klen;
			w += klen + 1;
			memcpy(w, colon + 1, vlen);
			p->pairs[p->n++].value = w;
			w += vlen;
		} else if (!last_nul) {
			return fail(p, err, errlen,
				    "payload token '%s' has no key (expected key:value)", tok, tlen);
		} else {
			/* A continuation: ",token" joins the previous value,
			 * which ends at last_nul with nothing written after it. */
			w = last_nul;
			*w++ = ',';
			memcpy(w, tok, tlen);
			w += tlen;
		}
		*w = '\0';
		p->pairs[p->n - 1].vlen = (size_t)(w - p->pairs[p->n - 1].value);
		last_nul = w++;
		if (!end)
			break;
		i += tlen + 1;
	}
	return 0;
}

void cam_payload_free(struct cam_payload *p)
{
	if (p->buf != p->small_buf)
		free(p->buf);
	p->buf = NULL;
	p->n = 0;
}

const char *cam_payload_get(const struct cam_payload *p, const char *key)
{
	const struct cam_payload_pair *pair = find(p, key, strlen(key));

	return pair ? pair->value : NULL;
}

static void reserve(struct cam_result *r, size_t more)
{
	size_t need = r->len + more + 1;

	if (!r->buf) {
		r->buf = r->small_buf;
		r->cap = sizeof(r->small_buf);
	}
	if (need <= r->cap)
		return;
	r->cap = need * 2;
	if (r->buf == r->small_buf) {
		r->buf = cam_xmalloc(r->cap);
		memcpy(r->buf, r->small_buf, r->len + 1);
	} else {
		r->buf = cam_xrealloc(r->buf, r->cap);
	}
}

void cam_result_add(struct cam_result *r, const char *key, const char *value)
{
	cam_result_addn(r, key, strlen(key), value, strlen(value));
}

void cam_result_addn(struct cam_result *r, const char *key, size_t k, const char *value,
		     size_t v)
{
	reserve(r, k + v + 2);
	if (r->len)
		r->buf[r->len++] = ',';
	memcpy(r->buf + r->len, key, k);
	r->len += k;
	r->buf[r->len++] = ':';
	memcpy(r->buf + r->len, value, v);
	r->len += v;
	r->buf[r->len] = '\0';
}

void cam_result_addf(struct cam_result *r, const char *key, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	cam_result_add(r, key, tmp);
}

const char *cam_result_str(const struct cam_result *r)
{
	return r->buf ? r->buf : "";
}

void cam_result_free(struct cam_result *r)
{
	if (r->buf != r->small_buf)
		free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}
