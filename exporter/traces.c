/*
 * The span shipper of traces.h.
 *
 * Span batches stay in their unpacked envelopes, shared by refcount: each
 * destination's buffer is a ring of (span, envelope) references, so one
 * batch feeds both destinations without a copy. Only the sender pops from
 * its ring; the sink only pushes. A sender copies a batch's references
 * out under the lock, encodes and posts without it, and pops them only
 * once the receiver has them (or refused them for good).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/traces.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_table.h"
#include "common/snapshot.h"
#include "common/xmalloc.h"
#include "exporter/curl_lib.h"
#include "exporter/render.h"
#include "exporter/span_json.h"

#define COMPONENT "traces"
#define BACKOFF_MIN_MS 100
#define CONNECT_TIMEOUT_MS 2000

enum dest_kind { DEST_OTLP, DEST_ZIPKIN };
enum drop_reason { DROP_BUFFER_FULL, DROP_REJECTED, DROP_SHUTDOWN, NDROP };
static const char *const drop_names[NDROP] = { "buffer_full", "rejected", "shutdown" };

/* An envelope shared by the spans of its batch in every buffer. */
struct env_ref {
	Cam__Bus__Envelope *env;
	atomic_uint refs;
};

struct entry {
	const Cam__Bus__Span *span;
	struct env_ref *ref;
};

struct dest {
	enum dest_kind kind;
	const char *name; /* label value: "otlp", "zipkin" */
	char url[1024];
	cam_traces *t;
	pthread_t thread;
	bool running;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct entry *ring;
	size_t head, count;
	bool stopping;

	cam_series *exported, *failures, *buffered, *dropped[NDROP];
};

struct cam_traces {
	struct cam_traces_config c;
	char service[128];
	struct dest dest[2];
	size_t ndest;
	cam_series *received, *sampled_out;
	const struct cam_curl_lib *curl; /* loaded by cam_traces_start */
};

static void ref_release(struct env_ref *r, unsigned n)
{
	if (r && atomic_fetch_sub(&r->refs, n) == n) {
		cam_snapshot_unpacked_free(r->env);
		free(r);
	}
}

const char *cam_traces_url(const char *endpoint, const char *default_path,
			   char *out, size_t n)
{
	const char *host = strstr(endpoint, "://");
	const char *path = host ? strchr(host + 3, '/') : NULL;
	size_t len = strlen(endpoint);

	if (!path || strcmp(path, "/") == 0) {
		if (len && endpoint[len - 1] == '/')
			len--;
		snprintf(out, n, "%.*s%s", (int)len, endpoint, default_path);
	} else {
		snprintf(out, n, "%s", endpoint);
	}
	return out;
}

int cam_traces_sampled(const char *trace_id, double ratio)
{
	uint64_t low = 0;

	if (ratio >= 1)
		return 1;
	if (ratio <= 0)
		return 0;
	for (size_t i = 16; i < 32 && trace_id[i]; i++) {
		char c = trace_id[i];
		low = low << 4 | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return (double)low < ratio * 18446744073709551616.0;
}

/* ---- metrics ---- */

enum { M_RECEIVED, M_SAMPLED_OUT, M_EXPORTED, M_FAILURES, M_BUFFERED, M_DROPPED, NMETRICS };
static const char *const L_DEST[] = { "destination", NULL };
static const char *const L_DEST_REASON[] = { "destination", "reason", NULL };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_RECEIVED] = { .name = "cam_os_exporter_spans_received_total", .type = CAM_COUNTER,
			 .help = "Spans received from the kernel over the bus." },
	[M_SAMPLED_OUT] = { .name = "cam_os_exporter_spans_sampled_out_total", .type = CAM_COUNTER,
			    .help = "Spans not exported because their trace was not sampled "
				    "(CAM_TRACE_SAMPLE_RATIO)." },
	[M_EXPORTED] = { .name = "cam_os_exporter_spans_exported_total", .type = CAM_COUNTER,
			 .label_names = L_DEST, .help = "Spans a trace endpoint accepted." },
	[M_FAILURES] = { .name = "cam_os_exporter_spans_export_failures_total",
			 .type = CAM_COUNTER, .label_names = L_DEST,
			 .help = "Requests to a trace endpoint that failed and will be retried." },
	[M_BUFFERED] = { .name = "cam_os_exporter_spans_buffered", .type = CAM_GAUGE,
			 .label_names = L_DEST, .help = "Spans waiting in a destination's buffer." },
	[M_DROPPED] = { .name = "cam_os_exporter_spans_dropped_total", .type = CAM_COUNTER,
			.label_names = L_DEST_REASON,
			.help = "Spans dropped: buffer full, refused by the endpoint, or unsent at "
				"shutdown." },
};

