/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small gRPC load generator for cam.SyscallService/Execute, where h2load
 * falls short: h2load sends one body over and over, and sees HTTP 200 but
 * not the grpc-status in the trailers. This one varies the payload (request
 * i carries variant i % VARIANTS wherever the payload says "%d", e.g. one
 * namespace each) and counts a call as done only with grpc-status 0.
 *
 * usage: grpc_load [-c CONNECTIONS] [-m STREAMS] [-n REQUESTS] [-k VARIANTS]
 *                  HOST:PORT VERB PAYLOAD
 * One thread, one epoll, nghttp2's client session per connection, STREAMS
 * calls in flight on each. Prints one line:
 *   requests N ok N failed N  RPS calls/s  p50 X ms  p99 Y ms
 * and, when some failed, the first grpc-status and grpc-message seen.
 * Exits 1 when any call failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct body {
	uint8_t *p;
	size_t len;
};

struct call {
	struct conn *conn;
	const struct body *b;
	size_t off;
	double t0;
	int status;              /* grpc-status, -1: none yet */
};

struct conn {
	int fd;
	nghttp2_session *s;
	unsigned inflight;
	int want_out;
};

static struct {
	struct body *bodies;
	unsigned variants, streams;
	long total, issued, done, ok;
	double *lat;
	char authority[128];
	int first_status;
	char first_message[160];
} g = { .first_status = -1 };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t varint(uint8_t *out, size_t n)
{
	size_t i = 0;

	while (n >= 0x80) {
		out[i++] = (uint8_t)(n & 0x7f) | 0x80;
		n >>= 7;
	}
	out[i++] = (uint8_t)n;
	return i;
}

/* The gRPC frame of SyscallRequest{verb, payload with %d as v}. */
static struct body make_body(const char *verb, const char *tmpl, unsigned v)
{
	char payload[4096], num[16];
	const char *pct = strstr(tmpl, "%d");
	size_t vl = strlen(verb), pl, n = 5;
	struct body b;

	snprintf(num, sizeof(num), "%u", v);
	if (pct)
		snprintf(payload, sizeof(payload), "%.*s%s%s", (int)(pct - tmpl), tmpl, num, pct + 2);
	else
		snprintf(payload, sizeof(payload), "%s", tmpl);
	pl = strlen(payload);
	b.p = malloc(vl + pl + 32);
	b.p[n++] = 1 << 3 | 2;
	n += varint(b.p + n, vl);
	memcpy(b.p + n, verb, vl);
	n += vl;
	b.p[n++] = 2 << 3 | 2;
	n += varint(b.p + n, pl);
	memcpy(b.p + n, payload, pl);
	n += pl;
	b.p[0] = 0;
	b.p[1] = (uint8_t)((n - 5) >> 24);
	b.p[2] = (uint8_t)((n - 5) >> 16);
	b.p[3] = (uint8_t)((n - 5) >> 8);
	b.p[4] = (uint8_t)(n - 5);
	b.len = n;
	return b;
}

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
	struct conn *c = ud;
	ssize_t n = write(c->fd, data, len);

	(void)s;
	(void)flags;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		c->want_out = 1;
		return NGHTTP2_ERR_WOULDBLOCK;
	}
	return n < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct call *k = src->ptr;
	size_t left = k->b->len - k->off;

	(void)s;
	(void)id;
	(void)ud;
	if (len > left)
		len = left;
	memcpy(buf, k->b->p + k->off, len);
	k->off += len;
	if (k->off == k->b->len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)len;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	struct call *k = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	(void)flags;
	(void)ud;
	if (!k)
		return 0;
	if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
		k->status = atoi((const char *)value);
	else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0 && !g.first_message[0])
		snprintf(g.first_message, sizeof(g.first_message), "%.*s", (int)valuelen, value);
	return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t err, void *ud)
{
	struct call *k = nghttp2_session_get_stream_user_data(s, id);

	(void)ud;
	if (!k)
		return 0;
	g.lat[g.done++] = (now_s() - k->t0) * 1e3;
	if (err == 0 && k->status == 0)
		g.ok++;
	else if (g.first_status < 0)
		g.first_status = k->status >= 0 ? k->status : 1000 + (int)err;
	k->conn->inflight--;
	free(k);
	return 0;
}

