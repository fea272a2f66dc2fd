/*
 * The two OTLP pushers of otlp.h and their producers.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/otlp.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "common/snapshot.h"
#include "common/version.h"
#include "common/xmalloc.h"
#include "exporter/curl_lib.h"
#include "exporter/otlp_logs.h"
#include "exporter/otlp_metrics.h"
#include "exporter/otlp_push.h"

#define COMPONENT "otlp"

/* Log batches from the bus, waiting for the logs pusher. */
struct pending {
	struct pending *next;
	Cam__Bus__Envelope *env;
};

struct cam_otlp {
	const struct cam_otlp_settings *s;
	cam_subscriber *sub;
	const struct cam_selfmetrics *self;
	const struct cam_curl_lib *curl;
	char instance_id[33]; /* the exporter's own, new at every start */
	double start_time;
	cam_otlp_push *push[2]; /* metrics, logs */
	/* metrics pusher thread only */
	struct cam_otlp_arena metrics_arena;
	struct cam_render_buf metrics_body;
	/* logs: the bus thread adds, the logs pusher takes */
	pthread_mutex_t lock;
	struct pending *head, **tail;
	size_t pending_lines;
	struct cam_otlp_arena logs_arena;
	struct cam_render_buf logs_body;
};

static double wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- metrics ---- */

static void produce_metrics(void *arg, cam_otlp_push *p, bool final)
{
	cam_otlp *o = arg;
	struct cam_sub_snapshot *snap = cam_subscriber_latest(o->sub);
	uint64_t now = cam_staleness_now_ns();
	enum cam_kernel_state state = cam_sub_snapshot_state(snap, now);
	struct cam_otlp_metrics_src src[2] = { 0 };
	struct cam_subscriber_stats st;
	Cam__Bus__Snapshot *self, self_view;
	size_t nowned, points;

	(void)final;
	cam_subscriber_stats(o->sub, &st);
	cam_selfmetrics_update(o->self, &st, state,
			       snap ? cam_staleness_age_seconds(snap->received_ns, now) : 0);
	self = cam_selfmetrics_snapshot(&nowned);
	self_view = *self;
	self_view.n_families = nowned;
	if (state == CAM_KERNEL_FRESH) {
		const Cam__Bus__Snapshot *k = snap->snapshot;

		src[0] = (struct cam_otlp_metrics_src){
			.snap = k, .service = "cam-kernel", .service_from_attrs = true,
			.instance_id = k->instance_id, .version = k->version, .scope = "cam-kernel",
			.start_time_seconds = k->start_time_seconds, .timestamp_ms = k->timestamp_ms,
		};
	}
	src[1] = (struct cam_otlp_metrics_src){
		.snap = &self_view, .service = "cam-exporter", .instance_id = o->instance_id,
		.version = CAM_VERSION, .scope = "cam-exporter", .start_time_seconds = o->start_time,
		.timestamp_ms = (int64_t)(wall_seconds() * 1000),
	};
	points = cam_otlp_metrics_encode(&o->metrics_arena, &o->s->resource, src, 2,
					 &o->metrics_body);
	cam_snapshot_free(self);
	cam_sub_snapshot_release(snap);
	cam_otlp_push_enqueue(p, o->metrics_body.data, o->metrics_body.len, points);
}

/* ---- logs ---- */

bool cam_otlp_wants_logs(const cam_otlp *o)
{
	return o && o->push[1];
}

void cam_otlp_log_sink(void *arg, Cam__Bus__Envelope *env)
{
	cam_otlp *o = arg;
	size_t n = env->logs ? env->logs->n_lines : 0;
	struct pending *e;
	bool full, due;

	pthread_mutex_lock(&o->lock);
	full = o->pending_lines + n > o->s->logs_buffer;
	if (!full) {
		e = cam_xmalloc(sizeof(*e));
		e->next = NULL;
		e->env = env;
		*o->tail = e;
		o->tail = &e->next;
		o->pending_lines += n;
	}
	due = o->pending_lines >= o->s->logs_batch;
	pthread_mutex_unlock(&o->lock);
	if (full) {
		cam_otlp_push_count_lost(o->push[1], n);
		cam_snapshot_unpacked_free(env);
	} else if (due) {
		cam_otlp_push_wake(o->push[1]);
	}
}

