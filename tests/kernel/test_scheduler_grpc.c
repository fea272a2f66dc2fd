/*
 * The scheduler behind the real gRPC transport: a server whose executor
 * is the scheduler, driven by a small nghttp2 client over loopback, so the
 * sanitizer builds walk the refusal of a full queue on the I/O thread and
 * the drop of a call whose deadline passed in the queue (answered by the
 * transport, released by the worker, its handler never run, nothing
 * leaked). tests/integration/test_scheduler.sh does the same with grpcio.
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
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "kernel/grpc/pool.h"
#include "kernel/grpc/server.h"
#include "kernel/scheduler/scheduler.h"

/* ---- a client with several streams on one connection -------------------- */

#define MAX_STREAMS 8

struct stream {
	int32_t id;
	int grpc_status;
	bool closed;
	uint8_t body[6]; /* a framed one-byte message: the priority */
	size_t off;
};

struct client {
	int fd;
	nghttp2_session *h2;
	struct stream s[MAX_STREAMS];
	int n;
};

static struct stream *find(struct client *c, int32_t id)
{
	for (int i = 0; i < c->n; i++)
		if (c->s[i].id == id)
			return &c->s[i];
	return NULL;
}

static ssize_t c_send(nghttp2_session *h2, const uint8_t *data, size_t len, int flags,
		      void *ud)
{
	ssize_t n = send(((struct client *)ud)->fd, data, len, MSG_NOSIGNAL);

	(void)h2;
	(void)flags;
	return n < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

static int c_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
		    size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	struct stream *st = find(ud, frame->hd.stream_id);

	(void)h2;
	(void)vlen;
	(void)flags;
	if (st && nlen == 11 && memcmp(name, "grpc-status", 11) == 0)
		st->grpc_status = atoi((const char *)value);
	return 0;
}

static int c_close(nghttp2_session *h2, int32_t id, uint32_t err, void *ud)
{
	struct stream *st = find(ud, id);

	(void)h2;
	(void)err;
	if (st)
		st->closed = true;
	return 0;
}

static ssize_t c_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
		      uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct stream *st = src->ptr;
	size_t n = sizeof(st->body) - st->off;

	(void)h2;
	(void)id;
	(void)ud;
	if (n > len)
		n = len;
	memcpy(buf, st->body + st->off, n);
	st->off += n;
	if (st->off == sizeof(st->body))
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static void client_open(struct client *c, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	nghttp2_session_callbacks *cb;

	memset(c, 0, sizeof(*c));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->fd >= 0);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_send_callback(cb, c_send);
	nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
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

#define HDR(n, v) { (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), 0 }

/* Starts a call of path whose message is one byte, the priority. */
static struct stream *call(struct client *c, const char *path, uint8_t priority,
			   const char *timeout)
{
	struct stream *st = &c->s[c->n++];
	nghttp2_nv nv[7] = {
		HDR(":method", "POST"), HDR(":scheme", "http"), HDR(":path", path),
		HDR(":authority", "localhost"), HDR("content-type", "application/grpc"),
		HDR("te", "trailers"), HDR("grpc-timeout", timeout ? timeout : "10S"),
	};
	nghttp2_data_provider prd = { .source.ptr = st, .read_callback = c_read };

	st->grpc_status = -1;
	memcpy(st->body, "\0\0\0\0\1", 5);
	st->body[5] = priority;
	st->id = nghttp2_submit_request(c->h2, NULL, nv, 7, &prd, NULL);
	assert_true(st->id > 0);
	return st;
}

/* Sends and reads for up to ms, or until st (when given) is closed. */
static void pump(struct client *c, int ms, const struct stream *st)
{
	uint8_t buf[16384];
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int64_t end;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 + ms;
	for (;;) {
		ssize_t n;
		int64_t left;

		assert_int_equal(nghttp2_session_send(c->h2), 0);
		if (st && st->closed)
			return;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		left = end - (ts.tv_sec * 1000LL + ts.tv_nsec / 1000000);
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return;
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return;
		assert_true(nghttp2_session_mem_recv(c->h2, buf, (size_t)n) == n);
	}
}

/* ---- the server --------------------------------------------------------- */

static atomic_int held, release, ran;

/* Keeps its worker until released. */
static void hold(void *arg, struct cam_grpc_call *c)
{
	(void)arg;
	atomic_store(&held, 1);
	while (!atomic_load(&release))
		usleep(1000);
	cam_grpc_call_reply(c, (const uint8_t *)"h", 1);
}

