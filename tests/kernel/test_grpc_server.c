/*
 * Unit tests of the gRPC transport (kernel/grpc/server.c, pool.c): a real
 * server on a loopback port driven by a small blocking nghttp2 client, so
 * the sanitizer builds walk the I/O thread, the hand-off and the hand-back.
 * The interop suites (tests/interop) test against independent clients.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <nghttp2/nghttp2.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/error.h"
#include "common/metrics.h"
#include "kernel/grpc/pool.h"
#include "kernel/grpc/server.h"
#include "kernel/grpc/wire.h"

/* ---- a minimal blocking client ----------------------------------------- */

/* The body of one request stream. */
struct body_src {
	const uint8_t *data;
	size_t len, off;
};

struct client {
	int fd;
	nghttp2_session *h2;
	struct body_src src;  /* for one-request helpers */
	int http_status, grpc_status, nmsg_headers;
	char grpc_message[256];
	uint8_t body[1 << 16];
	size_t body_len;
	bool closed, eof;
};

static ssize_t c_send(nghttp2_session *h2, const uint8_t *data, size_t len, int flags,
		      void *ud)
{
	struct client *c = ud;
	ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);

	(void)h2;
	(void)flags;
	return n < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

static int c_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
		    size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	struct client *c = ud;

	(void)h2;
	(void)frame;
	(void)flags;
	if (nlen == 7 && memcmp(name, ":status", 7) == 0)
		c->http_status = atoi((const char *)value);
	else if (nlen == 11 && memcmp(name, "grpc-status", 11) == 0)
		c->grpc_status = atoi((const char *)value);
	else if (nlen == 12 && memcmp(name, "grpc-message", 12) == 0)
		snprintf(c->grpc_message, sizeof(c->grpc_message), "%.*s", (int)vlen, value);
	return 0;
}

static int c_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
		  size_t len, void *ud)
{
	struct client *c = ud;

	(void)h2;
	(void)flags;
	(void)id;
	if (c->body_len + len <= sizeof(c->body)) {
		memcpy(c->body + c->body_len, data, len);
		c->body_len += len;
	}
	return 0;
}

static int c_close(nghttp2_session *h2, int32_t id, uint32_t err, void *ud)
{
	(void)h2;
	(void)id;
	(void)err;
	((struct client *)ud)->closed = true;
	return 0;
}

static ssize_t c_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
		      uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct body_src *b = src->ptr;
	size_t n = b->len - b->off;

	(void)h2;
	(void)id;
	(void)ud;
	if (n > len)
		n = len;
	if (n)
		memcpy(buf, b->data + b->off, n);
	b->off += n;
	if (b->off == b->len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int tcp_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void client_open(struct client *c, int port)
{
	nghttp2_session_callbacks *cb;

	memset(c, 0, sizeof(*c));
	c->grpc_status = -1;
	c->fd = tcp_connect(port);
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_send_callback(cb, c_send);
	nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_close);
	assert_int_equal(nghttp2_session_client_new(&c->h2, cb, c), 0);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, NULL, 0);
}

static void client_close(struct client *c)
{
	nghttp2_session_del(c->h2);
	close(c->fd);
}

/* Sends what is pending and reads for up to ms; stops once closed. */
static void client_pump(struct client *c, int ms)
{
	uint8_t buf[16384];
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	while (!c->closed && !c->eof) {
		ssize_t n;

		assert_int_equal(nghttp2_session_send(c->h2), 0);
		if (poll(&p, 1, ms) <= 0)
			return;
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n <= 0) {
			c->eof = true;
			return;
		}
		assert_true(nghttp2_session_mem_recv(c->h2, buf, (size_t)n) == n);
	}
	nghttp2_session_send(c->h2);
}

#define HDR(n, v) { (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), 0 }

static int32_t client_request_src(struct client *c, const char *path,
				  struct body_src *b, const char *hname,
				  const char *hvalue)
{
	nghttp2_nv nv[7] = {
		HDR(":method", "POST"), HDR(":scheme", "http"), HDR(":path", path),
		HDR(":authority", "localhost"), HDR("content-type", "application/grpc"),
		HDR("te", "trailers"),
	};
	nghttp2_data_provider prd = { .source.ptr = b, .read_callback = c_read };
	size_t n = 6;

	if (hname) {
		nghttp2_nv extra = HDR(hname, hvalue);

		nv[n++] = extra;
	}
	return nghttp2_submit_request(c->h2, NULL, nv, n, &prd, NULL);
}

static int32_t client_request(struct client *c, const char *path, const uint8_t *body,
			      size_t len, const char *hname, const char *hvalue)
{
	c->src = (struct body_src){ body, len, 0 };
	return client_request_src(c, path, &c->src, hname, hvalue);
}

