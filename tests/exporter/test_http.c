/*
 * Tests of exporter/http.c: the real server on a free loopback port (port
 * 0), spoken to over a plain socket. Snapshots are fed to the subscriber by
 * hand, with arrival times in the past to make them stale.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "exporter/http.h"
#include "tests/exporter/fixture.h"

#define S 1000000000ull

struct server {
	cam_subscriber *sub;
	struct cam_selfmetrics self;
	cam_http *http;
	uint16_t port;
};

struct reply {
	int status;
	char head[4096]; /* status line and headers, NUL-terminated */
	char *body;      /* NUL-terminated; body_len may include NULs */
	size_t body_len;
};

static void reply_free(struct reply *r)
{
	free(r->body);
	r->body = NULL;
}

/* Sends one request with Connection: close and reads the whole answer. */
static void request(uint16_t port, const char *method, const char *path,
		    const char *headers, struct reply *r)
{
	struct sockaddr_in a = {0};
	struct timeval tv = {5, 0};
	char req[1024], *buf = NULL, *end;
	size_t len = 0, cap = 0, head_len;
	ssize_t n;
	int fd;

	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
		 "%s\r\n", method, path, headers ? headers : "");
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		n = read(fd, buf + len, cap - len);
		assert_true(n >= 0);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	end = strstr(buf, "\r\n\r\n");
	assert_non_null(end);
	head_len = (size_t)(end - buf);
	assert_true(head_len < sizeof(r->head));
	memcpy(r->head, buf, head_len);
	r->head[head_len] = '\0';
	assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &r->status), 1);
	r->body_len = len - head_len - 4;
	r->body = malloc(r->body_len + 1);
	assert_non_null(r->body);
	memcpy(r->body, end + 4, r->body_len);
	r->body[r->body_len] = '\0';
	free(buf);
}

/* The value of header name in r ("" when absent; copied into out). */
static const char *header(const struct reply *r, const char *name,
			  char *out, size_t cap)
{
	const char *p = r->head;
	size_t n = strlen(name);

	out[0] = '\0';
	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			if (!e)
				e = v + strlen(v);
			snprintf(out, cap, "%.*s", (int)(e - v), v);
			break;
		}
	}
	return out;
}

static void start_server(struct server *s, bool profiling)
{
	struct cam_http_config hc = {
		.listen = "127.0.0.1:0",
		.profiling = profiling,
	};
	char err[256];

	cam_log_set_level(CAM_LOG_ERROR);
	cam_metrics_reset();
	memset(s, 0, sizeof(*s));
	assert_int_equal(cam_selfmetrics_register(&s->self), 0);
	s->sub = cam_subscriber_new(1000);
	hc.sub = s->sub;
	hc.self = &s->self;
	if (cam_http_start(&hc, &s->http, err, sizeof(err)) != 0)
		fail_msg("cam_http_start: %s", err);
	s->port = cam_http_port(s->http);
	assert_true(s->port > 0);
}

static void stop_server(struct server *s)
{
	cam_http_stop(s->http);
	cam_subscriber_free(s->sub);
}

/* Feeds a kernel snapshot that arrived `ago` seconds before now. */
static void feed_kernel(struct server *s, uint64_t seq, double ago,
			bool with_conflict)
{
	static const char *const verb[] = {"verb", NULL};
	static const char *const ping[] = {"ping", NULL};
	Cam__Bus__Snapshot *snap = fx_snapshot("k1", seq);
	Cam__Bus__Family *f;
	uint8_t *buf;
	size_t len;

	f = fx_family(snap, "cam_os_syscall_total", "Syscalls executed.",
		      CAM__BUS__METRIC_TYPE__COUNTER, verb);
	fx_series(f, ping, 42);
	if (with_conflict) {
		f = fx_family(snap, "cam_os_kernel_up", "Impostor.",
			      CAM__BUS__METRIC_TYPE__GAUGE, NULL);
		fx_series(f, NULL, 7);
	}
	buf = fx_pack(snap, &len);
	fx_free(snap);
	assert_int_equal(cam_subscriber_feed(s->sub, buf, len,
					     cam_staleness_now_ns() -
						     (uint64_t)(ago * S)),
			 0);
	free(buf);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay++;
	}
	return n;
}

