/* UTF-8 validation: see utf8.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "common/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t cam_utf8_seq(const unsigned char *p)
{
	size_t n;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0; /* also stops at the NUL of a truncated sequence */
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool cam_utf8_valid(const char *s, size_t *len)
{
	size_t n = strlen(s); /* libc's is vectorised; cam_utf8_text steps by 8 */

	if (!cam_utf8_text(s, n))
		return false;
	*len = n;
	return true;
}

/* Whether any of the 8 bytes in w has its top bit set or is NUL. */
static inline bool word_not_plain(uint64_t w)
{
	return (w & 0x8080808080808080u) || ((w - 0x0101010101010101u) & ~w & 0x8080808080808080u);
}

/* Whether the len bytes are all ASCII and none is NUL, a word at a time:
 * the tail as the last eight bytes (overlapping), a short string padded
 * with bytes that are neither. Most text is this. */
static bool plain_ascii(const unsigned char *b, size_t len)
{
	uint64_t w = 0x0101010101010101u;
	size_t i;

	if (len < 8) {
		memcpy(&w, b, len);
		return !word_not_plain(w);
	}
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, b + i, 8);
		if (word_not_plain(w))
			return false;
	}
	memcpy(&w, b + len - 8, 8);
	return !word_not_plain(w);
}

bool cam_utf8_text(const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i = 0;

	if (plain_ascii(b, len))
		return true;

	while (i < len) {
		size_t n;
		uint64_t w;

		/* Most text is ASCII: step over eight bytes at a time while none
		 * has its top bit set and none is NUL. */
		if (len - i >= 8) {
			memcpy(&w, b + i, 8);
			if (!word_not_plain(w)) {
				i += 8;
				continue;
			}
		}
		if (b[i] < 0x80) {
			if (b[i] == 0)
				return false;
			i++;
			continue;
		}
		n = (b[i] & 0xe0) == 0xc0 ? 2 : (b[i] & 0xf0) == 0xe0 ? 3 : 4;
		if (n > len - i)
			return false;
		{
			/* Zeroed here, not for every ASCII byte above. */
			unsigned char seq[5] = { 0 };

			memcpy(seq, b + i, n); /* NUL-terminated: cam_utf8_seq reads no further */
			if (cam_utf8_seq(seq) != n)
				return false;
		}
		i += n;
	}
	return true;
}

char *cam_utf8_repair(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), o = 0;
	char *out = malloc(3 * len + 1); /* each bad byte becomes 3 */

	if (!out)
		return NULL;
	while (*p) {
		size_t n = cam_utf8_seq(p);

		if (n) {
			memcpy(out + o, p, n);
			o += n;
			p += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		}
	}
	out[o] = '\0';
	return out;
}
