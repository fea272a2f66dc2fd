/*
 * The HTTP endpoints of http.h on libmicrohttpd.
 *
 * A request is answered on the handler's second call, once its headers
 * and any body (discarded: nothing here takes one) are in. /metrics serves
 * the kernel's part of the body from the scrape cache (scrape_cache.h:
 * rendered once per snapshot and format) and renders the exporter's own
 * families after it; both go to libmicrohttpd as an I/O vector, so the
 * cached bytes are never copied, and the free callback drops the cache
 * reference once they are sent. With gzip, the cached part is the head of
 * one gzip member and the exporter's part its tail (gzip.h). HEAD gets the
 * same headers and no body (libmicrohttpd drops it).
 *
 * Against slow and hostile clients (slowloris): libmicrohttpd's epoll
 * threads never wait on one connection, an idle connection is closed after
 * the connection timeout (a client sending a byte every few seconds is
 * idle in between), each client address may hold only so many connections,
 * and the total stays below the descriptor limit, so a scraper or a probe
 * always gets in.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/http.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/snapshot.h"
#include "common/xmalloc.h"
#include "exporter/gzip.h"
#include "exporter/listen.h"
#include "exporter/negotiate.h"
#include "exporter/pprof.h"
#include "exporter/render.h"
#include "exporter/scrape_cache.h"
#include "exporter/staleness.h"

#define COMPONENT "http"
#define DEFAULT_THREADS 2
#define DEFAULT_TIMEOUT_S 5
#define DEFAULT_PER_IP 100
#define DEFAULT_MAX_CONNECTIONS 4096
#define TEXT_PLAIN "text/plain; charset=utf-8"
#define ALLOWED "GET, HEAD"

struct cam_http {
	struct MHD_Daemon *daemon;
	cam_subscriber *sub;
	const struct cam_selfmetrics *self;
	bool profiling;
	char pprof_addr[544];
	atomic_bool profiling_busy; /* one profile at a time, like Go's */
	uint16_t port;
	char address[96];
	cam_scrape_cache *cache;
	atomic_bool serving;     /* libmicrohttpd started */
};

typedef enum MHD_Result (*handler_fn)(cam_http *h, struct MHD_Connection *c);

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status,
			       const char *type, const char *body,
			       enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(body), (void *)body, mode);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, ALLOWED);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result not_found(struct MHD_Connection *c)
{
	return respond(c, MHD_HTTP_NOT_FOUND, TEXT_PLAIN, "404 page not found\n",
		       MHD_RESPMEM_PERSISTENT);
}

static const char landing_page[] =
	"<!DOCTYPE html>\n"
	"<html><head><meta charset=\"utf-8\"><title>CAM-OS exporter</title>"
	"</head>\n<body>\n<h1>CAM-OS exporter</h1>\n"
	"<p>Prometheus metrics of cam-kernel, from the snapshots it publishes "
	"on the bus.</p>\n<ul>\n"
	"<li><a href=\"/metrics\">/metrics</a>: metrics (Prometheus text, "
	"OpenMetrics when asked)</li>\n"
	"<li><a href=\"/healthz\">/healthz</a>: the exporter is alive</li>\n"
	"<li><a href=\"/readyz\">/readyz</a>: a fresh kernel snapshot is "
	"held</li>\n</ul>\n</body></html>\n";

