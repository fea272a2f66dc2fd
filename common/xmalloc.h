/*
 * Allocation of small fixed-size objects: out of memory there is not worth
 * surviving, so these log a line and abort (as redis and h2o do). Sizes a
 * client controls are bounded before allocating and use plain malloc with an
 * error path instead.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_XMALLOC_H
#define CAM_XMALLOC_H

#include <stddef.h>

/* Logs "out of memory allocating size bytes" and aborts. */
_Noreturn void cam_oom(size_t size);
void *cam_xmalloc(size_t size);
void *cam_xcalloc(size_t n, size_t size);
void *cam_xrealloc(void *ptr, size_t size);
char *cam_xstrdup(const char *s);
/* Zeroed memory aligned to a cache line (64 bytes); free with free(). */
void *cam_xcalloc_aligned(size_t size);

#endif
