/* String fields checked on the wire: see wire_strings.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "kernel/syscall/wire_strings.h"

#include <stdbool.h>
#include <string.h>

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

/* Walks the top-level fields, calling fn on each length-delimited one
 * until it returns false (and vfn, when not NULL, on each varint); false
 * when the message does not parse. */
static bool walk_all(const uint8_t *msg, size_t len,
		     bool (*fn)(void *arg, uint32_t field, const uint8_t *v, size_t vlen),
		     void (*vfn)(void *arg, uint32_t field, uint64_t v), void *arg)
{
	const uint8_t *p = msg, *end = msg + len;

	while (p < end) {
		uint64_t tag, l;

		if (!varint(&p, end, &tag))
			return false;
		switch (tag & 7) {
		case 0:
			if (!varint(&p, end, &l))
				return false;
			if (vfn && (tag >> 3) <= UINT32_MAX)
				vfn(arg, (uint32_t)(tag >> 3), l);
			break;
		case 1:
			if (end - p < 8)
				return false;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return false;
			p += 4;
			break;
		case 2:
			if (!varint(&p, end, &l) || l > (uint64_t)(end - p))
				return false;
			if ((tag >> 3) <= UINT32_MAX && !fn(arg, (uint32_t)(tag >> 3), p, (size_t)l))
				return true;
			p += l;
			break;
		default:
			return false; /* groups and worse: not ours to judge */
		}
	}
	return true;
}

static bool walk(const uint8_t *msg, size_t len,
		 bool (*fn)(void *arg, uint32_t field, const uint8_t *v, size_t vlen), void *arg)
{
	return walk_all(msg, len, fn, NULL, arg);
}

struct bad_string {
	const uint32_t *fields;
	size_t n;
	uint32_t bad;
};

static bool check_string(void *arg, uint32_t field, const uint8_t *v, size_t vlen)
{
	struct bad_string *b = arg;

	if (listed(field, b->fields, b->n) && !cam_utf8_text(v, vlen)) {
		b->bad = field;
		return false;
	}
	return true;
}

uint32_t cam_wire_bad_string(const uint8_t *msg, size_t len, const uint32_t *fields, size_t n)
{
	struct bad_string b = { fields, n, 0 };

	return walk(msg, len, check_string, &b) ? b.bad : 0;
}

struct find {
	uint32_t field;
	const uint8_t *v;
	size_t vlen;
	bool found;
};

static bool find_field(void *arg, uint32_t field, const uint8_t *v, size_t vlen)
{
	struct find *f = arg;

	if (field == f->field) {
		f->v = v;
		f->vlen = vlen;
		f->found = true;
	}
	return true;
}

bool cam_wire_field(const uint8_t *msg, size_t len, uint32_t field, const uint8_t **val,
		    size_t *vlen)
{
	struct find f = { field, NULL, 0, false };

	if (!walk(msg, len, find_field, &f) || !f.found)
		return false;
	*val = f.v;
	*vlen = f.vlen;
	return true;
}

static bool peek_string(void *arg, uint32_t field, const uint8_t *v, size_t vlen)
{
	struct cam_wire_request *r = arg;

	if (field >= 1 && field <= 3 && !r->bad_string && !cam_utf8_text(v, vlen))
		r->bad_string = field;
	if (field == 1) {
		r->verb = v;
		r->verb_len = vlen;
	} else if (field == 2) {
		r->payload = v;
		r->payload_len = vlen;
	} else if (field == 3) {
		r->caller_id = v;
		r->caller_id_len = vlen;
	}
	return true;
}

static void peek_varint(void *arg, uint32_t field, uint64_t v)
{
	struct cam_wire_request *r = arg;

	if (field == 5) {
		r->has_priority = true;
		r->priority = v;
	}
}

bool cam_wire_request_peek(const uint8_t *msg, size_t len, struct cam_wire_request *out)
{
	memset(out, 0, sizeof(*out));
	return walk_all(msg, len, peek_string, peek_varint, out);
}