/* One framed message into out; returns its length. */
static size_t frame(uint8_t *out, const void *msg, size_t len, uint8_t flags)
{
	cam_grpc_wire_put_header(out, len);
	out[0] = flags;
	memcpy(out + CAM_GRPC_WIRE_HEADER, msg, len);
	return CAM_GRPC_WIRE_HEADER + len;
}

static void rpc(int port, const char *path, const uint8_t *body, size_t len,
		const char *hname, const char *hvalue, struct client *c)
{
	client_open(c, port);
	assert_true(client_request(c, path, body, len, hname, hvalue) > 0);
	client_pump(c, 5000);
	assert_true(c->closed);
	client_close(c);
}

/* ---- the server under test --------------------------------------------- */

static atomic_int handler_started;

static void echo(void *arg, struct cam_grpc_call *c)
{
	size_t len;
	const uint8_t *msg = cam_grpc_call_message(c, &len);

	(void)arg;
	assert_non_null(cam_grpc_call_peer(c));
	assert_string_equal(cam_grpc_call_method(c), "/t.S/Echo");
	if (cam_grpc_call_metadata(c, "x-fail")) {
		cam_grpc_call_fail(c, CAM_GRPC_INVALID_ARGUMENT, "bad: 100%\n");
		return;
	}
	cam_grpc_call_reply(c, msg, len);
}

static void slow(void *arg, struct cam_grpc_call *c)
{
	struct timespec ts = { 0, 5 * 1000000L };

	(void)arg;
	atomic_store(&handler_started, 1);
	/* Until cancelled, or 2 s. */
	for (int i = 0; i < 400 && !cam_grpc_call_cancelled(c); i++)
		nanosleep(&ts, NULL);
	cam_grpc_call_reply(c, (const uint8_t *)"late", 4);
}

static void stream_msg(void *arg, struct cam_grpc_call *c, const uint8_t *msg, size_t len)
{
	(void)arg;
	assert_int_equal(cam_grpc_call_send(c, msg, len), 0);
}

static void stream_half_close(void *arg, struct cam_grpc_call *c)
{
	(void)arg;
	cam_grpc_call_end(c, CAM_GRPC_OK, NULL);
	assert_int_equal(cam_grpc_call_send(c, (const uint8_t *)"x", 1), CAM_ECLOSED);
}

static const struct cam_grpc_stream_ops stream_ops = {
	.on_message = stream_msg,
	.on_half_close = stream_half_close,
};

static int setup(void **state)
{
	struct cam_grpc_server_opts o = { .listen = "127.0.0.1:0", .workers = 2,
					  .max_msg_bytes = 1024, .drain_ms = 1000 };
	cam_grpc_server *s;

	if (cam_grpc_server_new(&o, &s) ||
	    cam_grpc_server_add_method(s, "/t.S/Echo", echo, NULL) ||
	    cam_grpc_server_add_method(s, "/t.S/Slow", slow, NULL) ||
	    cam_grpc_server_add_stream_method(s, "/t.S/Stream", &stream_ops, NULL) ||
	    cam_grpc_server_start(s))
		return -1;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	cam_grpc_server_free(*state);
	return 0;
}

static void test_unary_echo(void **state)
{
	cam_grpc_server *s = *state;
	uint8_t body[64], want[64];
	size_t n = frame(body, "hello", 5, 0);
	struct client c;

	rpc(cam_grpc_server_port(s), "/t.S/Echo", body, n, NULL, NULL, &c);
	assert_int_equal(c.http_status, 200);
	assert_int_equal(c.grpc_status, 0);
	assert_int_equal(c.body_len, frame(want, "hello", 5, 0));
	assert_memory_equal(c.body, want, c.body_len);
}

static void test_fail_message_encoded(void **state)
{
	cam_grpc_server *s = *state;
	uint8_t body[64];
	size_t n = frame(body, "x", 1, 0);
	struct client c;

	rpc(cam_grpc_server_port(s), "/t.S/Echo", body, n, "x-fail", "1", &c);
	assert_int_equal(c.grpc_status, CAM_GRPC_INVALID_ARGUMENT);
	assert_string_equal(c.grpc_message, "bad: 100%25%0A");
	assert_int_equal(c.body_len, 0);
}

static void test_unknown_method(void **state)
{
	cam_grpc_server *s = *state;
	uint8_t body[64];
	size_t n = frame(body, "x", 1, 0);
	struct client c;

	rpc(cam_grpc_server_port(s), "/t.S/Nope", body, n, NULL, NULL, &c);
	assert_int_equal(c.http_status, 200);
	assert_int_equal(c.grpc_status, CAM_GRPC_UNIMPLEMENTED);
}

