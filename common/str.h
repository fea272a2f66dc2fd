/*
 * Small string helpers for hot paths, where snprintf's format machinery
 * costs more than the copy itself (hundreds of instructions for a "%s").
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_STR_H
#define CAM_STR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Whether the n bytes at s are the string literal lit, and whether they
 * end with the literal suffix: lengths known at compile time, no strlen. */
#define CAM_STR_IS(s, n, lit) \
	((n) == sizeof(lit) - 1 && memcmp((s), (lit), sizeof(lit) - 1) == 0)
#define CAM_STR_ENDS_WITH(s, n, suffix) \
	((n) >= sizeof(suffix) - 1 && \
	 memcmp((const char *)(s) + (n) - (sizeof(suffix) - 1), (suffix), sizeof(suffix) - 1) == 0)

/* Copies src into dst (cap bytes, cap > 0), cut short to fit, always
 * NUL-terminated; returns the length written. */
static inline size_t cam_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

/* Writes v in decimal at dst (at least 21 bytes), NUL-terminated;
 * returns the length written. */
static inline size_t cam_u64_to_dec(char *dst, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	dst[n] = '\0';
	return n;
}

#endif