static enum MHD_Result serve_landing(cam_http *h, struct MHD_Connection *c)
{
	(void)h;
	return respond(c, MHD_HTTP_OK, "text/html; charset=utf-8", landing_page,
		       MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result serve_healthz(cam_http *h, struct MHD_Connection *c)
{
	(void)h;
	return respond(c, MHD_HTTP_OK, TEXT_PLAIN, "ok\n",
		       MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result serve_readyz(cam_http *h, struct MHD_Connection *c)
{
	struct cam_sub_snapshot *snap = cam_subscriber_latest(h->sub);
	uint64_t now = cam_staleness_now_ns();
	enum cam_kernel_state state = cam_sub_snapshot_state(snap, now);
	char body[256];
	double age = 0, limit = 0;

	if (snap) {
		age = cam_staleness_age_seconds(snap->received_ns, now);
		limit = CAM_STALE_INTERVALS * snap->interval_ms / 1000.0;
	}
	switch (state) {
	case CAM_KERNEL_ABSENT:
		snprintf(body, sizeof(body),
			 "not ready: no snapshot from the kernel yet\n");
		break;
	case CAM_KERNEL_STALE:
		snprintf(body, sizeof(body),
			 "not ready: the kernel snapshot is stale (%.1f s old, "
			 "limit %.1f s)\n", age, limit);
		break;
	case CAM_KERNEL_FRESH:
		snprintf(body, sizeof(body),
			 "ready: kernel instance %.64s, snapshot %llu, %.1f s "
			 "old\n", snap->snapshot->instance_id,
			 (unsigned long long)snap->snapshot->sequence, age);
		break;
	}
	cam_sub_snapshot_release(snap);
	return respond(c, state == CAM_KERNEL_FRESH ? MHD_HTTP_OK
						    : MHD_HTTP_SERVICE_UNAVAILABLE,
		       TEXT_PLAIN, body, MHD_RESPMEM_MUST_COPY);
}

static const char pprof_index[] =
	"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	"<title>/debug/pprof/</title></head>\n<body>\n"
	"<p>/debug/pprof/: profiles of cam-kernel, taken by gperftools and read "
	"with <code>go tool pprof</code> or <code>pprof</code>.</p>\n"
	"<p>Types of profiles available:</p>\n<table>\n"
	"<tr><td><a href=\"heap\">heap</a></td><td>memory allocated, and "
	"still in use, by call stack over <code>?seconds=N</code> (default "
	"10; needs tcmalloc as cam-kernel's allocator)</td></tr>\n"
	"<tr><td><a href=\"profile?seconds=30\">profile</a></td><td>CPU "
	"profile; <code>?seconds=N</code> (default 30, at most 300)</td></tr>\n"
	"<tr><td>symbol</td><td>function names for addresses (POST "
	"<code>0x4a5b6c+0x4a5b7d</code>): pprof asks it to name what the "
	"profiles carry</td></tr>\n"
	"</table>\n<p><code>go tool pprof -top "
	"http://HOST:PORT/debug/pprof/profile?seconds=10</code></p>\n"
	"</body></html>\n";

/* Asks the kernel for a profile (filename: how to offer it for saving) or,
 * with filename NULL, for text, and answers with it (or why not). */
static enum MHD_Result serve_profile(cam_http *h, struct MHD_Connection *c,
				     const char *request, int timeout_ms,
				     const char *filename)
{
	struct cam_pprof_reply r;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned code;
	char msg[1024], disp[96];
	int rc;

	rc = cam_pprof_request(h->pprof_addr, request, timeout_ms, &r);
	if (rc) {
		snprintf(msg, sizeof(msg),
			 "cam-kernel did not answer on the profiling channel %s: "
			 "%s (is it running with CAM_PROFILING_ENABLED=true?)\n",
			 h->pprof_addr, cam_strerror(rc));
		return respond(c, rc == CAM_ETIMEDOUT ? MHD_HTTP_GATEWAY_TIMEOUT
						      : MHD_HTTP_SERVICE_UNAVAILABLE,
			       TEXT_PLAIN, msg, MHD_RESPMEM_MUST_COPY);
	}
	if (r.status != CAM_PPROF_OK) {
		code = r.status == CAM_PPROF_BAD_REQUEST ? MHD_HTTP_BAD_REQUEST
		     : r.status == CAM_PPROF_BUSY	   ? MHD_HTTP_CONFLICT
		     : r.status == CAM_PPROF_UNAVAILABLE ? MHD_HTTP_NOT_IMPLEMENTED
							 : MHD_HTTP_INTERNAL_SERVER_ERROR;
		snprintf(msg, sizeof(msg), "%s\n", (const char *)r.data);
		free(r.data);
		return respond(c, code, TEXT_PLAIN, msg, MHD_RESPMEM_MUST_COPY);
	}
	resp = MHD_create_response_from_buffer_with_free_callback(r.len, r.data, free);
	if (!resp) {
		free(r.data);
		return MHD_NO;
	}
	if (filename) {
		snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", filename);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"application/octet-stream");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
	} else {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, TEXT_PLAIN);
	}
	ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A request body being received (only /debug/pprof/symbol takes one). */
struct upload {
	char *buf;
	size_t len;
	bool too_big;
};

/*
 * /debug/pprof/symbol, as Go's net/http/pprof serves it: GET answers
 * "num_symbols: 1" (names are available); POST of hex addresses joined by
 * '+' answers "0xaddr name" lines, which the kernel works out for its own
 * process.
 */
static enum MHD_Result serve_symbol(cam_http *h, struct MHD_Connection *c, const char *method,
				    const struct upload *up)
{
	char *request;
	enum MHD_Result ret;

	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0 || !up)
		return respond(c, MHD_HTTP_OK, TEXT_PLAIN, "num_symbols: 1\n",
			       MHD_RESPMEM_PERSISTENT);
	if (up->too_big)
		return respond(c, MHD_HTTP_CONTENT_TOO_LARGE, TEXT_PLAIN,
			       "too many addresses in one request\n", MHD_RESPMEM_PERSISTENT);
	request = cam_xmalloc(up->len + 8);
	memcpy(request, "symbol ", 7);
	if (up->len)
		memcpy(request + 7, up->buf, up->len);
	request[7 + up->len] = '\0';
	/* A CPU profile in progress holds the kernel's side for its seconds. */
	ret = serve_profile(h, c, request, (CAM_PPROF_MAX_SECONDS + 30) * 1000, NULL);
	free(request);
	return ret;
}

/* /debug/pprof/...: the index, profile?seconds=N and heap. */
static enum MHD_Result serve_pprof_url(cam_http *h, struct MHD_Connection *c,
				       const char *url)
{
	const char *name = url + strlen("/debug/pprof");
	const char *arg;
	char request[32], *end;
	long seconds = 30;
	enum MHD_Result ret;

	if (!h->profiling)
		return not_found(c);
	if (*name == '/')
		name++;
	if (*name == '\0')
		return respond(c, MHD_HTTP_OK, "text/html; charset=utf-8",
			       pprof_index, MHD_RESPMEM_PERSISTENT);
	if (strcmp(name, "heap") == 0)
		seconds = 10;
	else if (strcmp(name, "profile") != 0)
		return not_found(c);
	arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "seconds");
	if (arg && *arg) {
		seconds = strtol(arg, &end, 10);
		if (*end || seconds < 1 || seconds > CAM_PPROF_MAX_SECONDS)
			return respond(c, MHD_HTTP_BAD_REQUEST, TEXT_PLAIN,
				       "seconds must be a whole number from 1 to 300\n",
				       MHD_RESPMEM_PERSISTENT);
	}
	snprintf(request, sizeof(request), "%s %ld", name, seconds);
	/* The kernel answers one request at a time: a second one would wait
	 * for the first to end, so say so now instead. */
	if (atomic_exchange(&h->profiling_busy, true))
		return respond(c, MHD_HTTP_CONFLICT, TEXT_PLAIN,
			       "another profile is being taken; try again when it is done\n",
			       MHD_RESPMEM_PERSISTENT);
	ret = serve_profile(h, c, request, (int)(seconds * 1000 + 15000), name);
	atomic_store(&h->profiling_busy, false);
	return ret;
}

static enum MHD_Result serve_pprof(cam_http *h, struct MHD_Connection *c)
{
	return serve_pprof_url(h, c, "/debug/pprof/");
}

/* What a /metrics response keeps until libmicrohttpd has sent it. */
struct held_body {
	struct cam_scrape_ref *ref; /* the cached kernel part */
	void *tail;                 /* the exporter's part */
};

static void held_body_free(void *cls)
{
	struct held_body *hb = cls;

	cam_scrape_ref_release(hb->ref);
	free(hb->tail);
	free(hb);
}

/*
 * The exporter's own families, refreshed first, rendered into b (ending
 * the body: "# EOF" for OpenMetrics). *kernel_snap gets the latest kernel
 * snapshot when it is fresh (the caller releases it), else NULL.
 */
static void render_self(cam_http *h, enum cam_render_format fmt, struct cam_render_buf *b,
			struct cam_sub_snapshot **kernel_snap)
{
	struct cam_sub_snapshot *snap = cam_subscriber_latest(h->sub);
	uint64_t now = cam_staleness_now_ns();
	enum cam_kernel_state state = cam_sub_snapshot_state(snap, now);
	struct cam_subscriber_stats st;
	Cam__Bus__Snapshot *self, self_view;
	size_t nowned;

	cam_subscriber_stats(h->sub, &st);
	cam_selfmetrics_update(h->self, &st, state,
			       snap ? cam_staleness_age_seconds(snap->received_ns, now) : 0);
	self = cam_selfmetrics_snapshot(&nowned);
	self_view = *self;
	self_view.n_families = nowned;
	cam_render_part(b, fmt, &self_view, NULL, true, NULL);
	cam_snapshot_free(self);
	if (state == CAM_KERNEL_FRESH) {
		*kernel_snap = snap;
	} else {
		*kernel_snap = NULL;
		cam_sub_snapshot_release(snap);
	}
}

static enum MHD_Result serve_metrics(cam_http *h, struct MHD_Connection *c)
{
	uint64_t t0 = cam_staleness_now_ns();
	const struct cam_scrape_piece *piece;
	struct cam_sub_snapshot *snap;
	enum cam_render_format fmt;
	struct cam_render_buf tail;
	struct MHD_IoVec iov[2];
	struct held_body *hb;
	struct MHD_Response *r;
	enum MHD_Result ret;
	bool gz;

	fmt = cam_negotiate_format(
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept"));
	gz = cam_negotiate_gzip(MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, "Accept-Encoding"));
	cam_render_buf_init(&tail, 4096);
	render_self(h, fmt, &tail, &snap);
	hb = cam_xcalloc(1, sizeof(*hb));
	piece = cam_scrape_cache_get(h->cache, snap, fmt, gz, &hb->ref);
	if (!piece && gz) {
		gz = false; /* zlib failed: plain will do */
		piece = cam_scrape_cache_get(h->cache, snap, fmt, false, &hb->ref);
	}
	cam_sub_snapshot_release(snap); /* the cache keeps rendered bytes only */
	if (!piece) {
		cam_render_buf_free(&tail);
		free(hb);
		return MHD_NO;
	}
	if (gz) {
		size_t len;
		if (cam_gzip_tail(tail.data, tail.len, piece->crc, piece->raw_len, &hb->tail,
				  &len)) {
			cam_render_buf_free(&tail);
			held_body_free(hb);
			return MHD_NO;
		}
		cam_render_buf_free(&tail);
		tail.len = len;
	} else {
		hb->tail = tail.data;
	}
	iov[0] = (struct MHD_IoVec){ piece->data, piece->len };
	iov[1] = (struct MHD_IoVec){ hb->tail, tail.len };
	if (piece->conflicts)
		cam_counter_add(h->self->conflicts, (double)piece->conflicts);
	r = MHD_create_response_from_iovec(iov, 2, held_body_free, hb);
	if (!r) {
		held_body_free(hb);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, cam_render_content_type(fmt));
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY,
				"Accept, Accept-Encoding");
	if (gz)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING,
					"gzip");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	cam_counter_inc(h->self->scrapes[gz ? CAM_SCRAPE_GZIP
					      : CAM_SCRAPE_IDENTITY]);
	cam_histogram_observe(h->self->scrape_duration,
			      (double)(cam_staleness_now_ns() - t0) / 1e9);
	return ret;
}