static void test_not_ready_before_snapshot(void **state)
{
	struct server s;
	struct reply r;

	(void)state;
	start_server(&s, false);
	request(s.port, "GET", "/readyz", NULL, &r);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "no snapshot"));
	reply_free(&r);
	request(s.port, "GET", "/healthz", NULL, &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	/* /metrics still answers, with the exporter's own families only. */
	request(s.port, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\ncam_os_kernel_up 0\n"));
	assert_non_null(strstr(r.body,
			       "cam_os_exporter_snapshot_age_seconds +Inf\n"));
	assert_null(strstr(r.body, "cam_os_syscall_total"));
	assert_null(strstr(r.body, "cam_os_metrics_series_rejected_total"));
	reply_free(&r);
	stop_server(&s);
}

static void test_fresh_snapshot_served(void **state)
{
	struct server s;
	struct reply r;
	char v[256];

	(void)state;
	start_server(&s, false);
	feed_kernel(&s, 5, 0, false);
	request(s.port, "GET", "/readyz", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "ready: kernel instance k1, snapshot 5"));
	reply_free(&r);
	request(s.port, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "Content-Type", v, sizeof(v)),
			    "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(r.body, "cam_os_syscall_total{verb=\"ping\"} 42\n"));
	assert_non_null(strstr(r.body, "\ncam_os_kernel_up 1\n"));
	assert_non_null(strstr(r.body,
			       "cam_os_exporter_last_snapshot_sequence 5\n"));
	assert_non_null(strstr(r.body,
			       "cam_os_exporter_snapshots_received_total 1\n"));
	/* kernel families come first */
	assert_true(strstr(r.body, "cam_os_syscall_total") <
		    strstr(r.body, "cam_os_kernel_up"));
	reply_free(&r);
	stop_server(&s);
}

static void test_stale_snapshot_not_served(void **state)
{
	struct server s;
	struct reply r;

	(void)state;
	start_server(&s, false);
	feed_kernel(&s, 9, 3.5, false); /* 3 intervals of 1 s = 3 s */
	request(s.port, "GET", "/readyz", NULL, &r);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "stale"));
	reply_free(&r);
	request(s.port, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.body, "cam_os_syscall_total"));
	assert_non_null(strstr(r.body, "\ncam_os_kernel_up 0\n"));
	reply_free(&r);
	/* a fresh one brings it back */
	feed_kernel(&s, 10, 0, false);
	request(s.port, "GET", "/readyz", NULL, &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	stop_server(&s);
}

/* A kernel family named like one of the exporter's is dropped, counted. */
static void test_conflicting_family_rendered_once(void **state)
{
	struct server s;
	struct reply r;

	(void)state;
	start_server(&s, false);
	feed_kernel(&s, 1, 0, true);
	request(s.port, "GET", "/metrics", NULL, &r);
	assert_int_equal(count(r.body, "# TYPE cam_os_kernel_up "), 1);
	assert_non_null(strstr(r.body, "\ncam_os_kernel_up 1\n"));
	assert_null(strstr(r.body, "Impostor"));
	reply_free(&r);
	request(s.port, "GET", "/metrics", NULL, &r);
	assert_non_null(strstr(r.body,
			       "cam_os_exporter_family_conflicts_total 1\n"));
	reply_free(&r);
	stop_server(&s);
}