static void test_too_large(void **state)
{
	cam_grpc_server *s = *state;
	static uint8_t body[4096], big[2000];
	size_t n = frame(body, big, sizeof(big), 0);
	struct client c;

	rpc(cam_grpc_server_port(s), "/t.S/Echo", body, n, NULL, NULL, &c);
	assert_int_equal(c.grpc_status, CAM_GRPC_RESOURCE_EXHAUSTED);
}

static void test_no_message(void **state)
{
	cam_grpc_server *s = *state;
	struct client c;

	rpc(cam_grpc_server_port(s), "/t.S/Echo", NULL, 0, NULL, NULL, &c);
	assert_int_equal(c.grpc_status, CAM_GRPC_UNIMPLEMENTED);
}

static void test_deadline(void **state)
{
	cam_grpc_server *s = *state;
	uint8_t body[64];
	size_t n = frame(body, "x", 1, 0);
	struct timespec t0, t1;
	struct client c;

	/* The server answers at the deadline, while the handler still runs. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rpc(cam_grpc_server_port(s), "/t.S/Slow", body, n, "grpc-timeout", "20m", &c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(c.grpc_status, CAM_GRPC_DEADLINE_EXCEEDED);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000);
	rpc(cam_grpc_server_port(s), "/t.S/Echo", body, n, "grpc-timeout", "0n", &c);
	assert_int_equal(c.grpc_status, CAM_GRPC_DEADLINE_EXCEEDED);
	rpc(cam_grpc_server_port(s), "/t.S/Echo", body, n, "grpc-timeout", "bogus", &c);
	assert_int_equal(c.grpc_status, CAM_GRPC_INTERNAL);
	rpc(cam_grpc_server_port(s), "/t.S/Echo", body, n, "grpc-timeout", "10S", &c);
	assert_int_equal(c.grpc_status, CAM_GRPC_OK);
}

static void test_compression(void **state)
{
	cam_grpc_server *s = *state;
	uint8_t body[256], packed[128], want[64];
	z_stream z;
	size_t n;
	struct client c;

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)"zipped";
	z.avail_in = 6;
	z.next_out = packed;
	z.avail_out = sizeof(packed);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	n = frame(body, packed, z.total_out, 1);
	rpc(cam_grpc_server_port(s), "/t.S/Echo", body, n, "grpc-encoding", "gzip", &c);
	assert_int_equal(c.grpc_status, CAM_GRPC_OK);
	assert_memory_equal(c.body, want, frame(want, "zipped", 6, 0));
	rpc(cam_grpc_server_port(s), "/t.S/Echo", body, n, NULL, NULL, &c);
	assert_int_equal(c.grpc_status, CAM_GRPC_INTERNAL);
	rpc(cam_grpc_server_port(s), "/t.S/Echo", body, n, "grpc-encoding", "br", &c);
	assert_int_equal(c.grpc_status, CAM_GRPC_UNIMPLEMENTED);
}

static void test_stream_method(void **state)
{
	cam_grpc_server *s = *state;
	uint8_t body[64];
	size_t n = frame(body, "one", 3, 0);
	struct client c;

	n += frame(body + n, "two!", 4, 0);
	rpc(cam_grpc_server_port(s), "/t.S/Stream", body, n, NULL, NULL, &c);
	assert_int_equal(c.grpc_status, 0);
	assert_int_equal(c.body_len, n);
	assert_memory_equal(c.body, body, n);
}

static void wait_streams_zero(cam_grpc_server *s)
{
	struct cam_grpc_server_stats st;
	struct timespec ts = { 0, 5 * 1000000L };

	for (int i = 0; i < 400; i++) {
		cam_grpc_server_stats(s, &st);
		if (st.streams == 0)
			return;
		nanosleep(&ts, NULL);
	}
	fail_msg("streams still open: %llu", (unsigned long long)st.streams);
}

static void test_cancel(void **state)
{
	cam_grpc_server *s = *state;
	uint8_t body[64];
	size_t n = frame(body, "x", 1, 0);
	struct timespec ts = { 0, 1000000L };
	struct client c;
	int32_t id;

	atomic_store(&handler_started, 0);
	client_open(&c, cam_grpc_server_port(s));
	id = client_request(&c, "/t.S/Slow", body, n, NULL, NULL);
	assert_true(id > 0);
	for (int i = 0; i < 2000 && !atomic_load(&handler_started); i++) {
		client_pump(&c, 1);
		nanosleep(&ts, NULL);
	}
	assert_true(atomic_load(&handler_started));
	nghttp2_submit_rst_stream(c.h2, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
	client_pump(&c, 50);
	wait_streams_zero(s);
	client_close(&c);
}

static void test_garbage_closes(void **state)
{
	cam_grpc_server *s = *state;
	int fd = tcp_connect(cam_grpc_server_port(s));
	static const char http1[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[256];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t body[64];
	struct client c;

	assert_int_equal(send(fd, http1, sizeof(http1) - 1, 0), (ssize_t)sizeof(http1) - 1);
	assert_int_equal(poll(&p, 1, 3000), 1);
	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
	close(fd);
	rpc(cam_grpc_server_port(s), "/t.S/Echo", body, frame(body, "ok", 2, 0), NULL, NULL, &c);
	assert_int_equal(c.grpc_status, 0);
}

static void test_many_streams(void **state)
{
	cam_grpc_server *s = *state;
	uint8_t body[64];
	size_t n = frame(body, "m", 1, 0);
	static struct body_src src[200];
	struct client c;

	client_open(&c, cam_grpc_server_port(s));
	for (int i = 0; i < 200; i++) {
		src[i] = (struct body_src){ body, n, 0 };
		assert_true(client_request_src(&c, "/t.S/Echo", &src[i], NULL, NULL) > 0);
	}
	for (int i = 0; i < 2000 && c.body_len < 200 * n; i++) {
		c.closed = false; /* each stream's close stops the pump */
		client_pump(&c, 100);
	}
	assert_int_equal(c.body_len, 200 * n);
	client_close(&c);
}