/* Whether url names a profile this exporter serves ("" is the index).
 * Any other name is 404 whatever the method. */
static bool pprof_known(const char *url)
{
	const char *name = url + strlen("/debug/pprof");

	if (*name == '/')
		name++;
	return !strcmp(name, "") || !strcmp(name, "profile") || !strcmp(name, "heap") ||
	       !strcmp(name, "symbol");
}

static const struct route {
	const char *path;
	bool subtree; /* also every path below path + "/" */
	handler_fn fn;
} routes[] = {
	{"/", false, serve_landing},
	{"/metrics", false, serve_metrics},
	{"/healthz", false, serve_healthz},
	{"/readyz", false, serve_readyz},
	{"/debug/pprof", true, serve_pprof},
};

static const struct route *find_route(const cam_http *h, const char *url)
{
	size_t i, n;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		n = strlen(routes[i].path);
		if (strcmp(url, routes[i].path) == 0 ||
		    (routes[i].subtree && strncmp(url, routes[i].path, n) == 0 &&
		     url[n] == '/'))
			break;
	}
	if (i == sizeof(routes) / sizeof(routes[0]))
		return NULL;
	/* With profiling off, /debug/pprof/ does not exist at all. */
	if (routes[i].fn == serve_pprof && !h->profiling)
		return NULL;
	return &routes[i];
}

