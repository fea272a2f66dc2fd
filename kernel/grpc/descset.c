/*
 * Index of a FileDescriptorSet for server reflection (see descset.h).
 *
 * Field numbers read (descriptor.proto): FileDescriptorSet.file = 1;
 * FileDescriptorProto name = 1, package = 2, dependency = 3,
 * message_type = 4, enum_type = 5, service = 6, extension = 7;
 * DescriptorProto name = 1, nested_type = 3, enum_type = 4, extension = 6;
 * EnumDescriptorProto / FieldDescriptorProto / MethodDescriptorProto
 * name = 1; ServiceDescriptorProto name = 1, method = 2.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/grpc/descset.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xmalloc.h"

enum sym_kind { SYM_MESSAGE, SYM_OTHER, SYM_SERVICE };

struct sym {
	char *name;
	size_t file;
	enum sym_kind kind;
};

struct cam_grpc_descset {
	struct cam_grpc_descset_file *files;
	size_t nfiles, cap_files;
	struct sym *syms;
	size_t nsyms, cap_syms;
};

/* One field of a message being read. */
struct pb_field {
	uint32_t num;
	uint32_t wt;
	const uint8_t *data; /* length-delimited fields */
	size_t len;
};

struct pb {
	const uint8_t *p, *end;
};

static int pb_varint(struct pb *r, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (r->p >= r->end)
			return CAM_EPROTO;
		b = *r->p++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return CAM_EPROTO;
}

/* Reads the next field; returns 1, 0 at the end, or CAM_EPROTO. */
static int pb_next(struct pb *r, struct pb_field *f)
{
	uint64_t key, v;

	if (r->p >= r->end)
		return 0;
	if (pb_varint(r, &key))
		return CAM_EPROTO;
	f->num = (uint32_t)(key >> 3);
	f->wt = key & 7;
	f->data = NULL;
	f->len = 0;
	switch (f->wt) {
	case 0:
		return pb_varint(r, &v) ? CAM_EPROTO : 1;
	case 1:
		if (r->end - r->p < 8)
			return CAM_EPROTO;
		r->p += 8;
		return 1;
	case 2:
		if (pb_varint(r, &v) || v > (uint64_t)(r->end - r->p))
			return CAM_EPROTO;
		f->data = r->p;
		f->len = (size_t)v;
		r->p += v;
		return 1;
	case 5:
		if (r->end - r->p < 4)
			return CAM_EPROTO;
		r->p += 4;
		return 1;
	}
	return CAM_EPROTO;
}

