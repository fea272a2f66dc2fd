/*
 * Counts per caller name (caller_counts.h): open addressing over a seeded
 * FNV-1a hash of the name (names are chosen by callers: they cannot aim
 * at one chain), doubled at three quarters full.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/caller_counts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/clock.h"
#include "common/xmalloc.h"

struct entry {
	char *name; /* NULL: free */
	uint64_t h;
	size_t n;
};

struct cam_caller_counts {
	struct entry *e;
	size_t cap, used;
	uint64_t seed;
};

static uint64_t hash(const cam_caller_counts *c, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ c->seed;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return h ^ (h >> 29);
}

static struct entry *find(const cam_caller_counts *c, const char *name, uint64_t h)
{
	size_t j = h & (c->cap - 1);

	while (c->e[j].name && (c->e[j].h != h || strcmp(c->e[j].name, name) != 0))
		j = (j + 1) & (c->cap - 1);
	return &c->e[j];
}

cam_caller_counts *cam_caller_counts_new(void)
{
	cam_caller_counts *c = cam_xcalloc(1, sizeof(*c));

	c->cap = 64;
	c->e = cam_xcalloc(c->cap, sizeof(*c->e));
	if (getrandom(&c->seed, sizeof(c->seed), 0) != sizeof(c->seed))
		c->seed = (uint64_t)cam_mono_ns();
	return c;
}

void cam_caller_counts_free(cam_caller_counts *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cap; i++)
		free(c->e[i].name);
	free(c->e);
	free(c);
}

size_t cam_caller_counts_get(const cam_caller_counts *c, const char *name)
{
	return find(c, name, hash(c, name))->n;
}

static void grow(cam_caller_counts *c)
{
	struct entry *old = c->e;
	size_t cap = c->cap;

	c->cap *= 2;
	c->e = cam_xcalloc(c->cap, sizeof(*c->e));
	for (size_t i = 0; i < cap; i++)
		if (old[i].name)
			*find(c, old[i].name, old[i].h) = old[i];
	free(old);
}

void cam_caller_counts_add(cam_caller_counts *c, const char *name)
{
	uint64_t h = hash(c, name);
	struct entry *e = find(c, name, h);

	if (!e->name) {
		if ((c->used + 1) * 4 > c->cap * 3) {
			grow(c);
			e = find(c, name, h);
		}
		e->name = cam_xstrdup(name);
		e->h = h;
		c->used++;
	}
	e->n++;
}