static void submit_more(struct conn *c)
{
	while (c->inflight < g.streams && g.issued < g.total) {
		struct call *k = calloc(1, sizeof(*k));
		nghttp2_data_provider dp = { .read_callback = read_body };
		nghttp2_nv hdrs[] = {
#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }
			NV(":method", "POST"), NV(":scheme", "http"),
			NV(":path", "/cam.SyscallService/Execute"), NV(":authority", g.authority),
			NV("content-type", "application/grpc"), NV("te", "trailers"),
#undef NV
		};

		k->conn = c;
		k->b = &g.bodies[g.issued % g.variants];
		k->status = -1;
		k->t0 = now_s();
		dp.source.ptr = k;
		if (nghttp2_submit_request(c->s, NULL, hdrs, sizeof(hdrs) / sizeof(hdrs[0]), &dp, k) < 0) {
			free(k);
			return;
		}
		g.issued++;
		c->inflight++;
	}
}

static int conn_open(struct conn *c, const char *host, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	nghttp2_session_callbacks *cb;
	int one = 1;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -1;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_send_callback(cb, send_cb);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	nghttp2_session_client_new(&c->s, cb, c);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, NULL, 0);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	unsigned nconns = 8, variants = 1;
	long total = 50000;
	char host[64];
	int port, opt, ep;
	struct conn *conns;
	struct epoll_event evs[64];
	double t0, took;

	g.streams = 8;
	while ((opt = getopt(argc, argv, "c:m:n:k:")) != -1) {
		if (opt == 'c')
			nconns = (unsigned)atoi(optarg);
		else if (opt == 'm')
			g.streams = (unsigned)atoi(optarg);
		else if (opt == 'n')
			total = atol(optarg);
		else if (opt == 'k')
			variants = (unsigned)atoi(optarg);
		else
			goto out_usage;
	}
	if (argc - optind != 3 || !nconns || !g.streams || total < 1 || !variants ||
	    sscanf(argv[optind], "%63[^:]:%d", host, &port) != 2)
		goto out_usage;
	snprintf(g.authority, sizeof(g.authority), "%s", argv[optind]);
	g.total = total;
	g.variants = variants;
	g.lat = calloc((size_t)total, sizeof(*g.lat));
	g.bodies = calloc(variants, sizeof(*g.bodies));
	for (unsigned v = 0; v < variants; v++)
		g.bodies[v] = make_body(argv[optind + 1], argv[optind + 2], v);
	conns = calloc(nconns, sizeof(*conns));
	ep = epoll_create1(0);
	for (unsigned i = 0; i < nconns; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };

		if (conn_open(&conns[i], host, port)) {
			fprintf(stderr, "grpc_load: cannot connect to %s\n", argv[optind]);
			return 2;
		}
		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
	}
	t0 = now_s();
	while (g.done < g.total) {
		int n;

		for (unsigned i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];
			struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

			submit_more(c);
			c->want_out = 0;
			if (nghttp2_session_send(c->s))
				return 2;
			if (c->want_out)
				ev.events |= EPOLLOUT;
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
		n = epoll_wait(ep, evs, 64, 10000);
		if (n <= 0) {
			fprintf(stderr, "grpc_load: no answer for 10 s\n");
			return 2;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			uint8_t buf[65536];
			ssize_t r;

			if (!(evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				continue;
			while ((r = read(c->fd, buf, sizeof(buf))) > 0)
				if (nghttp2_session_mem_recv(c->s, buf, (size_t)r) < 0)
					return 2;
			if (r == 0) {
				fprintf(stderr, "grpc_load: the server closed a connection\n");
				return 2;
			}
		}
	}
	took = now_s() - t0;
	qsort(g.lat, (size_t)g.done, sizeof(*g.lat), cmp);
	printf("requests %ld ok %ld failed %ld  %.0f calls/s  p50 %.3f ms  p99 %.3f ms\n", g.done, g.ok,
	       g.done - g.ok, (double)g.done / took, g.lat[g.done / 2],
	       g.lat[(long)((double)g.done * 0.99)]);
	if (g.ok != g.done)
		printf("first failure: grpc-status %d %s\n", g.first_status, g.first_message);
	return g.ok == g.done ? 0 : 1;
out_usage:
	fprintf(stderr, "usage: grpc_load [-c CONNECTIONS] [-m STREAMS] [-n REQUESTS] [-k VARIANTS] "
			"HOST:PORT VERB PAYLOAD\n");
	return 2;
}
