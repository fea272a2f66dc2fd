/* Unit tests of common/tcache.c: per-thread free lists of fixed-size objects. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/tcache.h"

static struct cam_tcache small = CAM_TCACHE_INIT(64, 4);
static struct cam_tcache big = CAM_TCACHE_INIT(4096, 2);

static void test_objects_reused_per_cache(void **state)
{
	void *a, *b, *c;

	(void)state;
	a = cam_tcache_get(&small);
	memset(a, 1, 64);
	cam_tcache_put(&small, a);
	b = cam_tcache_get(&big); /* the other cache has none kept */
	assert_ptr_not_equal(a, b);
	memset(b, 2, 4096);
	c = cam_tcache_get(&small); /* the one just put back */
	assert_ptr_equal(a, c);
	cam_tcache_put(&big, b);
	assert_ptr_equal(cam_tcache_get(&big), b);
	cam_tcache_put(&big, b);
	cam_tcache_put(&small, c);
	cam_tcache_put(&small, NULL);
}

static void test_keeps_at_most_keep(void **state)
{
	void *p[6], *q[6];

	(void)state;
	for (int i = 0; i < 6; i++)
		p[i] = cam_tcache_get(&small);
	for (int i = 0; i < 6; i++)
		cam_tcache_put(&small, p[i]); /* the last two go to free */
	/* Four come back, most recent first; the fifth is new memory. */
	for (int i = 0; i < 5; i++)
		q[i] = cam_tcache_get(&small);
	for (int i = 0; i < 4; i++)
		assert_ptr_equal(q[i], p[3 - i]);
	for (int i = 0; i < 5; i++)
		cam_tcache_put(&small, q[i]);
}

/* Another thread has lists of its own, and gives them back when it exits
 * (the sanitizer build's leak check would report them otherwise). */
static void *other_thread(void *arg)
{
	void **seen = arg;
	void *p = cam_tcache_get(&small);

	*seen = p;
	cam_tcache_put(&small, p);
	cam_tcache_put(&big, cam_tcache_get(&big));
	return NULL;
}

static void test_threads_have_their_own_lists(void **state)
{
	void *mine = cam_tcache_get(&small), *theirs = NULL;
	pthread_t t;

	(void)state;
	cam_tcache_put(&small, mine);
	assert_int_equal(pthread_create(&t, NULL, other_thread, &theirs), 0);
	pthread_join(t, NULL);
	assert_ptr_not_equal(theirs, mine); /* it could not take this thread's */
	assert_ptr_equal(cam_tcache_get(&small), mine);
	cam_tcache_put(&small, mine);
	/* Many threads in a row, each starting with no list. */
	for (int i = 0; i < 20; i++) {
		assert_int_equal(pthread_create(&t, NULL, other_thread, &theirs), 0);
		pthread_join(t, NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objects_reused_per_cache),
		cmocka_unit_test(test_keeps_at_most_keep),
		cmocka_unit_test(test_threads_have_their_own_lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
