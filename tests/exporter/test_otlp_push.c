/*
 * Tests of exporter/otlp_push.c and otlp_post.c against a real HTTP server
 * on loopback (a thread of this test answering each request with the next
 * status of a script): requests sent in order and counted, 429 with
 * Retry-After honoured, a refusal dropped and counted, the byte bound
 * dropping the oldest while the server fails, what is left counted at
 * stop. Runs under TSan too (make unit-tsan).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "exporter/otlp_push.h"

#define MAX_REQ 64

struct server {
	int fd;
	int port;
	pthread_t thread;
	const int *script; /* statuses, 0-terminated; then 200 */
	atomic_int served;
	uint64_t at_ms[MAX_REQ];
	char first_byte[MAX_REQ];
	char header[128]; /* the x-api-key header seen */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Reads one request (headers, then Content-Length bytes); 0 on EOF. */
static int read_request(int c, struct server *s, int n)
{
	char buf[65536];
	size_t used = 0, body = 0;
	char *end = NULL, *cl;
	ssize_t r;

	while (!end) {
		r = read(c, buf + used, sizeof(buf) - 1 - used);
		if (r <= 0)
			return 0;
		used += (size_t)r;
		buf[used] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	cl = strcasestr(buf, "content-length:");
	body = cl ? strtoul(cl + 15, NULL, 10) : 0;
	if (n == 0 && strcasestr(buf, "x-api-key:"))
		sscanf(strcasestr(buf, "x-api-key:") + 10, " %127[^\r]", s->header);
	if (n < MAX_REQ)
		s->first_byte[n] = used > (size_t)(end + 4 - buf) ? end[4] : 0;
	used -= (size_t)(end + 4 - buf);
	while (used < body) {
		r = read(c, buf, sizeof(buf));
		if (r <= 0)
			return 0;
		used += (size_t)r;
	}
	return 1;
}

static void *serve(void *arg)
{
	struct server *s = arg;
	int c;

	while ((c = accept(s->fd, NULL, NULL)) >= 0) {
		int n;

		while ((n = atomic_load(&s->served)) < MAX_REQ && read_request(c, s, n)) {
			int status = 200;
			char out[256];
			int k = 0;

			for (k = 0; k <= n && s->script[k]; k++)
				;
			if (k > n)
				status = s->script[n];
			s->at_ms[n] = now_ms();
			snprintf(out, sizeof(out),
				 "HTTP/1.1 %d X\r\nContent-Length: 0\r\n%s\r\n", status,
				 status == 429 ? "Retry-After: 1\r\n" : "");
			atomic_fetch_add(&s->served, 1);
			if (write(c, out, strlen(out)) < 0)
				break;
		}
		close(c);
	}
	return NULL;
}

static void server_start(struct server *s, const int *script)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->script = script;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	getsockname(s->fd, (struct sockaddr *)&a, &len);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	pthread_join(s->thread, NULL);
}

/* The producer: one request of 1000 bytes carrying 10 items, starting with
 * 'a', 'b', ... up to `limit` of them. */
struct producer {
	atomic_int made;
	int limit;
};

static void produce(void *arg, cam_otlp_push *p, bool final)
{
	struct producer *pr = arg;
	char body[1000];
	int n = atomic_load(&pr->made);

	if (final || n >= pr->limit)
		return;
	memset(body, 'a' + n, sizeof(body));
	cam_otlp_push_enqueue(p, body, sizeof(body), 10);
	atomic_fetch_add(&pr->made, 1);
}

static cam_otlp_push *start(struct server *s, struct producer *pr, char *url, size_t queue,
			    struct cam_otlp_kv_list *headers)
{
	const struct cam_curl_lib *cl = cam_curl_lib(NULL, 0);
	struct cam_otlp_push_config c = {
		.signal = CAM_OTLP_METRICS,
		.post = { .url = url, .headers = headers, .timeout_ms = 2000 },
		.queue_bytes = queue,
		.period_ms = 50,
		.retry_max_ms = 200,
		.produce = produce,
		.arg = pr,
	};
	cam_otlp_push *p = NULL;
	char err[128];