static char *strndup_x(const uint8_t *p, size_t n)
{
	char *s = cam_xmalloc(n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* The name (field 1) of a descriptor message; NULL if it has none. */
static char *pb_name(const uint8_t *data, size_t len)
{
	struct pb r = { data, data + len };
	struct pb_field f;
	int rc;

	while ((rc = pb_next(&r, &f)) == 1)
		if (f.num == 1 && f.wt == 2)
			return strndup_x(f.data, f.len);
	return NULL;
}

/* Copies full. */
static void add_sym(cam_grpc_descset *d, const char *full, size_t file,
		    enum sym_kind kind)
{
	struct sym *s;

	if (d->nsyms == d->cap_syms) {
		d->cap_syms = d->cap_syms ? d->cap_syms * 2 : 64;
		d->syms = cam_xrealloc(d->syms, d->cap_syms * sizeof(*d->syms));
	}
	s = &d->syms[d->nsyms++];
	s->name = cam_xstrdup(full);
	s->file = file;
	s->kind = kind;
}

static char *join(const char *scope, const char *name);

/* Adds scope.name for a descriptor whose name is its field 1. */
static void add_named(cam_grpc_descset *d, const char *scope, const uint8_t *data,
		      size_t len, size_t file, enum sym_kind kind)
{
	char *name = pb_name(data, len), *full;

	if (!name)
		return;
	full = join(scope, name);
	add_sym(d, full, file, kind);
	free(full);
	free(name);
}

static char *join(const char *scope, const char *name)
{
	size_t n = strlen(scope) + strlen(name) + 2;
	char *s = cam_xmalloc(n);

	snprintf(s, n, "%s%s%s", scope, *scope ? "." : "", name);
	return s;
}

/* Adds a message, its nested types, enums and extensions, recursively. */
static int index_message(cam_grpc_descset *d, const char *scope, const uint8_t *data,
			 size_t len, size_t file, int depth)
{
	struct pb r = { data, data + len };
	struct pb_field f;
	char *name = pb_name(data, len), *own;
	int rc;

	if (!name || depth > 32) {
		free(name);
		return CAM_EPROTO;
	}
	own = join(scope, name);
	free(name);
	add_sym(d, own, file, SYM_MESSAGE);
	while ((rc = pb_next(&r, &f)) == 1) {
		if (f.wt != 2)
			continue;
		if (f.num == 3) {
			rc = index_message(d, own, f.data, f.len, file, depth + 1);
			if (rc)
				break;
		} else if (f.num == 4 || f.num == 6) {
			add_named(d, own, f.data, f.len, file, SYM_OTHER);
		}
	}
	free(own);
	return rc < 0 ? rc : 0;
}

/* A service and its methods ("pkg.Svc.Method"). */
static void index_service(cam_grpc_descset *d, const char *scope,
			  const uint8_t *data, size_t len, size_t file)
{
	struct pb r = { data, data + len };
	struct pb_field f;
	char *name = pb_name(data, len), *own;

	if (!name)
		return;
	own = join(scope, name);
	free(name);
	add_sym(d, own, file, SYM_SERVICE);
	while (pb_next(&r, &f) == 1)
		if (f.num == 2 && f.wt == 2)
			add_named(d, own, f.data, f.len, file, SYM_OTHER);
	free(own);
}

/* The package (field 2) of a FileDescriptorProto; "" if none. */
static char *file_package(const uint8_t *data, size_t len)
{
	struct pb r = { data, data + len };
	struct pb_field f;

	while (pb_next(&r, &f) == 1)
		if (f.num == 2 && f.wt == 2)
			return strndup_x(f.data, f.len);
	return cam_xstrdup("");
}

static int index_file(cam_grpc_descset *d, const uint8_t *data, size_t len)
{
	struct cam_grpc_descset_file *file;
	struct pb r = { data, data + len };
	struct pb_field f;
	size_t idx = d->nfiles;
	char *pkg;
	int rc;

	if (d->nfiles == d->cap_files) {
		d->cap_files = d->cap_files ? d->cap_files * 2 : 8;
		d->files = cam_xrealloc(d->files, d->cap_files * sizeof(*d->files));
	}
	file = &d->files[d->nfiles++];
	memset(file, 0, sizeof(*file));
	file->data = data;
	file->len = len;
	file->name = pb_name(data, len);
	if (!file->name)
		return CAM_EPROTO;
	pkg = file_package(data, len);
	while ((rc = pb_next(&r, &f)) == 1) {
		if (f.wt != 2)
			continue;
		switch (f.num) {
		case 3:
			file->deps = cam_xrealloc(file->deps,
						  (file->ndeps + 1) * sizeof(char *));
			file->deps[file->ndeps++] = strndup_x(f.data, f.len);
			break;
		case 4:
			rc = index_message(d, pkg, f.data, f.len, idx, 0);
			break;
		case 5:
		case 7:
			add_named(d, pkg, f.data, f.len, idx, SYM_OTHER);
			break;
		case 6:
			index_service(d, pkg, f.data, f.len, idx);
			break;
		}
		if (rc < 0)
			break;
	}
	free(pkg);
	return rc < 0 ? rc : 0;
}

int cam_grpc_descset_new(const uint8_t *set, size_t len, cam_grpc_descset **out)
{
	cam_grpc_descset *d = cam_xcalloc(1, sizeof(*d));
	struct pb r = { set, set + len };
	struct pb_field f;
	int rc;

	while ((rc = pb_next(&r, &f)) == 1) {
		if (f.num != 1 || f.wt != 2)
			continue;
		rc = index_file(d, f.data, f.len);
		if (rc)
			break;
	}
	if (rc < 0) {
		cam_grpc_descset_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void cam_grpc_descset_free(cam_grpc_descset *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nfiles; i++) {
		for (size_t j = 0; j < d->files[i].ndeps; j++)
			free(d->files[i].deps[j]);
		free(d->files[i].deps);
		free(d->files[i].name);
	}
	for (size_t i = 0; i < d->nsyms; i++)
		free(d->syms[i].name);
	free(d->files);
	free(d->syms);
	free(d);
}

size_t cam_grpc_descset_nfiles(const cam_grpc_descset *d)
{
	return d->nfiles;
}

const struct cam_grpc_descset_file *cam_grpc_descset_file(const cam_grpc_descset *d,
							   size_t i)
{
	return i < d->nfiles ? &d->files[i] : NULL;
}

int cam_grpc_descset_find_file(const cam_grpc_descset *d, const char *name)
{
	for (size_t i = 0; i < d->nfiles; i++)
		if (strcmp(d->files[i].name, name) == 0)
			return (int)i;
	return -1;
}

static const struct sym *find_sym(const cam_grpc_descset *d, const char *symbol)
{
	if (symbol[0] == '.')
		symbol++;
	for (size_t i = 0; i < d->nsyms; i++)
		if (strcmp(d->syms[i].name, symbol) == 0)
			return &d->syms[i];
	return NULL;
}

int cam_grpc_descset_find_symbol(const cam_grpc_descset *d, const char *symbol)
{
	const struct sym *s = find_sym(d, symbol);

	return s ? (int)s->file : -1;
}

int cam_grpc_descset_is_message(const cam_grpc_descset *d, const char *symbol)
{
	const struct sym *s = find_sym(d, symbol);

	return s && s->kind == SYM_MESSAGE;
}

size_t cam_grpc_descset_nservices(const cam_grpc_descset *d)
{
	size_t n = 0;

	for (size_t i = 0; i < d->nsyms; i++)
		n += d->syms[i].kind == SYM_SERVICE;
	return n;
}

const char *cam_grpc_descset_service(const cam_grpc_descset *d, size_t i)
{
	for (size_t k = 0; k < d->nsyms; k++)
		if (d->syms[k].kind == SYM_SERVICE && i-- == 0)
			return d->syms[k].name;
	return NULL;
}

size_t cam_grpc_descset_closure(const cam_grpc_descset *d, size_t i, size_t *idx,
				size_t cap)
{
	size_t n = 0;

	if (i >= d->nfiles || cap == 0)
		return 0;
	idx[n++] = i;
	/* Breadth first over imports; the list itself is the queue. */
	for (size_t q = 0; q < n; q++) {
		const struct cam_grpc_descset_file *f = &d->files[idx[q]];

		for (size_t j = 0; j < f->ndeps && n < cap; j++) {
			int k = cam_grpc_descset_find_file(d, f->deps[j]);
			bool seen = false;

			if (k < 0)
				continue;
			for (size_t m = 0; m < n; m++)
				seen |= idx[m] == (size_t)k;
			if (!seen)
				idx[n++] = (size_t)k;
		}
	}
	return n;
}