static void register_metrics(cam_traces *t)
{
	cam_family *f[NMETRICS];
	char why[160];

	if (cam_metrics_table_register(metrics, NMETRICS, f, why, sizeof(why))) {
		cam_log(CAM_LOG_ERROR, "traces", "%s", why);
		return; /* the series stay NULL: counting into them does nothing */
	}
	t->received = cam_series_get(f[M_RECEIVED], NULL);
	t->sampled_out = cam_series_get(f[M_SAMPLED_OUT], NULL);
	for (size_t i = 0; i < t->ndest; i++) {
		struct dest *d = &t->dest[i];
		const char *v[] = { d->name, NULL };

		d->exported = cam_series_get(f[M_EXPORTED], v);
		d->failures = cam_series_get(f[M_FAILURES], v);
		d->buffered = cam_series_get(f[M_BUFFERED], v);
		for (int r = 0; r < NDROP; r++)
			d->dropped[r] = cam_series_get(
				f[M_DROPPED], (const char *[]){ d->name, drop_names[r], NULL });
	}
}

/* ---- the sink (bus thread) ---- */

static void push(struct dest *d, const Cam__Bus__Span *sp, struct env_ref *ref,
		 unsigned *taken)
{
	size_t cap = d->t->c.buffer_spans;

	if (d->count == cap) {
		cam_counter_inc(d->dropped[DROP_BUFFER_FULL]);
		return;
	}
	d->ring[(d->head + d->count) % cap] = (struct entry){ sp, ref };
	d->count++;
	(*taken)++;
}

void cam_traces_sink(void *arg, Cam__Bus__Envelope *env)
{
	cam_traces *t = arg;
	const Cam__Bus__SpanBatch *b = env->spans;
	struct env_ref *ref = cam_xmalloc(sizeof(*ref));
	unsigned taken = 0, most = 1 + (unsigned)(b->n_spans * t->ndest);
	size_t kept = 0;

	/* Every reference a push may take, plus ours, before any push: a
	 * sender may pop (and release) a span as soon as it is in. */
	ref->env = env;
	atomic_init(&ref->refs, most);
	cam_counter_add(t->received, (double)b->n_spans);
	for (size_t i = 0; i < t->ndest; i++) {
		struct dest *d = &t->dest[i];

		pthread_mutex_lock(&d->lock);
		for (size_t k = 0; k < b->n_spans; k++)
			if (cam_traces_sampled(b->spans[k]->trace_id, t->c.sample_ratio)) {
				kept += i == 0;
				push(d, b->spans[k], ref, &taken);
			}
		cam_gauge_set(d->buffered, (double)d->count);
		if (d->count >= t->c.batch_spans)
			pthread_cond_signal(&d->cond);
		pthread_mutex_unlock(&d->lock);
	}
	cam_counter_add(t->sampled_out, (double)(b->n_spans - kept));
	ref_release(ref, most - taken);
}

/* ---- senders ---- */

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

enum post_result { POST_OK, POST_RETRY, POST_REJECTED };

static enum post_result post(struct dest *d, CURL *curl, const struct cam_render_buf *body,
			     uint32_t timeout_ms)
{
	const struct cam_curl_lib *cl = d->t->curl;
	struct curl_slist *hdr = cl->slist_append(NULL, "Content-Type: application/json");
	const struct cam_traces_config *c = &d->t->c;
	long code = 0;
	CURLcode rc;

	/* The operator's headers and TLS files (CAM_OTLP_HEADERS, ...). */
	if (d->kind == DEST_OTLP) {
		char line[1024];

		for (size_t i = 0; c->otlp_headers && i < c->otlp_headers->n; i++) {
			snprintf(line, sizeof(line), "%s: %s", c->otlp_headers->kv[i].key,
				 c->otlp_headers->kv[i].value);
			hdr = cl->slist_append(hdr, line);
		}
		if (c->otlp_ca_file)
			cl->easy_setopt(curl, CURLOPT_CAINFO, c->otlp_ca_file);
		if (c->otlp_client_cert)
			cl->easy_setopt(curl, CURLOPT_SSLCERT, c->otlp_client_cert);
		if (c->otlp_client_key)
			cl->easy_setopt(curl, CURLOPT_SSLKEY, c->otlp_client_key);
	}

	cl->easy_setopt(curl, CURLOPT_URL, d->url);
	cl->easy_setopt(curl, CURLOPT_POSTFIELDS, body->data);
	cl->easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	cl->easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
	cl->easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	cl->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : CONNECT_TIMEOUT_MS));
	cl->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	cl->easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	cl->easy_setopt(curl, CURLOPT_USERAGENT, "cam-exporter");
	rc = cl->easy_perform(curl);
	cl->slist_free_all(hdr);
	if (rc != CURLE_OK) {
		cam_log(CAM_LOG_DEBUG, COMPONENT, "%s: POST %s failed: %s", d->name, d->url,
			cl->easy_strerror(rc));
		return POST_RETRY;
	}
	cl->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300)
		return POST_OK;
	cam_log(CAM_LOG_DEBUG, COMPONENT, "%s: POST %s answered %ld", d->name, d->url, code);
	if (code == 408 || code == 429 || code >= 500)
		return POST_RETRY;
	return POST_REJECTED;
}

