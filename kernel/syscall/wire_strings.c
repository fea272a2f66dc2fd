/* String fields checked on the wire: see wire_strings.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "kernel/syscall/wire_strings.h"

#include <stdbool.h>

#include "common/utf8.h"

/* Reads a varint at *p (before end); false when it runs off the end or
 * past 64 bits. */
static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return false;
		*v |= (uint64_t)(**p & 0x7f) << shift;
		if (!(*(*p)++ & 0x80))
			return true;
	}
	return false;
}

static bool listed(uint32_t field, const uint32_t *fields, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fields[i] == field)
			return true;
	return false;
}

uint32_t cam_wire_bad_string(const uint8_t *msg, size_t len, const uint32_t *fields, size_t n)
{
	const uint8_t *p = msg, *end = msg + len;

	while (p < end) {
		uint64_t tag, l;

		if (!varint(&p, end, &tag))
			return 0;
		switch (tag & 7) {
		case 0:
			if (!varint(&p, end, &l))
				return 0;
			break;
		case 1:
			if (end - p < 8)
				return 0;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return 0;
			p += 4;
			break;
		case 2:
			if (!varint(&p, end, &l) || l > (uint64_t)(end - p))
				return 0;
			if ((tag >> 3) <= UINT32_MAX && listed((uint32_t)(tag >> 3), fields, n) &&
			    !cam_utf8_text(p, (size_t)l))
				return (uint32_t)(tag >> 3);
			p += l;
			break;
		default:
			return 0; /* groups and worse: not ours to judge */
		}
	}
	return 0;
}
