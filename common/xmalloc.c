/* The aborting allocators described in xmalloc.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "common/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void cam_oom(size_t size)
{
	fprintf(stderr, "{\"level\":\"ERROR\",\"component\":\"xmalloc\","
			"\"message\":\"out of memory allocating %zu bytes\"}\n",
		size);
	abort();
}

void *cam_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		cam_oom(size);
	return p;
}

void *cam_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		cam_oom(n * size);
	return p;
}

void *cam_xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (!p)
		cam_oom(size);
	return p;
}

char *cam_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = cam_xmalloc(n);
	memcpy(p, s, n);
	return p;
}

void *cam_xcalloc_aligned(size_t size)
{
	size_t rounded = (size + 63) & ~(size_t)63;
	void *p = aligned_alloc(64, rounded ? rounded : 64);
	if (!p)
		cam_oom(size);
	memset(p, 0, rounded ? rounded : 64);
	return p;
}