static int request_seen; /* con_cls of a request whose body is discarded */

static bool is_symbol_url(const char *url)
{
	return strcmp(url, "/debug/pprof/symbol") == 0;
}

/* Keeps a request body, up to what the profiling channel takes. */
static void upload_add(struct upload *up, const char *data, size_t n)
{
	if (up->too_big || up->len + n > CAM_PPROF_MAX_REQUEST - 8) {
		up->too_big = true;
		return;
	}
	up->buf = cam_xrealloc(up->buf, up->len + n + 1);
	memcpy(up->buf + up->len, data, n);
	up->len += n;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	cam_http *h = cls;
	const struct route *route;
	bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

	(void)version;
	/*
	 * The first call only announces the request: answering then would
	 * make libmicrohttpd close the connection. A body is discarded, but
	 * for pprof's symbol requests.
	 */
	if (!*con_cls) {
		*con_cls = h->profiling && post && is_symbol_url(url)
			? (void *)cam_xcalloc(1, sizeof(struct upload)) : (void *)&request_seen;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (*con_cls != &request_seen)
			upload_add(*con_cls, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	route = find_route(h, url);
	if (!route || (route->fn == serve_pprof && !pprof_known(url)))
		return not_found(c);
	if (is_symbol_url(url) && (post || strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
				   strcmp(method, MHD_HTTP_METHOD_HEAD) == 0))
		return serve_symbol(h, c, method,
				    *con_cls != &request_seen ? *con_cls : NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, TEXT_PLAIN,
			       "405 method not allowed\n",
			       MHD_RESPMEM_PERSISTENT);
	if (route->fn == serve_pprof)
		return serve_pprof_url(h, c, url);
	return route->fn(h, c);
}

/* Frees a kept request body once its request is over. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	void *kept = *con_cls;

	(void)cls, (void)c, (void)toe;
	if (kept && kept != (void *)&request_seen) {
		free(((struct upload *)kept)->buf);
		free(kept);
	}
	*con_cls = NULL;
}

/*
 * libmicrohttpd's messages while starting say why it cannot serve (warn);
 * once serving they are about single connections, mostly clients that
 * went away mid-response (debug).
 */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	cam_http *h = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	cam_log(atomic_load(&h->serving) ? CAM_LOG_DEBUG : CAM_LOG_WARN,
		COMPONENT, "libmicrohttpd: %s", msg);
}

int cam_http_start(const struct cam_http_config *cfg, cam_http **out,
		   char *err, size_t errlen)
{
	struct cam_listen_spec spec;
	const char *why;
	cam_http *h;
	int fd, rc;

	rc = cam_listen_parse(cfg->listen, &spec, &why);
	if (rc < 0) {
		snprintf(err, errlen, "bad listen address \"%s\": %s",
			 cfg->listen ? cfg->listen : "", why);
		return rc;
	}
	rc = cam_listen_open(&spec, &fd, err, errlen);
	if (rc < 0)
		return rc;
	h = cam_xcalloc(1, sizeof(*h));
	h->sub = cfg->sub;
	h->self = cfg->self;
	h->profiling = cfg->profiling;
	snprintf(h->pprof_addr, sizeof(h->pprof_addr), "%s",
		 cfg->pprof_addr ? cfg->pprof_addr : "");
	h->cache = cam_scrape_cache_new(cam_selfmetrics_owns);
	atomic_init(&h->serving, false);
	atomic_init(&h->profiling_busy, false);
	h->port = cam_listen_name(fd, h->address, sizeof(h->address));
	h->daemon = MHD_start_daemon(
		MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		on_request, h,
		/* First, or libmicrohttpd logs its own way until it sees it. */
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_THREAD_POOL_SIZE,
		/* A CPU profile holds a thread for its seconds: two more
		 * keep /metrics answering meanwhile. */
		(unsigned)(cfg->threads ? cfg->threads : DEFAULT_THREADS) +
			(cfg->profiling ? 2u : 0u),
		MHD_OPTION_CONNECTION_LIMIT,
		cfg->max_connections ? cfg->max_connections : (unsigned)DEFAULT_MAX_CONNECTIONS,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		cfg->max_per_ip ? cfg->max_per_ip : (unsigned)DEFAULT_PER_IP,
		MHD_OPTION_CONNECTION_TIMEOUT,
		cfg->timeout_s ? cfg->timeout_s : (unsigned)DEFAULT_TIMEOUT_S,
		MHD_OPTION_END);
	if (!h->daemon) {
		snprintf(err, errlen, "libmicrohttpd did not start on %s",
			 h->address);
		close(fd);
		cam_scrape_cache_free(h->cache);
		free(h);
		return CAM_EINTERNAL;
	}
	atomic_store(&h->serving, true);
	*out = h;
	return 0;
}

const char *cam_http_address(const cam_http *h)
{
	return h->address;
}

uint16_t cam_http_port(const cam_http *h)
{
	return h->port;
}

uint64_t cam_http_cache_renders(const cam_http *h)
{
	return cam_scrape_cache_renders(h->cache);
}

void cam_http_stop(cam_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	cam_scrape_cache_free(h->cache);
	free(h);
}
