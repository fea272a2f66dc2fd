/*
 * Per-thread free lists of small blocks, for what a hot path allocates and
 * frees once per call (nghttp2's streams and header buffers, the kernel's
 * execs): a block freed on a thread is kept, by size class (32 bytes to
 * 4 KiB, powers of two), for that thread's next allocation of its class,
 * so a warm thread calls malloc no more: a pop or a push, no lock.
 *
 * A block may be freed on another thread than the one that allocated it
 * (it joins that thread's lists). A thread keeps at most
 * CAM_TCACHE_KEEP_BYTES per class (so at most 2 MiB in all) and gives
 * its lists back when it exits. Larger blocks go straight to malloc. Under
 * AddressSanitizer a kept block is poisoned, so a use after free is still
 * reported.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_TCACHE_H
#define CAM_TCACHE_H

#include <stddef.h>

#define CAM_TCACHE_KEEP_BYTES (256 * 1024)

/* As malloc, calloc, realloc and free; a block from one of these must go
 * back through cam_tcache_free (or cam_tcache_realloc), never free(). */
void *cam_tcache_alloc(size_t size);
void *cam_tcache_calloc(size_t n, size_t size);
void *cam_tcache_realloc(void *p, size_t size);
void cam_tcache_free(void *p);
/* cam_tcache_alloc that aborts when out of memory, like cam_xmalloc. */
void *cam_tcache_xalloc(size_t size);

/* Blocks this thread keeps now, over every class (for tests). */
size_t cam_tcache_kept(void);

#endif