static void encode(struct dest *d, const struct entry *e, size_t n,
		   struct cam_render_buf *body)
{
	struct cam_span_ref *refs = cam_xmalloc((n ? n : 1) * sizeof(*refs));

	for (size_t i = 0; i < n; i++)
		refs[i] = (struct cam_span_ref){ e[i].span, e[i].ref->env->spans };
	body->len = 0;
	if (d->kind == DEST_OTLP)
		cam_span_json_otlp(body, refs, n, d->t->service);
	else
		cam_span_json_zipkin(body, refs, n, d->t->service);
	free(refs);
}

/* Pops the n oldest entries (lock held). */
static void pop(struct dest *d, size_t n)
{
	size_t cap = d->t->c.buffer_spans;

	for (size_t i = 0; i < n; i++) {
		ref_release(d->ring[d->head].ref, 1);
		d->head = (d->head + 1) % cap;
		d->count--;
	}
	cam_gauge_set(d->buffered, (double)d->count);
}

static void deadline_in(struct timespec *ts, uint32_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Waits (lock held) until a batch is due or stop; false on stop. */
static bool wait_for_batch(struct dest *d)
{
	struct timespec until;
	bool timed_out = false;

	deadline_in(&until, d->t->c.flush_ms);
	while (!d->stopping && d->count < d->t->c.batch_spans &&
	       !(timed_out && d->count > 0))
		if (pthread_cond_timedwait(&d->cond, &d->lock, &until) == ETIMEDOUT) {
			timed_out = true;
			deadline_in(&until, d->t->c.flush_ms);
		}
	return !d->stopping;
}

/* Sleeps (lock held) for the back-off; false when asked to stop. */
static bool back_off(struct dest *d, uint32_t ms)
{
	struct timespec until;

	deadline_in(&until, ms);
	while (!d->stopping)
		if (pthread_cond_timedwait(&d->cond, &d->lock, &until) == ETIMEDOUT)
			break;
	return !d->stopping;
}

/* Sends up to one batch (lock held, dropped around the request). */
static enum post_result send_batch(struct dest *d, CURL *curl, struct entry *scratch,
				   struct cam_render_buf *body, uint32_t timeout_ms)
{
	size_t n = d->count < d->t->c.batch_spans ? d->count : d->t->c.batch_spans;
	size_t cap = d->t->c.buffer_spans;
	enum post_result r;

	for (size_t i = 0; i < n; i++)
		scratch[i] = d->ring[(d->head + i) % cap];
	pthread_mutex_unlock(&d->lock);
	encode(d, scratch, n, body);
	r = post(d, curl, body, timeout_ms);
	pthread_mutex_lock(&d->lock);
	if (r == POST_OK) {
		cam_counter_add(d->exported, (double)n);
		pop(d, n);
	} else if (r == POST_REJECTED) {
		cam_counter_add(d->dropped[DROP_REJECTED], (double)n);
		cam_log(CAM_LOG_WARN, COMPONENT, "%s endpoint %s refused %zu spans", d->name,
			d->url, n);
		pop(d, n);
	} else {
		cam_counter_inc(d->failures);
	}
	return r;
}

static void *sender_main(void *arg)
{
	struct dest *d = arg;
	struct entry *scratch = cam_xmalloc(d->t->c.batch_spans * sizeof(*scratch));
	struct cam_render_buf body;
	CURL *curl = d->t->curl->easy_init();
	uint32_t backoff = 0;
	bool warned = false;

	cam_render_buf_init(&body, 0);
	pthread_mutex_lock(&d->lock);
	while (curl && wait_for_batch(d)) {
		if (send_batch(d, curl, scratch, &body, d->t->c.timeout_ms) != POST_RETRY) {
			if (warned)
				cam_log(CAM_LOG_INFO, COMPONENT, "%s endpoint %s takes spans again",
					d->name, d->url);
			backoff = 0;
			warned = false;
			continue;
		}
		if (!warned)
			cam_log(CAM_LOG_WARN, COMPONENT,
				"%s endpoint %s unreachable or failing: spans stay buffered "
				"and are retried", d->name, d->url);
		warned = true;
		backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
		if (backoff > d->t->c.retry_max_ms)
			backoff = d->t->c.retry_max_ms;
		if (!back_off(d, backoff))
			break;
	}
	/* One last try for what is left, then count the rest. */
	while (curl && d->count > 0 &&
	       send_batch(d, curl, scratch, &body,
			  d->t->c.timeout_ms < 2000 ? d->t->c.timeout_ms : 2000) != POST_RETRY)
		;
	cam_counter_add(d->dropped[DROP_SHUTDOWN], (double)d->count);
	pop(d, d->count);
	pthread_mutex_unlock(&d->lock);
	cam_render_buf_free(&body);
	free(scratch);
	if (curl)
		d->t->curl->easy_cleanup(curl);
	return NULL;
}

/* ---- start and stop ---- */

static int check_url(const char *what, const char *url, char *err, size_t errlen)
{
	if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
	    strlen(url) > 900 || strpbrk(url, " \t\r\n")) {
		snprintf(err, errlen, "%s must be an http:// or https:// URL, not \"%s\"", what,
			 url);
		return CAM_EINVAL;
	}
	return 0;
}

