/*
 * The scrape cache of scrape_cache.h: one refcounted entry per snapshot,
 * swapped under a mutex held for a pointer copy; each entry renders each
 * of its pieces at most once, under the entry's own mutex.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/scrape_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/xmalloc.h"
#include "exporter/gzip.h"

struct cam_scrape_ref {
	atomic_uint refs;
	uint64_t generation;           /* of its snapshot; 0: the empty entry */
	pthread_mutex_t lock;          /* guards rendering the pieces */
	bool done[CAM_RENDER_FORMATS][2];
	struct cam_scrape_piece piece[CAM_RENDER_FORMATS][2];
};

struct cam_scrape_cache {
	pthread_mutex_t lock; /* guards cur */
	struct cam_scrape_ref *cur;
	bool (*skip)(const char *family);
	atomic_uint_fast64_t renders;
};

cam_scrape_cache *cam_scrape_cache_new(bool (*skip)(const char *family))
{
	cam_scrape_cache *c = cam_xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	c->skip = skip;
	atomic_init(&c->renders, 0);
	return c;
}

void cam_scrape_ref_release(struct cam_scrape_ref *r)
{
	if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	for (int f = 0; f < CAM_RENDER_FORMATS; f++)
		for (int g = 0; g < 2; g++)
			free((void *)r->piece[f][g].data);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void cam_scrape_cache_free(cam_scrape_cache *c)
{
	if (!c)
		return;
	cam_scrape_ref_release(c->cur);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

uint64_t cam_scrape_cache_renders(const cam_scrape_cache *c)
{
	return atomic_load(&c->renders);
}

/* The entry for snap, made (and made current) when the current one is of
 * another snapshot; with a reference for the caller. */
static struct cam_scrape_ref *entry_for(cam_scrape_cache *c, struct cam_sub_snapshot *snap)
{
	struct cam_scrape_ref *r, *old = NULL;

	uint64_t gen = snap ? snap->generation : 0;

	pthread_mutex_lock(&c->lock);
	r = c->cur;
	if (!r || r->generation != gen) {
		old = r;
		r = cam_xcalloc(1, sizeof(*r));
		atomic_init(&r->refs, 1); /* the cache's */
		pthread_mutex_init(&r->lock, NULL);
		r->generation = gen;
		c->cur = r;
	}
	atomic_fetch_add(&r->refs, 1);
	pthread_mutex_unlock(&c->lock);
	cam_scrape_ref_release(old);
	return r;
}

/* Renders piece (fmt, gz) of r from snap, r's snapshot. Called with
 * r->lock held. */
static int render_piece(cam_scrape_cache *c, struct cam_scrape_ref *r,
			const struct cam_sub_snapshot *snap, enum cam_render_format fmt, bool gz)
{
	struct cam_scrape_piece *p = &r->piece[fmt][gz];
	struct cam_render_result res;
	struct cam_render_buf b;
	void *out;
	size_t len;

	cam_render_buf_init(&b, 0);
	cam_render_part(&b, fmt, snap ? snap->snapshot : NULL, c->skip, false, &res);
	p->conflicts = res.conflicts;
	p->raw_len = b.len;
	if (gz) {
		if (cam_gzip_head(b.data, b.len, &out, &len, &p->crc)) {
			cam_render_buf_free(&b);
			return -1;
		}
		cam_render_buf_free(&b);
	} else {
		/* Give back what the geometric growth left over. */
		out = b.len ? cam_xrealloc(b.data, b.len) : b.data;
		len = b.len;
	}
	p->data = out;
	p->len = len;
	atomic_fetch_add(&c->renders, 1);
	return 0;
}

const struct cam_scrape_piece *cam_scrape_cache_get(cam_scrape_cache *c,
						    struct cam_sub_snapshot *snap,
						    enum cam_render_format fmt, bool gz,
						    struct cam_scrape_ref **ref)
{
	struct cam_scrape_ref *r = entry_for(c, snap);
	int rc = 0;

	if ((unsigned)fmt >= CAM_RENDER_FORMATS)
		fmt = CAM_RENDER_TEXT;
	pthread_mutex_lock(&r->lock);
	if (!r->done[fmt][gz]) {
		rc = render_piece(c, r, snap, fmt, gz);
		r->done[fmt][gz] = rc == 0;
	}
	pthread_mutex_unlock(&r->lock);
	if (rc) {
		cam_scrape_ref_release(r);
		return NULL;
	}
	*ref = r;
	return &r->piece[fmt][gz];
}
