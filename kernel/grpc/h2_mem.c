/* nghttp2's allocator: see h2_mem.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "kernel/grpc/h2_mem.h"

#include "common/tcache.h"

static void *mem_malloc(size_t size, void *ud)
{
	(void)ud;
	return cam_tcache_alloc(size);
}

static void mem_free(void *p, void *ud)
{
	(void)ud;
	cam_tcache_free(p);
}

static void *mem_calloc(size_t n, size_t size, void *ud)
{
	(void)ud;
	return cam_tcache_calloc(n, size);
}

static void *mem_realloc(void *p, size_t size, void *ud)
{
	(void)ud;
	return cam_tcache_realloc(p, size);
}

static nghttp2_mem mem = { NULL, mem_malloc, mem_free, mem_calloc, mem_realloc };

nghttp2_mem *cam_grpc_h2_mem(void)
{
	return &mem;
}
