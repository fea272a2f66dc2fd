/*
 * The scrape cache: the kernel's part of each /metrics body, rendered once
 * per snapshot and format (text, OpenMetrics, protobuf; plain, or as the
 * head of a gzip member), the first time a scrape asks for it, then served
 * as the same bytes until another snapshot arrives.
 *
 * The cache holds one entry: the latest snapshot's (or the "no kernel
 * part" entry while the kernel is absent or stale). A scrape takes a
 * reference to the entry and serves its bytes straight from it; a newer
 * snapshot replaces the entry, and the old one is freed when the last
 * response made from it is sent. So every response shows one snapshot
 * whole, never parts of two. An entry keeps rendered bytes only, never the
 * snapshot (each render reads the one the scrape holds, which is the
 * entry's: entries are told apart by the snapshot's generation), so an old
 * snapshot is freed as soon as no scrape holds it. The exporter's own families are rendered per
 * scrape after these bytes (http.c), since they change with every scrape.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_SCRAPE_CACHE_H
#define CAM_EXPORTER_SCRAPE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/render.h"
#include "exporter/subscriber.h"

typedef struct cam_scrape_cache cam_scrape_cache;
struct cam_scrape_ref;

/* The bytes of one cached part, valid while its reference is held. */
struct cam_scrape_piece {
	const void *data;
	size_t len;
	uint32_t crc;     /* gzip: CRC-32 of the uncompressed part */
	size_t raw_len;   /* gzip: its uncompressed length */
	size_t conflicts; /* kernel families left out: the exporter serves them */
};

/* skip: the families the exporter serves itself (left out of the kernel
 * part). Can't fail. */
cam_scrape_cache *cam_scrape_cache_new(bool (*skip)(const char *family));
/* Drops the cache's entry (responses keep theirs) and frees c; NULL: no-op. */
void cam_scrape_cache_free(cam_scrape_cache *c);

/*
 * The kernel part of snap (NULL: an empty part) in fmt, gzip head or
 * plain, rendered now if this entry has not rendered it yet (other scrapes
 * of it wait for that render, not for each other otherwise). The caller
 * holds snap during the call only. *ref must be released with
 * cam_scrape_ref_release once the bytes are no longer used, from any
 * thread. NULL only when zlib fails (nothing to release).
 */
const struct cam_scrape_piece *cam_scrape_cache_get(cam_scrape_cache *c,
						    struct cam_sub_snapshot *snap,
						    enum cam_render_format fmt, bool gz,
						    struct cam_scrape_ref **ref);
void cam_scrape_ref_release(struct cam_scrape_ref *ref);

/* Renders done since the cache was made (tests: once per snapshot). */
uint64_t cam_scrape_cache_renders(const cam_scrape_cache *c);

#endif
