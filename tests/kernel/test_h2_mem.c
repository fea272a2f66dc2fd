/* Unit tests of kernel/grpc/h2_mem.c: nghttp2 sessions on the per-thread
 * free lists of common/tcache.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/tcache.h"
#include "kernel/grpc/h2_mem.h"

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
	assert_true(cam_tcache_kept() > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sessions_run_on_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