static void test_not_found_and_method_not_allowed(void **state)
{
	static const char *const known[] = {"/", "/metrics", "/healthz",
					    "/readyz"};
	struct server s;
	struct reply r;
	char v[256];
	size_t i;

	(void)state;
	start_server(&s, false);
	request(s.port, "GET", "/nope", NULL, &r);
	assert_int_equal(r.status, 404);
	reply_free(&r);
	request(s.port, "GET", "/metrics/extra", NULL, &r);
	assert_int_equal(r.status, 404);
	reply_free(&r);
	request(s.port, "POST", "/nope", "Content-Length: 0\r\n", &r);
	assert_int_equal(r.status, 404);
	reply_free(&r);
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		request(s.port, "POST", known[i],
			"Content-Length: 5\r\n\r\nhello", &r);
		assert_int_equal(r.status, 405);
		assert_string_equal(header(&r, "Allow", v, sizeof(v)),
				    "GET, HEAD");
		reply_free(&r);
	}
	request(s.port, "DELETE", "/metrics", NULL, &r);
	assert_int_equal(r.status, 405);
	reply_free(&r);
	stop_server(&s);
}

static void test_gzip(void **state)
{
	struct server s;
	struct reply r;
	char v[256], *text;
	uLongf text_len = 1 << 20;
	z_stream z = {0};

	(void)state;
	start_server(&s, false);
	feed_kernel(&s, 1, 0, false);
	request(s.port, "GET", "/metrics", "Accept-Encoding: gzip\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "Content-Encoding", v, sizeof(v)), "gzip");
	assert_true(r.body_len > 18);
	assert_int_equal((unsigned char)r.body[0], 0x1f);
	assert_int_equal((unsigned char)r.body[1], 0x8b);
	text = malloc(text_len + 1);
	assert_non_null(text);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)r.body;
	z.avail_in = (uInt)r.body_len;
	z.next_out = (Bytef *)text;
	z.avail_out = (uInt)text_len;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	text[text_len - z.avail_out] = '\0';
	inflateEnd(&z);
	assert_non_null(strstr(text, "cam_os_syscall_total{verb=\"ping\"} 42\n"));
	free(text);
	reply_free(&r);
	/* no gzip unless asked */
	request(s.port, "GET", "/metrics", NULL, &r);
	assert_string_equal(header(&r, "Content-Encoding", v, sizeof(v)), "");
	reply_free(&r);
	request(s.port, "GET", "/metrics", NULL, &r);
	assert_non_null(strstr(r.body, "cam_os_exporter_scrapes_total"
				      "{encoding=\"gzip\"} 1\n"));
	reply_free(&r);
	stop_server(&s);
}

static void test_openmetrics(void **state)
{
	struct server s;
	struct reply r;
	char v[256];

	(void)state;
	start_server(&s, false);
	feed_kernel(&s, 1, 0, false);
	request(s.port, "GET", "/metrics",
		"Accept: application/openmetrics-text;version=1.0.0,text/plain;"
		"version=0.0.4;q=0.5,*/*;q=0.1\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "Content-Type", v, sizeof(v)),
			    "application/openmetrics-text; version=1.0.0; "
			    "charset=utf-8");
	assert_non_null(strstr(r.body, "# TYPE cam_os_syscall counter\n"));
	assert_non_null(strstr(r.body, "cam_os_syscall_total{verb=\"ping\"} 42\n"));
	assert_true(r.body_len >= 6);
	assert_string_equal(r.body + r.body_len - 6, "# EOF\n");
	reply_free(&r);
	stop_server(&s);
}

static void test_head_and_landing(void **state)
{
	struct server s;
	struct reply r;
	char v[256];

	(void)state;
	start_server(&s, false);
	request(s.port, "HEAD", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(atoi(header(&r, "Content-Length", v, sizeof(v))) > 0);
	assert_int_equal(r.body_len, 0);
	reply_free(&r);
	request(s.port, "GET", "/", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "Content-Type", v, sizeof(v)),
			    "text/html; charset=utf-8");
	assert_non_null(strstr(r.body, "href=\"/metrics\""));
	assert_non_null(strstr(r.body, "href=\"/healthz\""));
	assert_non_null(strstr(r.body, "href=\"/readyz\""));
	reply_free(&r);
	stop_server(&s);
}

