/* nghttp2's allocator: see h2_mem.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "kernel/grpc/h2_mem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define CAM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CAM_ASAN 1
#endif
#endif
#ifdef CAM_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define NCLASS 6        /* 32, 64, 128, 256, 512, 1024 bytes */
#define MIN_SHIFT 5
#define MAX_SMALL (1u << (MIN_SHIFT + NCLASS - 1))
#define LARGE 0xffu

/* Before every block, 16 bytes so the block stays 16-byte aligned. A kept
 * block is linked through its header, so its body can be poisoned. */
struct hdr {
	uint32_t cls;
	uint32_t pad;
	union {
		size_t size;      /* LARGE: bytes asked for */
		struct hdr *next; /* kept: the next of its list */
	} u;
};
_Static_assert(sizeof(struct hdr) == 16, "the header keeps 16-byte alignment");

struct lists {
	struct hdr *head[NCLASS];
	unsigned n[NCLASS];
	bool registered;
};

static _Thread_local struct lists tl;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void give_back(void *arg)
{
	struct lists *l = arg;

	for (unsigned c = 0; c < NCLASS; c++) {
		while (l->head[c]) {
			struct hdr *h = l->head[c];

			UNPOISON(h + 1, (size_t)1 << (MIN_SHIFT + c));
			l->head[c] = h->u.next;
			free(h);
		}
		l->n[c] = 0;
	}
	l->registered = false;
}

static void make_key(void)
{
	pthread_key_create(&exit_key, give_back);
}

/* The first block a thread keeps registers its lists for thread exit. */
static void register_thread(void)
{
	pthread_once(&exit_once, make_key);
	pthread_setspecific(exit_key, &tl);
	tl.registered = true;
}

static inline unsigned class_of(size_t size)
{
	return size <= (1u << MIN_SHIFT)
		       ? 0
		       : (unsigned)(64 - __builtin_clzll((unsigned long long)size - 1)) - MIN_SHIFT;
}

static inline size_t capacity(const struct hdr *h)
{
	return h->cls == LARGE ? h->u.size : (size_t)1 << (MIN_SHIFT + h->cls);
}

static void *mem_malloc(size_t size, void *ud)
{
	struct hdr *h;
	unsigned c;

	(void)ud;
	if (size > MAX_SMALL) {
		if (size > SIZE_MAX - sizeof(*h) || !(h = malloc(sizeof(*h) + size)))
			return NULL;
		h->cls = LARGE;
		h->u.size = size;
		return h + 1;
	}
	c = class_of(size);
	if ((h = tl.head[c])) {
		tl.head[c] = h->u.next;
		tl.n[c]--;
		UNPOISON(h + 1, (size_t)1 << (MIN_SHIFT + c));
		return h + 1;
	}
	if (!(h = malloc(sizeof(*h) + ((size_t)1 << (MIN_SHIFT + c)))))
		return NULL;
	h->cls = c;
	return h + 1;
}

static void mem_free(void *p, void *ud)
{
	struct hdr *h;
	unsigned c;

	(void)ud;
	if (!p)
		return;
	h = (struct hdr *)p - 1;
	c = h->cls;
	if (c == LARGE || tl.n[c] >= CAM_H2_MEM_KEEP) {
		free(h);
		return;
	}
	if (!tl.registered)
		register_thread();
	POISON(p, (size_t)1 << (MIN_SHIFT + c));
	h->u.next = tl.head[c];
	tl.head[c] = h;
	tl.n[c]++;
}

static void *mem_calloc(size_t n, size_t size, void *ud)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	if ((p = mem_malloc(n * size, ud)))
		memset(p, 0, n * size);
	return p;
}

static void *mem_realloc(void *p, size_t size, void *ud)
{
	size_t cap;
	void *q;

	if (!p)
		return mem_malloc(size, ud);
	cap = capacity((struct hdr *)p - 1);
	if (size <= cap && size > 0)
		return p;
	if (size == 0) {
		mem_free(p, ud);
		return NULL;
	}
	if (!(q = mem_malloc(size, ud)))
		return NULL;
	memcpy(q, p, cap);
	mem_free(p, ud);
	return q;
}

static nghttp2_mem mem = { NULL, mem_malloc, mem_free, mem_calloc, mem_realloc };

nghttp2_mem *cam_grpc_h2_mem(void)
{
	return &mem;
}

size_t cam_grpc_h2_mem_kept(void)
{
	size_t n = 0;

	for (unsigned c = 0; c < NCLASS; c++)
		n += tl.n[c];
	return n;
}
