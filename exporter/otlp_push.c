/*
 * The pusher thread of otlp_push.h. One mutex guards the queue, the wake
 * flag and the counters' mirror; it is never held across a request or the
 * producer, so enqueueing from another thread never waits on the network.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/otlp_push.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_table.h"
#include "common/xmalloc.h"
#include "exporter/otlp_queue.h"

#define COMPONENT "otlp"
#define BACKOFF_MIN_MS 500
#define FINAL_TIMEOUT_MS 2000

struct cam_otlp_push {
	struct cam_otlp_push_config c;
	const struct cam_curl_lib *cl;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping, woken;
	struct cam_otlp_queue q;
	size_t inflight_bytes;
	struct cam_otlp_push_stats st;
	cam_series *exported, *failures, *retries, *queue_bytes;
};

enum { M_EXPORTED, M_FAILURES, M_RETRIES, M_QUEUE_BYTES, NMETRICS };
static const char *const L_SIGNAL[] = { "signal", NULL };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_EXPORTED] = { .name = "cam_os_otlp_exported_total", .type = CAM_COUNTER,
			 .label_names = L_SIGNAL,
			 .help = "Data points (metrics) or log records (logs) an OTLP endpoint "
				 "accepted." },
	[M_FAILURES] = { .name = "cam_os_otlp_export_failures_total", .type = CAM_COUNTER,
			 .label_names = L_SIGNAL,
			 .help = "Data points or log records lost on the way to the OTLP endpoint: "
				 "the bounded queue was full while it was down or slow, it refused "
				 "them, or they were unsent at shutdown." },
	[M_RETRIES] = { .name = "cam_os_otlp_retries_total", .type = CAM_COUNTER,
			.label_names = L_SIGNAL,
			.help = "OTLP requests that failed for now (no answer, 429, 502-504) and "
				"are sent again after a back-off or the server's Retry-After." },
	[M_QUEUE_BYTES] = { .name = "cam_os_otlp_queue_bytes", .type = CAM_GAUGE,
			    .label_names = L_SIGNAL, .unit = "bytes",
			    .help = "Encoded OTLP requests waiting to be sent." },
};

/* The families, and one signal's series into the four pointers (NULL:
 * only the families and both signals' series, at 0). */
static int register_series(enum cam_otlp_signal sig, cam_series **out)
{
	cam_family *f[NMETRICS];
	char why[160];

	if (cam_metrics_table_register(metrics, NMETRICS, f, why, sizeof(why))) {
		cam_log(CAM_LOG_ERROR, COMPONENT, "%s", why);
		return CAM_ETYPE; /* the series stay NULL: counting into them does nothing */
	}
	for (int s = CAM_OTLP_METRICS; s <= CAM_OTLP_LOGS; s++) {
		const char *v[] = { cam_otlp_signal_name((enum cam_otlp_signal)s), NULL };

		for (int m = 0; m < NMETRICS; m++) {
			cam_series *se = cam_series_get(f[m], v);

			if (out && s == (int)sig)
				out[m] = se;
		}
	}
	return 0;
}

int cam_otlp_push_register_metrics(void)
{
	return register_series(CAM_OTLP_METRICS, NULL);
}

static void register_metrics(cam_otlp_push *p)
{
	cam_series *se[NMETRICS] = { NULL };

	register_series(p->c.signal, se);
	p->exported = se[M_EXPORTED];
	p->failures = se[M_FAILURES];
	p->retries = se[M_RETRIES];
	p->queue_bytes = se[M_QUEUE_BYTES];
}

/* Lock held. */
static void lost(cam_otlp_push *p, size_t items)
{
	if (!items)
		return;
	p->st.failed += items;
	cam_counter_add(p->failures, (double)items);
}

static void update_bytes(cam_otlp_push *p)
{
	p->st.queued_bytes = p->q.bytes + p->inflight_bytes;
	cam_gauge_set(p->queue_bytes, (double)p->st.queued_bytes);
}

void cam_otlp_push_enqueue(cam_otlp_push *p, const void *body, size_t len, size_t items)
{
	size_t dropped, nreq;

	pthread_mutex_lock(&p->lock);
	/* The request being sent counts against the bound too. */
	p->q.max_bytes = p->c.queue_bytes > p->inflight_bytes ? p->c.queue_bytes - p->inflight_bytes
							      : 0;
	dropped = cam_otlp_queue_push(&p->q, body, len, items, &nreq);
	lost(p, dropped);
	update_bytes(p);
	pthread_mutex_unlock(&p->lock);
	if (nreq)
		cam_log(CAM_LOG_DEBUG, COMPONENT,
			"%s: queue full, dropped the %zu oldest requests (%zu items)",
			cam_otlp_signal_name(p->c.signal), nreq, dropped);
}

void cam_otlp_push_count_lost(cam_otlp_push *p, size_t items)
{
	pthread_mutex_lock(&p->lock);
	lost(p, items);
	pthread_mutex_unlock(&p->lock);
}

