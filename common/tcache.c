/* Per-thread free lists by size class: see tcache.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "common/tcache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

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

#define NCLASS 8 /* 32, 64, ... 4096 bytes */
#define MIN_SHIFT 5
#define MAX_SMALL ((size_t)1 << (MIN_SHIFT + NCLASS - 1))
#define LARGE 0xffu

#define CLASS_BYTES(c) ((size_t)1 << (MIN_SHIFT + (c)))
#define CLASS_KEEP(c) (CAM_TCACHE_KEEP_BYTES / CLASS_BYTES(c))

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

			UNPOISON(h + 1, CLASS_BYTES(c));
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
	return size <= CLASS_BYTES(0)
		       ? 0
		       : (unsigned)(64 - __builtin_clzll((unsigned long long)size - 1)) - MIN_SHIFT;
}

void *cam_tcache_alloc(size_t size)
{
	struct hdr *h;
	unsigned c;

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
		UNPOISON(h + 1, CLASS_BYTES(c));
		return h + 1;
	}
	if (!(h = malloc(sizeof(*h) + CLASS_BYTES(c))))
		return NULL;
	h->cls = c;
	return h + 1;
}

void *cam_tcache_xalloc(size_t size)
{
	void *p = cam_tcache_alloc(size);

	if (!p)
		cam_oom(size);
	return p;
}

void cam_tcache_free(void *p)
{
	struct hdr *h;
	unsigned c;

	if (!p)
		return;
	h = (struct hdr *)p - 1;
	c = h->cls;
	if (c == LARGE || tl.n[c] >= CLASS_KEEP(c)) {
		free(h);
		return;
	}
	if (!tl.registered)
		register_thread();
	POISON(p, CLASS_BYTES(c));
	h->u.next = tl.head[c];
	tl.head[c] = h;
	tl.n[c]++;
}

void *cam_tcache_calloc(size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	if ((p = cam_tcache_alloc(n * size)))
		memset(p, 0, n * size);
	return p;
}

void *cam_tcache_realloc(void *p, size_t size)
{
	const struct hdr *h;
	size_t cap;
	void *q;

	if (!p)
		return cam_tcache_alloc(size);
	if (size == 0) {
		cam_tcache_free(p);
		return NULL;
	}
	h = (const struct hdr *)p - 1;
	cap = h->cls == LARGE ? h->u.size : CLASS_BYTES(h->cls);
	if (size <= cap)
		return p;
	if (!(q = cam_tcache_alloc(size)))
		return NULL;
	memcpy(q, p, cap);
	cam_tcache_free(p);
	return q;
}

size_t cam_tcache_kept(void)
{
	size_t n = 0;

	for (unsigned c = 0; c < NCLASS; c++)
		n += tl.n[c];
	return n;
}
