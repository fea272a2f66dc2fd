/* Per-thread free lists: see tcache.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "common/tcache.h"

#include <stdlib.h>

#include "common/xmalloc.h"

/* A thread's list: the objects themselves, linked through their first
 * bytes, and how many. */
struct list {
	void *head;
	unsigned n;
};

/* The cache this thread used last and its list: the hot path's lookup,
 * without pthread_once and pthread_getspecific (58 instructions a call). */
static _Thread_local struct {
	struct cam_tcache *tc;
	struct list *l;
} last;

static void give_back(void *arg)
{
	struct list *l = arg;

	if (last.l == l) { /* runs on the exiting thread: its own memo */
		last.tc = NULL;
		last.l = NULL;
	}
	while (l->head) {
		void *p = l->head;

		l->head = *(void **)p;
		free(p);
	}
	free(l);
}

/* pthread_once takes no argument: each cache's key is made through this
 * trampoline, which finds the cache in a thread-local set just before. */
static _Thread_local struct cam_tcache *making;

static void make_key(void)
{
	pthread_key_create(&making->key, give_back);
}

static struct list *list_of(struct cam_tcache *tc, int create)
{
	struct list *l;

	if (last.tc == tc)
		return last.l;
	making = tc;
	pthread_once(&tc->once, make_key);
	l = pthread_getspecific(tc->key);
	if (!l && create) {
		l = cam_xcalloc(1, sizeof(*l));
		pthread_setspecific(tc->key, l);
	}
	if (l) {
		last.tc = tc;
		last.l = l;
	}
	return l;
}

void *cam_tcache_get(struct cam_tcache *tc)
{
	struct list *l = list_of(tc, 0);
	void *p;

	if (!l || !l->head)
		return cam_xmalloc(tc->size);
	p = l->head;
	l->head = *(void **)p;
	l->n--;
	return p;
}

void cam_tcache_put(struct cam_tcache *tc, void *p)
{
	struct list *l;

	if (!p)
		return;
	l = list_of(tc, 1);
	if (l->n >= tc->keep) {
		free(p);
		return;
	}
	*(void **)p = l->head;
	l->head = p;
	l->n++;
}
