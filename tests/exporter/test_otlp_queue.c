/*
 * Tests of exporter/otlp_queue.c: FIFO order, the byte bound dropping the
 * oldest and counting their items, the newest always kept, clear.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "exporter/otlp_queue.h"

static void test_fifo(void **state)
{
	struct cam_otlp_queue q;
	struct cam_otlp_request *r;

	(void)state;
	cam_otlp_queue_init(&q, 100);
	assert_int_equal(cam_otlp_queue_push(&q, "aaaa", 4, 1, NULL), 0);
	assert_int_equal(cam_otlp_queue_push(&q, "bb", 2, 2, NULL), 0);
	assert_int_equal(q.bytes, 6);
	assert_int_equal(q.items, 3);
	r = cam_otlp_queue_pop(&q);
	assert_memory_equal(r->data, "aaaa", 4);
	assert_int_equal(r->items, 1);
	free(r);
	r = cam_otlp_queue_pop(&q);
	assert_memory_equal(r->data, "bb", 2);
	free(r);
	assert_null(cam_otlp_queue_pop(&q));
	assert_int_equal(q.bytes, 0);
	assert_int_equal(q.count, 0);
}

static void test_bound_drops_oldest(void **state)
{
	struct cam_otlp_queue q;
	char body[40] = { 0 };
	struct cam_otlp_request *r;
	size_t nreq;

	(void)state;
	cam_otlp_queue_init(&q, 100);
	for (int i = 0; i < 3; i++) {
		body[0] = (char)('a' + i);
		assert_int_equal(cam_otlp_queue_push(&q, body, 30, 10, &nreq), 0);
	}
	body[0] = 'd';
	/* 90 + 30 > 100: 'a' goes, its 10 items are reported. */
	assert_int_equal(cam_otlp_queue_push(&q, body, 30, 10, &nreq), 10);
	assert_int_equal(nreq, 1);
	assert_int_equal(q.bytes, 90);
	r = cam_otlp_queue_pop(&q);
	assert_int_equal(r->data[0], 'b');
	free(r);
	/* Larger than the bound alone: everything else goes, it stays. */
	assert_int_equal(cam_otlp_queue_push(&q, body, 0, 5, NULL), 0);
	{
		char big[200] = { 'z' };

		assert_int_equal(cam_otlp_queue_push(&q, big, sizeof(big), 7, &nreq), 25);
		assert_int_equal(nreq, 3);
	}
	assert_int_equal(q.count, 1);
	assert_int_equal(q.items, 7);
	assert_int_equal(cam_otlp_queue_clear(&q), 7);
	assert_int_equal(q.bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_bound_drops_oldest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