static void work(void *arg, struct cam_grpc_call *c)
{
	const struct cam_grpc_task *t = cam_grpc_call_task(c);

	(void)arg;
	atomic_fetch_add(&ran, 1);
	/* What the scheduler decided is there for the handler. */
	assert_true(t->sched.dequeued_ns >= t->sched.enqueued_ns);
	cam_grpc_call_reply(c, (const uint8_t *)"w", 1);
}

/* The priority is the message's one byte. */
static void classify(void *arg, const struct cam_grpc_call *call, const uint8_t *msg, size_t len,
		     struct cam_grpc_sched *out)
{
	(void)arg;
	(void)call;
	if (len == 1 && msg[0] <= 9)
		out->priority = msg[0];
}

static void test_full_and_expired(void **state)
{
	struct cam_sched_opts so = { .decisions = 16 };
	struct cam_grpc_server_opts go = { .listen = "127.0.0.1:0", .drain_ms = 1000 };
	struct cam_sched_stats st;
	cam_grpc_server *srv;
	cam_sched *sched;
	struct client c;
	struct stream *a, *low[3], *late, *high;

	(void)state;
	cam_sched_default_settings(&so.settings);
	so.settings.workers = 1;
	for (int i = 0; i < 3; i++) {
		so.settings.queue_limit[i] = 2;
		so.settings.queue_limit_per_caller[i] = 2; /* one caller: the class */
	}
	assert_int_equal(cam_sched_new(&so, &sched), 0);
	go.executor = cam_sched_executor(sched);
	assert_int_equal(cam_grpc_server_new(&go, &srv), 0);
	assert_int_equal(cam_grpc_server_add_method(srv, "/t.S/Hold", hold, NULL), 0);
	assert_int_equal(cam_grpc_server_add_method(srv, "/t.S/Work", work, NULL), 0);
	assert_int_equal(cam_grpc_server_set_classifier(srv, "/t.S/Work", classify, NULL), 0);
	assert_int_equal(cam_grpc_server_set_classifier(srv, "/t.S/None", classify, NULL),
			 CAM_ENOENT);
	assert_int_equal(cam_grpc_server_start(srv), 0);
	assert_int_equal(cam_grpc_server_set_classifier(srv, "/t.S/Work", classify, NULL),
			 CAM_EINVAL);

	client_open(&c, cam_grpc_server_port(srv));
	a = call(&c, "/t.S/Hold", 5, NULL);
	for (int i = 0; i < 500 && !atomic_load(&held); i++)
		pump(&c, 2, NULL);
	assert_int_equal(atomic_load(&held), 1);

	/* Low holds two; the third is refused at once. */
	low[0] = call(&c, "/t.S/Work", 1, NULL);
	low[1] = call(&c, "/t.S/Work", 0, NULL);
	pump(&c, 50, NULL);
	low[2] = call(&c, "/t.S/Work", 2, NULL);
	pump(&c, 2000, low[2]);
	assert_true(low[2]->closed);
	assert_int_equal(low[2]->grpc_status, CAM_GRPC_RESOURCE_EXHAUSTED);

	/* A high call that times out in the queue: answered by the transport. */
	late = call(&c, "/t.S/Work", 8, "50m");
	pump(&c, 2000, late);
	assert_true(late->closed);
	assert_int_equal(late->grpc_status, CAM_GRPC_DEADLINE_EXCEEDED);
	high = call(&c, "/t.S/Work", 9, NULL);
	pump(&c, 50, NULL);
	cam_sched_get_stats(sched, &st);
	assert_int_equal(st.queued[CAM_SCHED_LOW], 2);
	assert_int_equal(st.queued[CAM_SCHED_HIGH], 2);
	assert_int_equal(st.rejected_full, 1);

	atomic_store(&release, 1);
	for (int i = 0; i < 500 && !(a->closed && low[0]->closed && low[1]->closed &&
				    high->closed); i++)
		pump(&c, 10, NULL);
	assert_int_equal(a->grpc_status, 0);
	assert_int_equal(low[0]->grpc_status, 0);
	assert_int_equal(low[1]->grpc_status, 0);
	assert_int_equal(high->grpc_status, 0);
	/* The expired call was dropped, never run: 2 low + 1 high ran. */
	assert_int_equal(atomic_load(&ran), 3);
	cam_sched_get_stats(sched, &st);
	assert_int_equal(st.rejected_deadline, 1);
	client_close(&c);
	cam_grpc_server_free(srv);
	cam_sched_free(sched);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_and_expired),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