static void test_lifecycle(void **state)
{
	struct cam_grpc_server_opts o = { .listen = "not an address" };
	struct cam_grpc_server_opts busy = { .listen = "127.0.0.1:0" };
	char addr[64];
	cam_grpc_server *s, *t;

	(void)state;
	cam_grpc_server_free(NULL);
	assert_int_equal(cam_grpc_server_new(NULL, &s), CAM_EINVAL);
	assert_int_equal(cam_grpc_server_new(&o, &s), 0);
	assert_non_null(cam_family_find("cam_os_grpc_connections"));
	assert_non_null(cam_family_find("cam_os_grpc_streams_in_flight"));
	assert_non_null(cam_family_find("cam_os_grpc_protocol_errors_total"));
	assert_non_null(cam_family_find("cam_os_grpc_messages_too_large_total"));
	assert_int_equal(cam_grpc_server_add_method(s, "no-slash", echo, NULL), CAM_EINVAL);
	assert_int_equal(cam_grpc_server_add_method(s, "/a/b", echo, NULL), 0);
	assert_int_equal(cam_grpc_server_add_method(s, "/a/b", echo, NULL), CAM_EEXIST);
	assert_int_equal(cam_grpc_server_start(s), CAM_EINVAL);
	cam_grpc_server_free(s);

	/* A port in use is an error from start. */
	assert_int_equal(cam_grpc_server_new(&busy, &s), 0);
	assert_int_equal(cam_grpc_server_start(s), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", cam_grpc_server_port(s));
	busy.listen = addr;
	assert_int_equal(cam_grpc_server_new(&busy, &t), 0);
	assert_true(cam_grpc_server_start(t) < 0);
	cam_grpc_server_free(t);
	cam_grpc_server_shutdown(s);
	cam_grpc_server_shutdown(s);
	cam_grpc_server_free(s);

	/* IPv6 loopback, when the machine has it. */
	busy.listen = "[::1]:0";
	assert_int_equal(cam_grpc_server_new(&busy, &s), 0);
	if (cam_grpc_server_start(s) == 0)
		assert_true(cam_grpc_server_port(s) > 0);
	cam_grpc_server_free(s);
}

struct counted {
	struct cam_grpc_task task;
	atomic_int *count;
};

static void count_run(struct cam_grpc_task *t)
{
	struct counted *c = (struct counted *)t;

	atomic_fetch_add(c->count, 1);
}

static void test_pool(void **state)
{
	static struct counted tasks[1000];
	atomic_int count = 0;
	cam_grpc_pool *p;

	(void)state;
	assert_int_equal(cam_grpc_pool_new(3, &p), 0);
	for (int i = 0; i < 1000; i++) {
		tasks[i].task.run = count_run;
		tasks[i].count = &count;
		cam_grpc_pool_submit(p, &tasks[i].task);
	}
	cam_grpc_pool_stop(p);
	assert_int_equal(atomic_load(&count), 1000);
	/* After stop, tasks run on the caller's thread. */
	cam_grpc_pool_submit(p, &tasks[0].task);
	assert_int_equal(atomic_load(&count), 1001);
	assert_int_equal(cam_grpc_pool_queued(p), 0);
	cam_grpc_pool_free(p);
	cam_grpc_pool_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unary_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_message_encoded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_method, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compression, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_method, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_streams, setup, teardown),
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
