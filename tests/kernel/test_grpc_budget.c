/* Unit tests of kernel/grpc/budget.c: the server-wide buffer budget, and
 * the reserve an I/O thread takes ahead of it so that the calls it serves
 * write no cache line another I/O thread writes. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/grpc/internal.h"

#define BUDGET (1024 * 1024)
#define CHUNK (16 * 1024)

static cam_grpc_server srv;
static struct cam_grpc__loop loops[2];

static size_t global(void)
{
	return atomic_load(&srv.buffered);
}

static int setup(void **state)
{
	(void)state;
	memset(&srv, 0, sizeof(srv));
	memset(loops, 0, sizeof(loops));
	srv.max_buffered = BUDGET;
	srv.budget_chunk = CHUNK;
	srv.nloops = 2;
	srv.loops = loops;
	loops[0].srv = loops[1].srv = &srv;
	cam_grpc__this_loop = NULL;
	return 0;
}

/* A thread that is no I/O thread of this server moves the count itself. */
static void test_other_threads_count_exactly(void **state)
{
	(void)state;
	assert_true(cam_grpc__budget_take(&srv, 100, false));
	assert_int_equal(global(), 100);
	assert_int_equal(cam_grpc__budget_held(&srv), 100);
	cam_grpc__budget_give(&srv, 100);
	assert_int_equal(global(), 0);
	assert_int_equal(cam_grpc__budget_held(&srv), 0);
}

/* An I/O thread takes a chunk ahead, then serves takes and gives from it:
 * what is held is exact, and the server-wide count moves seldom. */
static void test_loop_takes_a_chunk_ahead(void **state)
{
	size_t before;

	(void)state;
	cam_grpc__this_loop = &loops[0];
	assert_true(cam_grpc__budget_take(&srv, 100, false));
	assert_int_equal(global(), 100 + CHUNK);
	assert_int_equal(cam_grpc__budget_held(&srv), 100);
	before = global();
	for (int i = 0; i < 1000; i++) {
		assert_true(cam_grpc__budget_take(&srv, 300, false));
		cam_grpc__budget_give(&srv, 300);
	}
	assert_int_equal(global(), before); /* no write to the shared count */
	cam_grpc__budget_give(&srv, 100);
	assert_int_equal(cam_grpc__budget_held(&srv), 0);
	/* Gives past two chunks go back, down to one chunk kept. */
	assert_true(cam_grpc__budget_take(&srv, 3 * CHUNK, false));
	cam_grpc__budget_give(&srv, 3 * CHUNK);
	assert_int_equal(cam_grpc__budget_held(&srv), 0);
	assert_true(global() <= 2 * CHUNK);
}

/* Two I/O threads each keep their own reserve; held sums both. */
static void test_two_loops_held_is_exact(void **state)
{
	(void)state;
	cam_grpc__this_loop = &loops[0];
	assert_true(cam_grpc__budget_take(&srv, 1000, false));
	cam_grpc__this_loop = &loops[1];
	assert_true(cam_grpc__budget_take(&srv, 2000, false));
	cam_grpc__this_loop = NULL;
	assert_true(cam_grpc__budget_take(&srv, 30, false));
	assert_int_equal(cam_grpc__budget_held(&srv), 3030);
	cam_grpc__budget_give(&srv, 30);
	cam_grpc__this_loop = &loops[0];
	cam_grpc__budget_give(&srv, 1000);
	cam_grpc__this_loop = &loops[1];
	cam_grpc__budget_give(&srv, 2000);
	assert_int_equal(cam_grpc__budget_held(&srv), 0);
}

/* The budget still binds: near its end a loop gets only what is missing,
 * and past it nothing (unless forced), with the count left as it was. */
static void test_budget_still_binds(void **state)
{
	size_t before;

	(void)state;
	cam_grpc__this_loop = &loops[0];
	assert_true(cam_grpc__budget_take(&srv, BUDGET - 10, false));
	assert_int_equal(cam_grpc__budget_held(&srv), BUDGET - 10);
	assert_true(global() <= BUDGET);
	before = global();
	assert_false(cam_grpc__budget_take(&srv, 11, false));
	assert_int_equal(global(), before);
	assert_int_equal(cam_grpc__budget_held(&srv), BUDGET - 10);
	assert_true(cam_grpc__budget_take(&srv, 10, false));
	assert_int_equal(cam_grpc__budget_held(&srv), BUDGET);
	assert_true(cam_grpc__budget_take(&srv, 5, true)); /* forced: past it */
	assert_int_equal(cam_grpc__budget_held(&srv), BUDGET + 5);
	cam_grpc__budget_give(&srv, BUDGET + 5);
	assert_int_equal(cam_grpc__budget_held(&srv), 0);
}

/* A budget too small for chunks (budget_chunk 0) counts exactly. */
static void test_no_chunk_counts_exactly(void **state)
{
	(void)state;
	srv.budget_chunk = 0;
	cam_grpc__this_loop = &loops[0];
	assert_true(cam_grpc__budget_take(&srv, 100, false));
	assert_int_equal(global(), 100);
	cam_grpc__budget_give(&srv, 100);
	assert_int_equal(global(), 0);
}

/* Another server's I/O thread is no I/O thread of this one. */
static void test_other_servers_loop_counts_exactly(void **state)
{
	static cam_grpc_server other;
	static struct cam_grpc__loop other_loop;

	(void)state;
	other_loop.srv = &other;
	cam_grpc__this_loop = &other_loop;
	assert_true(cam_grpc__budget_take(&srv, 100, false));
	assert_int_equal(global(), 100);
	assert_int_equal(atomic_load(&loops[0].budget_reserve), 0);
	cam_grpc__budget_give(&srv, 100);
	assert_int_equal(global(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_other_threads_count_exactly, setup),
		cmocka_unit_test_setup(test_loop_takes_a_chunk_ahead, setup),
		cmocka_unit_test_setup(test_two_loops_held_is_exact, setup),
		cmocka_unit_test_setup(test_budget_still_binds, setup),
		cmocka_unit_test_setup(test_no_chunk_counts_exactly, setup),
		cmocka_unit_test_setup(test_other_servers_loop_counts_exactly, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
