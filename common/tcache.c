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

static void give_back(void *arg)
{
	struct list *l = arg;

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

	making = tc;
	pthread_once(&tc->once, make_key);
	l = pthread_getspecific(tc->key);
	if (!l && create) {
		l = cam_xcalloc(1, sizeof(*l));
		pthread_setspecific(tc->key, l);
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