static void add_dest(cam_traces *t, enum dest_kind kind, const char *endpoint)
{
	struct dest *d = &t->dest[t->ndest++];
	pthread_condattr_t ca;

	d->kind = kind;
	d->name = kind == DEST_OTLP ? "otlp" : "zipkin";
	d->t = t;
	cam_traces_url(endpoint, kind == DEST_OTLP ? "/v1/traces" : "/api/v2/spans", d->url,
		       sizeof(d->url));
	d->ring = cam_xcalloc(t->c.buffer_spans, sizeof(*d->ring));
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &ca);
	pthread_condattr_destroy(&ca);
}

static void defaults(struct cam_traces_config *c)
{
	if (!c->buffer_spans)
		c->buffer_spans = 10000;
	if (!c->batch_spans)
		c->batch_spans = 512;
	if (c->batch_spans > c->buffer_spans)
		c->batch_spans = c->buffer_spans;
	if (!c->flush_ms)
		c->flush_ms = 1000;
	if (!c->timeout_ms)
		c->timeout_ms = 5000;
	if (!c->retry_max_ms)
		c->retry_max_ms = 30000;
}

int cam_traces_start(const struct cam_traces_config *c, cam_traces **out, char *err,
		     size_t errlen)
{
	bool otlp = c->otlp_endpoint && c->otlp_endpoint[0];
	bool zipkin = c->zipkin_endpoint && c->zipkin_endpoint[0];
	const struct cam_curl_lib *curl;
	cam_traces *t;
	int rc;

	*out = NULL;
	if (!otlp && !zipkin)
		return 0;
	if ((otlp && (rc = check_url("CAM_OTLP_ENDPOINT", c->otlp_endpoint, err, errlen))) ||
	    (zipkin && (rc = check_url("CAM_ZIPKIN_ENDPOINT", c->zipkin_endpoint, err, errlen))))
		return rc;
	if (!(c->sample_ratio >= 0 && c->sample_ratio <= 1)) {
		snprintf(err, errlen, "the sample ratio must be from 0 to 1");
		return CAM_EINVAL;
	}
	if (!(curl = cam_curl_lib(err, errlen)))
		return CAM_EUNAVAIL;
	if (curl->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "libcurl did not initialise");
		return CAM_EINTERNAL;
	}
	t = cam_xcalloc(1, sizeof(*t));
	t->curl = curl;
	t->c = *c;
	defaults(&t->c);
	snprintf(t->service, sizeof(t->service), "%s",
		 c->service_name && c->service_name[0] ? c->service_name : "cam-os");
	if (otlp)
		add_dest(t, DEST_OTLP, c->otlp_endpoint);
	if (zipkin)
		add_dest(t, DEST_ZIPKIN, c->zipkin_endpoint);
	register_metrics(t);
	for (size_t i = 0; i < t->ndest; i++) {
		if (pthread_create(&t->dest[i].thread, NULL, sender_main, &t->dest[i]) != 0) {
			snprintf(err, errlen, "cannot start the %s sender", t->dest[i].name);
			cam_traces_stop(t);
			return CAM_EINTERNAL;
		}
		t->dest[i].running = true;
	}
	*out = t;
	return 0;
}

void cam_traces_stop(cam_traces *t)
{
	const struct cam_curl_lib *curl;

	if (!t)
		return;
	for (size_t i = 0; i < t->ndest; i++) {
		struct dest *d = &t->dest[i];

		pthread_mutex_lock(&d->lock);
		d->stopping = true;
		pthread_cond_signal(&d->cond);
		pthread_mutex_unlock(&d->lock);
		if (d->running)
			pthread_join(d->thread, NULL);
		else
			pop(d, d->count);
		pthread_cond_destroy(&d->cond);
		pthread_mutex_destroy(&d->lock);
		free(d->ring);
	}
	curl = t->curl;
	free(t);
	curl->global_cleanup();
}
