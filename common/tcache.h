/*
 * Per-thread free lists of fixed-size objects, for what a hot path
 * allocates and frees once per call: an object freed on a thread is kept
 * (up to a bound) for that thread's next allocation, so a warm thread
 * calls malloc no more. A thread that exits gives its list back.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_TCACHE_H
#define CAM_TCACHE_H

#include <pthread.h>
#include <stddef.h>

struct cam_tcache {
	size_t size;        /* bytes of one object */
	unsigned keep;      /* objects a thread keeps at most */
	pthread_key_t key;
	pthread_once_t once;
};

/* A cache of objects of size bytes, keep per thread; static storage. */
#define CAM_TCACHE_INIT(bytes, per_thread) { .size = (bytes), .keep = (per_thread), \
					     .once = PTHREAD_ONCE_INIT }

/* An object (not zeroed); aborts when out of memory, like cam_xmalloc. */
void *cam_tcache_get(struct cam_tcache *tc);
/* Gives p back (to this thread's list, or to free). NULL is a no-op. */
void cam_tcache_put(struct cam_tcache *tc, void *p);

#endif
