/* Unit tests of common/tcache.c: per-thread free lists by size class. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/tcache.h"

#define M(n) cam_tcache_alloc(n)
#define F(p) cam_tcache_free(p)

static void test_blocks_reused_by_class(void **state)
{
	size_t kept = cam_tcache_kept();
	unsigned char *a = M(40), *b;

	(void)state;
	assert_non_null(a);
	assert_int_equal((uintptr_t)a % 16, 0);
	memset(a, 0xab, 40);
	F(a);
	assert_int_equal(cam_tcache_kept(), kept + 1);
	b = M(64); /* same class (33..64 bytes): the same block */
	assert_ptr_equal(a, b);
	assert_int_equal(cam_tcache_kept(), kept);
	memset(b, 0, 64);
	F(b);
	b = M(65); /* the next class: another block */
	assert_ptr_not_equal(a, b);
	F(b);
	F(NULL);
	b = cam_tcache_xalloc(4096); /* the largest class */
	memset(b, 1, 4096);
	F(b);
	assert_ptr_equal(cam_tcache_xalloc(4000), b);
	F(b);
}

static void test_large_blocks_not_kept(void **state)
{
	size_t kept = cam_tcache_kept();
	unsigned char *p = M(100000);

	(void)state;
	assert_non_null(p);
	memset(p, 1, 100000);
	F(p);
	assert_int_equal(cam_tcache_kept(), kept);
}

static void test_calloc_and_realloc(void **state)
{
	unsigned char *p, *q;

	(void)state;
	p = M(100);
	memset(p, 0xff, 100);
	F(p);
	p = cam_tcache_calloc(10, 10); /* may be the block just freed */
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(p[i], 0);
	for (size_t i = 0; i < 100; i++)
		p[i] = (unsigned char)i;
	q = cam_tcache_realloc(p, 120); /* fits its 128-byte class */
	assert_ptr_equal(p, q);
	q = cam_tcache_realloc(p, 5000); /* moves, keeps the bytes */
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(q[i], i);
	q = cam_tcache_realloc(q, 200000); /* large to larger */
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(q[i], i);
	F(q);
	assert_null(cam_tcache_calloc(SIZE_MAX / 2, 4));
	assert_null(M(SIZE_MAX - 8));
	p = cam_tcache_realloc(NULL, 10);
	assert_non_null(p);
	assert_null(cam_tcache_realloc(p, 0)); /* frees */
}

/* Each class keeps CAM_TCACHE_KEEP_BYTES at most: 4,096 blocks of 64
 * bytes, 64 of 4 KiB. */
static void test_keeps_at_most_the_bound(void **state)
{
	enum { SMALL = CAM_TCACHE_KEEP_BYTES / 64, BIG = CAM_TCACHE_KEEP_BYTES / 4096 };
	static void *p[SMALL + 10];
	size_t kept;

	(void)state;
	for (size_t i = 0; i < SMALL + 10; i++)
		p[i] = M(60);
	kept = cam_tcache_kept();
	for (size_t i = 0; i < SMALL + 10; i++)
		F(p[i]);
	assert_int_equal(cam_tcache_kept(), kept + SMALL);
	for (size_t i = 0; i < BIG + 10; i++)
		p[i] = M(4096);
	kept = cam_tcache_kept();
	for (size_t i = 0; i < BIG + 10; i++)
		F(p[i]);
	assert_true(cam_tcache_kept() <= kept + BIG);
}

/* A block allocated on one thread and freed on another joins the second
 * thread's lists, which that thread gives back when it exits (the leak
 * checker of the sanitizer build would report it otherwise). */
static void *free_on_other_thread(void *arg)
{
	void **blocks = arg;

	for (size_t i = 0; i < 8; i++)
		F(blocks[i]);
	*(size_t *)blocks[8] = cam_tcache_kept();
	return NULL;
}

static void test_cross_thread_free_and_exit(void **state)
{
	size_t kept_there = 0, kept_here;
	void *blocks[9];
	pthread_t t;

	(void)state;
	for (size_t i = 0; i < 8; i++)
		blocks[i] = M(16 << i % 8);
	kept_here = cam_tcache_kept();
	blocks[8] = &kept_there;
	assert_int_equal(pthread_create(&t, NULL, free_on_other_thread, blocks), 0);
	pthread_join(t, NULL);
	assert_int_equal(kept_there, 8);
	assert_int_equal(cam_tcache_kept(), kept_here);
	/* Many threads in a row, each starting with no lists. */
	for (int i = 0; i < 20; i++) {
		for (size_t j = 0; j < 8; j++)
			blocks[j] = M(100);
		assert_int_equal(pthread_create(&t, NULL, free_on_other_thread, blocks), 0);
		pthread_join(t, NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocks_reused_by_class),
		cmocka_unit_test(test_large_blocks_not_kept),
		cmocka_unit_test(test_calloc_and_realloc),
		cmocka_unit_test(test_keeps_at_most_the_bound),
		cmocka_unit_test(test_cross_thread_free_and_exit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
