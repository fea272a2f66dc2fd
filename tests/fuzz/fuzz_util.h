/*
 * Helpers shared by the libFuzzer harnesses: a failed check, an independent
 * strict UTF-8 decoder (Unicode Table 3-7, written apart from common/utf8.c
 * so the two can be compared) and a strict RFC 8259 JSON validator.
 * Everything is static inline: each harness uses what it needs.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_FUZZ_UTIL_H
#define CAM_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A property that does not hold: say which and abort, so libFuzzer keeps
 * the input as a crash. */
#define FUZZ_CHECK(cond)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, \
				__LINE__, #cond);                               \
			abort();                                                \
		}                                                               \
	} while (0)

/*
 * Length (1-4) of the well-formed UTF-8 sequence at p[0..n), or 0. Table
 * 3-7 spelt out byte range by byte range, with no code-point arithmetic.
 */
static inline size_t fuzz_utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t b0 = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (b0 <= 0x7f)
		return 1;
	if (b0 >= 0xc2 && b0 <= 0xdf)
		len = 2;
	else if (b0 >= 0xe0 && b0 <= 0xef)
		len = 3;
	else if (b0 >= 0xf0 && b0 <= 0xf4)
		len = 4;
	else
		return 0;
	if (b0 == 0xe0)
		lo = 0xa0;
	else if (b0 == 0xed)
		hi = 0x9f;
	else if (b0 == 0xf0)
		lo = 0x90;
	else if (b0 == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* True when p[0..n) is well-formed UTF-8 (NUL bytes allowed). */
static inline bool fuzz_utf8_ok(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = fuzz_utf8_seq(p + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* The JSON validator: a recursive descent over p[*i..n). */
struct fuzz_json {
	const uint8_t *p;
	size_t n, i;
	int depth;
};

static inline void fuzz_json_ws(struct fuzz_json *j)
{
	while (j->i < j->n && (j->p[j->i] == ' ' || j->p[j->i] == '\t' ||
			       j->p[j->i] == '\n' || j->p[j->i] == '\r'))
		j->i++;
}

static inline bool fuzz_json_lit(struct fuzz_json *j, const char *w)
{
	for (; *w; w++, j->i++)
		if (j->i >= j->n || j->p[j->i] != (uint8_t)*w)
			return false;
	return true;
}

static inline bool fuzz_json_hex4(struct fuzz_json *j, unsigned *v)
{
	*v = 0;
	for (int k = 0; k < 4; k++, j->i++) {
		uint8_t c;

		if (j->i >= j->n)
			return false;
		c = j->p[j->i];
		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			*v |= (unsigned)((c | 0x20) - 'a' + 10);
		else
			return false;
	}
	return true;
}

/* A string at j->i (the opening quote): escapes valid, no raw control
 * bytes, UTF-8 well-formed, surrogate escapes paired. */
static inline bool fuzz_json_string(struct fuzz_json *j)
{
	if (j->i >= j->n || j->p[j->i] != '"')
		return false;
	j->i++;
	while (j->i < j->n) {
		uint8_t c = j->p[j->i];
		size_t k;

		if (c == '"') {
			j->i++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			unsigned u, u2;

			if (++j->i >= j->n)
				return false;
			c = j->p[j->i++];
			if (c == 'u') {
				if (!fuzz_json_hex4(j, &u))
					return false;
				if (u >= 0xdc00 && u <= 0xdfff)
					return false;
				if (u >= 0xd800 && u <= 0xdbff &&
				    (!fuzz_json_lit(j, "\\u") || !fuzz_json_hex4(j, &u2) ||
				     u2 < 0xdc00 || u2 > 0xdfff))
					return false;
			} else if (!(c == '"' || c == '\\' || c == '/' || c == 'b' ||
				     c == 'f' || c == 'n' || c == 'r' || c == 't')) {
				return false;
			}
			continue;
		}
		k = fuzz_utf8_seq(j->p + j->i, j->n - j->i);
		if (!k)
			return false;
		j->i += k;
	}
	return false;
}

static inline bool fuzz_json_digits(struct fuzz_json *j)
{
	size_t s = j->i;

	while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9')
		j->i++;
	return j->i > s;
}

static inline bool fuzz_json_number(struct fuzz_json *j)
{
	if (j->i < j->n && j->p[j->i] == '-')
		j->i++;
	if (j->i < j->n && j->p[j->i] == '0')
		j->i++;
	else if (!fuzz_json_digits(j))
		return false;
	if (j->i < j->n && j->p[j->i] == '.') {
		j->i++;
		if (!fuzz_json_digits(j))
			return false;
	}
	if (j->i < j->n && (j->p[j->i] | 0x20) == 'e') {
		j->i++;
		if (j->i < j->n && (j->p[j->i] == '+' || j->p[j->i] == '-'))
			j->i++;
		if (!fuzz_json_digits(j))
			return false;
	}
	return true;
}

static inline bool fuzz_json_value(struct fuzz_json *j)
{
	bool ok = false;

	fuzz_json_ws(j);
	if (j->i >= j->n || ++j->depth > 200)
		return false;
	switch (j->p[j->i]) {
	case '{':
		j->i++;
		fuzz_json_ws(j);
		if (j->i < j->n && j->p[j->i] == '}') {
			j->i++;
			ok = true;
			break;
		}
		for (;;) {
			fuzz_json_ws(j);
			if (!fuzz_json_string(j))
				break;
			fuzz_json_ws(j);
			if (j->i >= j->n || j->p[j->i++] != ':' || !fuzz_json_value(j))
				break;
			fuzz_json_ws(j);
			if (j->i < j->n && j->p[j->i] == ',') {
				j->i++;
				continue;
			}
			ok = j->i < j->n && j->p[j->i++] == '}';
			break;
		}
		break;
	case '[':
		j->i++;
		fuzz_json_ws(j);
		if (j->i < j->n && j->p[j->i] == ']') {
			j->i++;
			ok = true;
			break;
		}
		for (;;) {
			if (!fuzz_json_value(j))
				break;
			fuzz_json_ws(j);
			if (j->i < j->n && j->p[j->i] == ',') {
				j->i++;
				continue;
			}
			ok = j->i < j->n && j->p[j->i++] == ']';
			break;
		}
		break;
	case '"':
		ok = fuzz_json_string(j);
		break;
	case 't':
		ok = fuzz_json_lit(j, "true");
		break;
	case 'f':
		ok = fuzz_json_lit(j, "false");
		break;
	case 'n':
		ok = fuzz_json_lit(j, "null");
		break;
	default:
		ok = fuzz_json_number(j);
		break;
	}
	j->depth--;
	return ok;
}

/* True when p[0..n) is exactly one JSON value (white space around it). */
static inline bool fuzz_json_ok(const void *p, size_t n)
{
	struct fuzz_json j = { p, n, 0, 0 };

	if (!fuzz_json_value(&j))
		return false;
	fuzz_json_ws(&j);
	return j.i == n;
}

#endif