/* Encodes lines[0..n) as one request and queues it. */
static void send_lines(cam_otlp *o, cam_otlp_push *p, const struct cam_otlp_log_line *lines,
		       size_t n)
{
	struct cam_otlp_logs_result res;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	cam_otlp_logs_encode(&o->logs_arena, &o->s->resource, lines, n,
			     (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
			     &o->logs_body, &res);
	if (res.invalid)
		cam_otlp_push_count_lost(p, res.invalid);
	if (res.records)
		cam_otlp_push_enqueue(p, o->logs_body.data, o->logs_body.len, res.records);
}

static void produce_logs(void *arg, cam_otlp_push *p, bool final)
{
	cam_otlp *o = arg;
	struct cam_otlp_log_line *lines = cam_xmalloc(o->s->logs_batch * sizeof(*lines));
	struct pending *list, *e;
	size_t k = 0;

	(void)final;
	pthread_mutex_lock(&o->lock);
	list = o->head;
	o->head = NULL;
	o->tail = &o->head;
	o->pending_lines = 0;
	pthread_mutex_unlock(&o->lock);
	/* Batches of logs_batch lines; a partial one last. The envelopes stay
	 * until the request that points at their lines is encoded. */
	for (e = list; e; e = e->next) {
		const Cam__Bus__LogBatch *b = e->env->logs;

		for (size_t i = 0; b && i < b->n_lines; i++) {
			lines[k++] = (struct cam_otlp_log_line){
				.json = b->lines[i]->json,
				.audit = b->lines[i]->kind == CAM__BUS__LOG_KIND__LOG_KIND_AUDIT,
				.instance_id = b->instance_id,
				.version = b->version,
			};
			if (k == o->s->logs_batch) {
				send_lines(o, p, lines, k);
				k = 0;
			}
		}
	}
	if (k)
		send_lines(o, p, lines, k);
	while ((e = list)) {
		list = e->next;
		cam_snapshot_unpacked_free(e->env);
		free(e);
	}
	free(lines);
}

/* ---- start and stop ---- */

static void make_instance_id(char *out)
{
	unsigned char r[16] = { 0 };

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		memcpy(r, &ts, sizeof(ts) < sizeof(r) ? sizeof(ts) : sizeof(r));
	}
	for (size_t i = 0; i < sizeof(r); i++)
		sprintf(out + 2 * i, "%02x", r[i]);
}

static struct cam_otlp_push_config push_config(cam_otlp *o, enum cam_otlp_signal sig)
{
	const struct cam_otlp_signal_settings *ss = &o->s->sig[sig];

	return (struct cam_otlp_push_config){
		.signal = sig,
		.post = {
			.url = ss->url, .headers = &ss->headers, .gzip = ss->gzip,
			.timeout_ms = ss->timeout_ms, .ca_file = ss->ca_file,
			.client_cert = ss->client_cert, .client_key = ss->client_key,
		},
		.queue_bytes = o->s->queue_bytes,
		.period_ms = sig == CAM_OTLP_METRICS ? o->s->metrics_interval_ms : o->s->logs_flush_ms,
		.retry_max_ms = o->s->retry_max_ms,
		.produce = sig == CAM_OTLP_METRICS ? produce_metrics : produce_logs,
		.arg = o,
	};
}

int cam_otlp_start(const struct cam_otlp_settings *s, cam_subscriber *sub,
		   const struct cam_selfmetrics *self, cam_otlp **out, char *err, size_t errlen)
{
	static const enum cam_otlp_signal sigs[2] = { CAM_OTLP_METRICS, CAM_OTLP_LOGS };
	const struct cam_curl_lib *curl;
	cam_otlp *o;
	int rc;

	*out = NULL;
	if (!s->sig[CAM_OTLP_METRICS].on && !s->sig[CAM_OTLP_LOGS].on)
		return 0;
	if (!(curl = cam_curl_lib(err, errlen)))
		return CAM_EUNAVAIL;
	if (curl->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "libcurl did not initialise");
		return CAM_EINTERNAL;
	}
	o = cam_xcalloc(1, sizeof(*o));
	o->s = s;
	o->sub = sub;
	o->self = self;
	o->curl = curl;
	o->start_time = wall_seconds();
	make_instance_id(o->instance_id);
	pthread_mutex_init(&o->lock, NULL);
	o->tail = &o->head;
	cam_render_buf_init(&o->metrics_body, 0);
	cam_render_buf_init(&o->logs_body, 0);
	for (int i = 0; i < 2; i++) {
		struct cam_otlp_push_config pc;

		if (!s->sig[sigs[i]].on)
			continue;
		pc = push_config(o, sigs[i]);
		if ((rc = cam_otlp_push_start(&pc, curl, &o->push[i], err, errlen))) {
			cam_otlp_stop(o);
			return rc;
		}
	}
	*out = o;
	return 0;
}

void cam_otlp_stop(cam_otlp *o)
{
	struct pending *e;

	if (!o)
		return;
	for (int i = 0; i < 2; i++)
		cam_otlp_push_stop(o->push[i]);
	while ((e = o->head)) {
		o->head = e->next;
		cam_snapshot_unpacked_free(e->env);
		free(e);
	}
	cam_otlp_arena_free(&o->metrics_arena);
	cam_otlp_arena_free(&o->logs_arena);
	cam_render_buf_free(&o->metrics_body);
	cam_render_buf_free(&o->logs_body);
	pthread_mutex_destroy(&o->lock);
	o->curl->global_cleanup();
	free(o);
}