	if (!cl)
		skip();
	cl->global_init(CURL_GLOBAL_DEFAULT);
	snprintf(url, 64, "http://127.0.0.1:%d/v1/metrics", s->port);
	assert_int_equal(cam_otlp_push_start(&c, cl, &p, err, sizeof(err)), 0);
	return p;
}

static void wait_stats(cam_otlp_push *p, struct cam_otlp_push_stats *st, uint64_t want_sent,
		       uint64_t want_failed)
{
	for (int i = 0; i < 600; i++) {
		cam_otlp_push_stats(p, st);
		if (st->requests_sent >= want_sent && st->failed >= want_failed)
			return;
		usleep(10 * 1000);
	}
	fail_msg("sent %llu failed %llu", (unsigned long long)st->requests_sent,
		 (unsigned long long)st->failed);
}

static void test_sends_in_order_with_headers(void **state)
{
	static const int script[] = { 0 };
	struct producer pr = { .limit = 3 };
	struct cam_otlp_kv_list h = { 0 };
	struct cam_otlp_push_stats st;
	struct server s;
	char url[64], err[64];
	cam_otlp_push *p;

	(void)state;
	assert_int_equal(cam_otlp_kv_parse(&h, "x-api-key=s3cret", "t", err, sizeof(err)), 0);
	server_start(&s, script);
	p = start(&s, &pr, url, 1 << 20, &h);
	wait_stats(p, &st, 3, 0);
	assert_int_equal(st.exported, 30);
	assert_int_equal(st.last_status, 200);
	cam_otlp_push_stop(p);
	server_stop(&s);
	assert_string_equal(s.header, "s3cret");
	assert_int_equal(s.first_byte[0], 'a');
	assert_int_equal(s.first_byte[1], 'b');
	assert_int_equal(s.first_byte[2], 'c');
	cam_otlp_kv_free(&h);
}

static void test_retry_after_and_refusal(void **state)
{
	static const int script[] = { 429, 400, 0 };
	struct producer pr = { .limit = 3 };
	struct cam_otlp_push_stats st;
	struct server s;
	char url[64];
	cam_otlp_push *p;

	(void)state;
	server_start(&s, script);
	p = start(&s, &pr, url, 1 << 20, NULL);
	/* 'a' refused with 429 and sent again after Retry-After (1 s, past the
	 * 200 ms back-off ceiling): refused for good (400) that time; then 'b'
	 * and 'c' go through. */
	wait_stats(p, &st, 2, 10);
	cam_otlp_push_stop(p);
	server_stop(&s);
	assert_true(s.at_ms[1] - s.at_ms[0] >= 950);
	assert_int_equal(s.first_byte[0], 'a');
	assert_int_equal(s.first_byte[1], 'a');
	assert_int_equal(s.first_byte[2], 'b');
	assert_int_equal(st.retries, 1);
	assert_int_equal(st.failed, 10);
	assert_int_equal(st.exported, 20);
}

static void test_bound_while_failing_and_stop(void **state)
{
	static const int script[] = { 503, 503, 503, 503, 503, 503, 503, 503, 503, 503,
				      503, 503, 503, 503, 503, 503, 503, 503, 503, 503,
				      503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 0 };
	struct producer pr = { .limit = 12 };
	struct cam_otlp_push_stats st;
	struct server s;
	char url[64];
	cam_otlp_push *p;

	(void)state;
	server_start(&s, script);
	/* Room for 3 requests of 1000 bytes (the one in flight counts). */
	p = start(&s, &pr, url, 3000, NULL);
	for (int i = 0; i < 300 && atomic_load(&pr.made) < 12; i++)
		usleep(10 * 1000);
	cam_otlp_push_stats(p, &st);
	assert_true(st.queued_bytes <= 3000);
	assert_true(st.failed >= 80); /* at least 8 of the 12 dropped */
	assert_true(st.retries >= 1);
	assert_int_equal(st.exported, 0);
	cam_otlp_push_stop(p); /* failing: no last try, the rest counted lost */
	server_stop(&s);
	(void)st;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sends_in_order_with_headers),
		cmocka_unit_test(test_retry_after_and_refusal),
		cmocka_unit_test(test_bound_while_failing_and_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
