/* Unit tests of kernel/grpc/h2_mem.c: nghttp2's per-thread block cache. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/grpc/h2_mem.h"

#define M(n) (mem->malloc((n), mem->mem_user_data))
#define F(p) (mem->free((p), mem->mem_user_data))

static void test_blocks_reused_by_class(void **state)
{
	nghttp2_mem *mem = cam_grpc_h2_mem();
	size_t kept = cam_grpc_h2_mem_kept();
	unsigned char *a = M(40), *b;

	(void)state;
	assert_non_null(a);
	assert_int_equal((uintptr_t)a % 16, 0);
	memset(a, 0xab, 40);
	F(a);
	assert_int_equal(cam_grpc_h2_mem_kept(), kept + 1);
	b = M(64); /* same class (33..64 bytes): the same block */
	assert_ptr_equal(a, b);
	assert_int_equal(cam_grpc_h2_mem_kept(), kept);
	memset(b, 0, 64);
	F(b);
	b = M(65); /* the next class: another block */
	assert_ptr_not_equal(a, b);
	F(b);
	F(NULL);
}

static void test_large_blocks_not_kept(void **state)
{
	nghttp2_mem *mem = cam_grpc_h2_mem();
	size_t kept = cam_grpc_h2_mem_kept();
	unsigned char *p = M(100000);

	(void)state;
	assert_non_null(p);
	memset(p, 1, 100000);
	F(p);
	assert_int_equal(cam_grpc_h2_mem_kept(), kept);
}

static void test_calloc_and_realloc(void **state)
{
	nghttp2_mem *mem = cam_grpc_h2_mem();
	unsigned char *p, *q;

	(void)state;
	p = M(100);
	memset(p, 0xff, 100);
	F(p);
	p = mem->calloc(10, 10, mem->mem_user_data); /* may be the block just freed */
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(p[i], 0);
	for (size_t i = 0; i < 100; i++)
		p[i] = (unsigned char)i;
	q = mem->realloc(p, 120, mem->mem_user_data); /* fits its 128-byte class */
	assert_ptr_equal(p, q);
	q = mem->realloc(p, 5000, mem->mem_user_data); /* moves, keeps the bytes */
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(q[i], i);
	q = mem->realloc(q, 200000, mem->mem_user_data); /* large to larger */
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(q[i], i);
	F(q);
	assert_null(mem->calloc(SIZE_MAX / 2, 4, mem->mem_user_data));
	assert_null(M(SIZE_MAX - 8));
	p = mem->realloc(NULL, 10, mem->mem_user_data);
	assert_non_null(p);
	assert_null(mem->realloc(p, 0, mem->mem_user_data)); /* frees */
}

static void test_keeps_at_most_the_bound(void **state)
{
	nghttp2_mem *mem = cam_grpc_h2_mem();
	void *p[CAM_H2_MEM_KEEP + 10];
	size_t kept;

	(void)state;
	for (size_t i = 0; i < CAM_H2_MEM_KEEP + 10; i++)
		p[i] = M(300);
	kept = cam_grpc_h2_mem_kept();
	for (size_t i = 0; i < CAM_H2_MEM_KEEP + 10; i++)
		F(p[i]);
	assert_true(cam_grpc_h2_mem_kept() <= kept + CAM_H2_MEM_KEEP);
	assert_true(cam_grpc_h2_mem_kept() >= CAM_H2_MEM_KEEP);
}

/* A block allocated on one thread and freed on another joins the second
 * thread's lists, which that thread gives back when it exits (the leak
 * checker of the sanitizer build would report it otherwise). */
static void *free_on_other_thread(void *arg)
{
	nghttp2_mem *mem = cam_grpc_h2_mem();
	void **blocks = arg;

	for (size_t i = 0; i < 8; i++)
		F(blocks[i]);
	*(size_t *)blocks[8] = cam_grpc_h2_mem_kept();
	return NULL;
}

static void test_cross_thread_free_and_exit(void **state)
{
	nghttp2_mem *mem = cam_grpc_h2_mem();
	size_t kept_there = 0, kept_here;
	void *blocks[9];
	pthread_t t;

	(void)state;
	for (size_t i = 0; i < 8; i++)
		blocks[i] = M(16 << i % 6);
	kept_here = cam_grpc_h2_mem_kept();
	blocks[8] = &kept_there;
	assert_int_equal(pthread_create(&t, NULL, free_on_other_thread, blocks), 0);
	pthread_join(t, NULL);
	assert_int_equal(kept_there, 8);
	assert_int_equal(cam_grpc_h2_mem_kept(), kept_here);
}

/* A real nghttp2 session runs on it: a client session and a server session
 * exchange a request and its answer through memory. */
struct side {
	nghttp2_session *peer;
	int closed;
};

static ssize_t to_peer(nghttp2_session *s, const uint8_t *data, size_t len, int flags,
		       void *ud)
{
	struct side *me = ud;

	(void)s;
	(void)flags;
	return nghttp2_session_mem_recv(me->peer, data, len) < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE
								 : (ssize_t)len;
}

static int on_request(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	static const nghttp2_nv status[] = {
		{ (uint8_t *)":status", (uint8_t *)"204", 7, 3, NGHTTP2_NV_FLAG_NONE } };

	(void)ud;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		return nghttp2_submit_response(s, f->hd.stream_id, status, 1, NULL);
	return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	(void)s;
	(void)code;
	if (id == 1)
		((struct side *)ud)->closed++;
	return 0;
}

static void test_sessions_run_on_it(void **state)
{
	nghttp2_session_callbacks *cb;
	nghttp2_session *client, *server;
	struct side cs = { 0 }, ss = { 0 };
	static const nghttp2_nv req[] = {
		{ (uint8_t *)":method", (uint8_t *)"GET", 7, 3, NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)":scheme", (uint8_t *)"http", 7, 4, NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)":path", (uint8_t *)"/", 5, 1, NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)":authority", (uint8_t *)"x", 10, 1, NGHTTP2_NV_FLAG_NONE },
	};

	(void)state;
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_send_callback(cb, to_peer);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_request);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	assert_int_equal(nghttp2_session_client_new3(&client, cb, &cs, NULL, cam_grpc_h2_mem()), 0);
	assert_int_equal(nghttp2_session_server_new3(&server, cb, &ss, NULL, cam_grpc_h2_mem()), 0);
	cs.peer = server;
	ss.peer = client;
	assert_int_equal(nghttp2_submit_settings(client, 0, NULL, 0), 0);
	assert_int_equal(nghttp2_submit_settings(server, 0, NULL, 0), 0);
	assert_int_equal(nghttp2_submit_request(client, NULL, req, 4, NULL, NULL), 1);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(nghttp2_session_send(client), 0);
		assert_int_equal(nghttp2_session_send(server), 0);
	}
	assert_int_equal(cs.closed, 1); /* the client got the answer, END_STREAM */
	assert_int_equal(ss.closed, 1);
	nghttp2_session_del(client);
	nghttp2_session_del(server);
	nghttp2_session_callbacks_del(cb);
	assert_true(cam_grpc_h2_mem_kept() > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocks_reused_by_class),
		cmocka_unit_test(test_large_blocks_not_kept),
		cmocka_unit_test(test_calloc_and_realloc),
		cmocka_unit_test(test_keeps_at_most_the_bound),
		cmocka_unit_test(test_cross_thread_free_and_exit),
		cmocka_unit_test(test_sessions_run_on_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