static void test_pprof(void **state)
{
	struct server s;
	struct reply r;

	(void)state;
	start_server(&s, false);
	request(s.port, "GET", "/debug/pprof/", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_null(strstr(r.body, "profiling"));
	reply_free(&r);
	stop_server(&s);

	/* On, with no kernel on the profiling channel: the index, and a
	 * quick 503 saying why for the profiles. */
	start_server(&s, true);
	request(s.port, "GET", "/debug/pprof/", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "href=\"profile"));
	assert_non_null(strstr(r.body, "href=\"heap\""));
	reply_free(&r);
	request(s.port, "GET", "/debug/pprof", NULL, &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	request(s.port, "GET", "/debug/pprof/heap", NULL, &r);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "profiling channel"));
	reply_free(&r);
	request(s.port, "GET", "/debug/pprof/profile?seconds=1", NULL, &r);
	assert_int_equal(r.status, 503);
	reply_free(&r);
	request(s.port, "GET", "/debug/pprof/profile?seconds=0", NULL, &r);
	assert_int_equal(r.status, 400);
	reply_free(&r);
	request(s.port, "GET", "/debug/pprof/goroutine", NULL, &r);
	assert_int_equal(r.status, 404);
	reply_free(&r);
	stop_server(&s);
}

static void test_port_in_use(void **state)
{
	struct server s;
	struct cam_http_config hc = {0};
	cam_http *second = NULL;
	char listen[64], err[256];

	(void)state;
	start_server(&s, false);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", s.port);
	hc.listen = listen;
	hc.sub = s.sub;
	hc.self = &s.self;
	assert_int_equal(cam_http_start(&hc, &second, err, sizeof(err)),
			 CAM_EEXIST);
	assert_null(second);
	assert_non_null(strstr(err, "Address already in use"));
	hc.listen = "nonsense";
	assert_int_equal(cam_http_start(&hc, &second, err, sizeof(err)),
			 CAM_EINVAL);
	assert_non_null(strstr(err, "nonsense"));
	stop_server(&s);
	cam_http_stop(NULL);
}

static void *feeder(void *arg)
{
	struct server *s = arg;
	uint64_t seq;

	for (seq = 1; seq <= 300; seq++)
		feed_kernel(s, seq, 0, false);
	return NULL;
}

/* Snapshots swap while scrapes render them (a data race shows under TSan). */
static void test_scrapes_during_receives(void **state)
{
	struct server s;
	struct reply r;
	pthread_t t;
	int i;

	(void)state;
	start_server(&s, false);
	feed_kernel(&s, 0, 0, false);
	assert_int_equal(pthread_create(&t, NULL, feeder, &s), 0);
	for (i = 0; i < 30; i++) {
		request(s.port, "GET", "/metrics",
			i % 2 ? "Accept-Encoding: gzip\r\n" : NULL, &r);
		assert_int_equal(r.status, 200);
		reply_free(&r);
	}
	pthread_join(t, NULL);
	request(s.port, "GET", "/metrics", NULL, &r);
	assert_non_null(strstr(r.body,
			       "cam_os_exporter_last_snapshot_sequence 300\n"));
	reply_free(&r);
	stop_server(&s);
}

/* Feeds a snapshot whose 40 series all hold seq. */
static void feed_uniform(struct server *s, uint64_t seq)
{
	static const char *const verb[] = {"verb", NULL};
	Cam__Bus__Snapshot *snap = fx_snapshot("k1", seq);
	Cam__Bus__Family *f;
	uint8_t *buf;
	size_t len;

	f = fx_family(snap, "uniform_total", "All equal.", CAM__BUS__METRIC_TYPE__COUNTER, verb);
	for (int i = 0; i < 40; i++) {
		char v[16];
		const char *vals[] = { v, NULL };
		snprintf(v, sizeof(v), "v%d", i);
		fx_series(f, vals, (double)seq);
	}
	buf = fx_pack(snap, &len);
	fx_free(snap);
	assert_int_equal(cam_subscriber_feed(s->sub, buf, len, cam_staleness_now_ns()), 0);
	free(buf);
}