void cam_otlp_push_wake(cam_otlp_push *p)
{
	pthread_mutex_lock(&p->lock);
	p->woken = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void cam_otlp_push_stats(cam_otlp_push *p, struct cam_otlp_push_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->st;
	pthread_mutex_unlock(&p->lock);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits (lock held) until at_ms, a wake or stop. */
static void wait_until(cam_otlp_push *p, uint64_t at_ms)
{
	struct timespec ts = { (time_t)(at_ms / 1000), (long)(at_ms % 1000) * 1000000L };

	while (!p->stopping && !p->woken && now_ms() < at_ms)
		if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT)
			break;
}

static void produce(cam_otlp_push *p, bool final)
{
	p->woken = false;
	pthread_mutex_unlock(&p->lock);
	p->c.produce(p->c.arg, p, final);
	pthread_mutex_lock(&p->lock);
}

/* The state of sending between two calls of send_one. */
struct sender {
	CURL *curl;
	struct cam_otlp_request *cur; /* taken from the queue, not yet sent */
	uint32_t backoff_ms;
	uint64_t retry_at_ms;
	bool failing; /* a streak of failures, logged once */
};

static void log_failure(cam_otlp_push *p, const struct cam_otlp_post_answer *a, bool refused)
{
	struct cam_log_line l;

	if (!cam_log_begin(&l, CAM_LOG_WARN, COMPONENT,
			   refused ? "OTLP endpoint refused a request: dropped"
				   : "OTLP endpoint unreachable or failing: retrying"))
		return;
	cam_log_str(&l, "signal", cam_otlp_signal_name(p->c.signal));
	cam_log_str(&l, "url", p->c.post.url);
	cam_log_str(&l, "detail", a->detail);
	if (a->retry_after_ms)
		cam_log_int(&l, "retry_after_ms", a->retry_after_ms);
	cam_log_end(&l);
}

/* Sends the oldest request (lock held, dropped around the request). */
static void send_one(cam_otlp_push *p, struct sender *s, uint32_t timeout_ms)
{
	struct cam_otlp_post_config pc = p->c.post;
	struct cam_otlp_post_answer ans;
	enum cam_otlp_post_result r;

	if (!s->cur) {
		s->cur = cam_otlp_queue_pop(&p->q);
		p->inflight_bytes = s->cur ? s->cur->len : 0;
	}
	if (!s->cur)
		return;
	pc.timeout_ms = timeout_ms;
	pthread_mutex_unlock(&p->lock);
	r = cam_otlp_post(p->cl, s->curl, &pc, s->cur->data, s->cur->len, &ans);
	pthread_mutex_lock(&p->lock);
	p->st.last_status = ans.status;
	if (r == CAM_OTLP_POST_RETRY) {
		p->st.retries++;
		cam_counter_inc(p->retries);
		if (!s->failing)
			log_failure(p, &ans, false);
		s->failing = true;
		s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
		if (s->backoff_ms > p->c.retry_max_ms)
			s->backoff_ms = p->c.retry_max_ms;
		s->retry_at_ms = now_ms() + (ans.retry_after_ms ? ans.retry_after_ms : s->backoff_ms);
		return;
	}
	if (r == CAM_OTLP_POST_OK) {
		p->st.requests_sent++;
		p->st.exported += s->cur->items;
		cam_counter_add(p->exported, (double)s->cur->items);
		if (s->failing)
			cam_log(CAM_LOG_INFO, COMPONENT, "%s: OTLP endpoint %s takes requests again",
				cam_otlp_signal_name(p->c.signal), p->c.post.url);
	} else {
		lost(p, s->cur->items);
		log_failure(p, &ans, true);
	}
	s->failing = false;
	s->backoff_ms = 0;
	s->retry_at_ms = 0;
	free(s->cur);
	s->cur = NULL;
	p->inflight_bytes = 0;
	update_bytes(p);
}

static void *push_main(void *arg)
{
	cam_otlp_push *p = arg;
	struct sender s = { .curl = p->cl->easy_init() };
	uint64_t next = now_ms();

	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		uint64_t now = now_ms(), wake;

		if (now >= next || p->woken) {
			if (now >= next)
				next = now + p->c.period_ms;
			produce(p, false);
			continue;
		}
		if ((s.cur || p->q.head) && now >= s.retry_at_ms && s.curl) {
			send_one(p, &s, p->c.post.timeout_ms);
			continue;
		}
		wake = next;
		if ((s.cur || p->q.head) && s.retry_at_ms < wake)
			wake = s.retry_at_ms;
		wait_until(p, wake);
	}
	produce(p, true);
	while (s.curl && !s.failing && (s.cur || p->q.head))
		send_one(p, &s, FINAL_TIMEOUT_MS);
	if (s.cur) {
		lost(p, s.cur->items);
		free(s.cur);
	}
	lost(p, cam_otlp_queue_clear(&p->q));
	p->inflight_bytes = 0;
	update_bytes(p);
	pthread_mutex_unlock(&p->lock);
	if (s.curl)
		p->cl->easy_cleanup(s.curl);
	return NULL;
}

int cam_otlp_push_start(const struct cam_otlp_push_config *c, const struct cam_curl_lib *cl,
			cam_otlp_push **out, char *err, size_t errlen)
{
	cam_otlp_push *p = cam_xcalloc(1, sizeof(*p));
	pthread_condattr_t ca;

	p->c = *c;
	p->cl = cl;
	if (!p->c.period_ms)
		p->c.period_ms = 1000;
	if (!p->c.retry_max_ms)
		p->c.retry_max_ms = 30000;
	cam_otlp_queue_init(&p->q, c->queue_bytes);
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	register_metrics(p);
	if (pthread_create(&p->thread, NULL, push_main, p) != 0) {
		snprintf(err, errlen, "cannot start the OTLP %s pusher",
			 cam_otlp_signal_name(c->signal));
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return CAM_EINTERNAL;
	}
	*out = p;
	return 0;
}

void cam_otlp_push_stop(cam_otlp_push *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
