/*
 * A bump allocator for the message trees of one OTLP request.
 *
 * An export request is a tree of many small protobuf-c messages (a data
 * point, its attributes, their values) that live until it is packed. They
 * are carved out of large chunks and freed together, so encoding 10k
 * series costs a handful of mallocs, and the chunks are kept from request
 * to request (cam_otlp_arena_reset).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_OTLP_ARENA_H
#define CAM_EXPORTER_OTLP_ARENA_H

#include <stddef.h>

struct cam_otlp_chunk;

struct cam_otlp_arena {
	struct cam_otlp_chunk *chunks; /* the current chunk first */
	size_t used;                   /* bytes used in the current chunk */
};

#define CAM_OTLP_ARENA_INIT { NULL, 0 }

/* n zeroed bytes, aligned for any type, valid until reset or free. Aborts
 * when memory runs out (the sizes come from bounded snapshots). */
void *cam_otlp_arena_alloc(struct cam_otlp_arena *a, size_t n);
/* A copy of s[0..n) with a NUL after it. */
char *cam_otlp_arena_strndup(struct cam_otlp_arena *a, const char *s, size_t n);
/* Makes every allocation invalid and keeps one chunk for the next round. */
void cam_otlp_arena_reset(struct cam_otlp_arena *a);
void cam_otlp_arena_free(struct cam_otlp_arena *a);

#endif