static void *uniform_feeder(void *arg)
{
	struct server *s = arg;

	for (uint64_t seq = 2; seq <= 400; seq++)
		feed_uniform(s, seq);
	return NULL;
}

/* Every uniform_total sample of body holds the same value. */
static void check_one_snapshot(const char *body)
{
	const char *p = body;
	char first[32] = "";
	int n = 0;

	while ((p = strstr(p, "uniform_total{verb=\"")) != NULL) {
		char val[32];
		const char *sp = strchr(p, ' ');
		assert_non_null(sp);
		assert_int_equal(sscanf(sp + 1, "%31s", val), 1);
		if (n++ == 0)
			snprintf(first, sizeof(first), "%s", val);
		else if (strcmp(first, val) != 0)
			fail_msg("one scrape shows two snapshots: %s and %s", first, val);
		p = sp;
	}
	assert_int_equal(n, 40);
}

static char *gunzip_body(const struct reply *r)
{
	uLongf cap = 1 << 20;
	char *text = malloc(cap + 1);
	z_stream z = {0};

	assert_non_null(text);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)r->body;
	z.avail_in = (uInt)r->body_len;
	z.next_out = (Bytef *)text;
	z.avail_out = (uInt)cap;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.avail_in, 0); /* one member, nothing after it */
	text[cap - z.avail_out] = '\0';
	inflateEnd(&z);
	return text;
}

/* Scrapes of one snapshot render it once per format; every scrape while
 * snapshots swap shows one snapshot whole, plain or gzipped. */
static void test_cache_one_render_whole_snapshots(void **state)
{
	struct server s;
	struct reply r;
	uint64_t before;
	pthread_t t;
	char *text;

	(void)state;
	start_server(&s, false);
	feed_uniform(&s, 1);
	before = cam_http_cache_renders(s.http);
	for (int i = 0; i < 5; i++) {
		request(s.port, "GET", "/metrics", NULL, &r);
		check_one_snapshot(r.body);
		reply_free(&r);
		request(s.port, "GET", "/metrics", "Accept-Encoding: gzip\r\n", &r);
		text = gunzip_body(&r);
		check_one_snapshot(text);
		free(text);
		reply_free(&r);
	}
	assert_int_equal(cam_http_cache_renders(s.http) - before, 2); /* plain, gzip */
	/* The exporter's own families are fresh at every scrape all the same. */
	request(s.port, "GET", "/metrics", NULL, &r);
	assert_non_null(strstr(r.body, "cam_os_exporter_scrapes_total{encoding=\"gzip\"} 5\n"));
	reply_free(&r);

	assert_int_equal(pthread_create(&t, NULL, uniform_feeder, &s), 0);
	for (int i = 0; i < 60; i++) {
		request(s.port, "GET", "/metrics", i % 2 ? "Accept-Encoding: gzip\r\n" : NULL, &r);
		assert_int_equal(r.status, 200);
		text = i % 2 ? gunzip_body(&r) : NULL;
		check_one_snapshot(text ? text : r.body);
		free(text);
		reply_free(&r);
	}
	pthread_join(t, NULL);
	stop_server(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_ready_before_snapshot),
		cmocka_unit_test(test_fresh_snapshot_served),
		cmocka_unit_test(test_stale_snapshot_not_served),
		cmocka_unit_test(test_conflicting_family_rendered_once),
		cmocka_unit_test(test_not_found_and_method_not_allowed),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_openmetrics),
		cmocka_unit_test(test_head_and_landing),
		cmocka_unit_test(test_pprof),
		cmocka_unit_test(test_port_in_use),
		cmocka_unit_test(test_scrapes_during_receives),
		cmocka_unit_test(test_cache_one_render_whole_snapshots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
