/*
 * The bump allocator of otlp_arena.h: chunks of 256 KiB (larger for a
 * larger request), each a header and its bytes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/otlp_arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

#define CHUNK_BYTES (256u * 1024)

struct cam_otlp_chunk {
	struct cam_otlp_chunk *next;
	size_t size;
	alignas(max_align_t) unsigned char data[];
};

void *cam_otlp_arena_alloc(struct cam_otlp_arena *a, size_t n)
{
	size_t align = alignof(max_align_t);
	size_t need = (n + align - 1) & ~(align - 1);
	struct cam_otlp_chunk *c = a->chunks;
	void *p;

	if (!c || a->used + need > c->size) {
		size_t size = need > CHUNK_BYTES ? need : CHUNK_BYTES;

		c = cam_xmalloc(sizeof(*c) + size);
		c->size = size;
		c->next = a->chunks;
		a->chunks = c;
		a->used = 0;
	}
	p = c->data + a->used;
	a->used += need;
	memset(p, 0, n);
	return p;
}

char *cam_otlp_arena_strndup(struct cam_otlp_arena *a, const char *s, size_t n)
{
	char *p = cam_otlp_arena_alloc(a, n + 1);

	memcpy(p, s, n);
	return p;
}

void cam_otlp_arena_reset(struct cam_otlp_arena *a)
{
	struct cam_otlp_chunk *c = a->chunks, *next;

	if (!c)
		return;
	/* Keep the newest chunk (the one most likely to be the large one). */
	next = c->next;
	c->next = NULL;
	while (next) {
		struct cam_otlp_chunk *n = next->next;
		free(next);
		next = n;
	}
	a->used = 0;
}

void cam_otlp_arena_free(struct cam_otlp_arena *a)
{
	cam_otlp_arena_reset(a);
	free(a->chunks);
	a->chunks = NULL;
	a->used = 0;
}
