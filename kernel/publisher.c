/*
 * The publisher thread (see publisher.h). It also counts its own work:
 * snapshots published, failed sends, and how long collecting took, so an
 * operator can see the cost of metrics in the metrics. After each snapshot
 * it drains the span ring into span batches (kernel/tracing/span_batch.h),
 * and the log lines meant for OTLP into log batches (kernel/log_bus.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/publisher.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_table.h"
#include "common/snapshot.h"
#include "common/xmalloc.h"
#include "kernel/tracing/span_batch.h"

struct cam_publisher {
	struct cam_publisher_opts o;
	char *instance_id;
	char *version;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stopping;
	_Atomic uint64_t sequence;
	cam_series *published, *send_errors, *collect_seconds, *bytes;
	cam_series *span_batches, *spans_sent, *spans_lost;
	uint64_t span_sequence;
	struct cam_span *span_buf; /* CAM_SPAN_BATCH_MAX, publisher thread only */
};

/* Batches sent per interval at most: spans beyond wait for the next one. */
#define SPAN_BATCHES_PER_TICK 16
#define SPANS_PER_BATCH 256

static void publish_once(cam_publisher *p)
{
	struct cam_snapshot_meta meta = {
		.sequence = atomic_load(&p->sequence) + 1,
		.instance_id = p->instance_id,
		.start_time_seconds = p->o.start_time_seconds,
		.timestamp_ms = cam_real_ms(),
		.publish_interval_ms = p->o.interval_ms,
		.version = p->version,
	};
	double t0 = cam_mono_s();
	Cam__Bus__Snapshot *snap = cam_snapshot_build(&meta);
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	cam_histogram_observe(p->collect_seconds, cam_mono_s() - t0);
	rc = cam_snapshot_pack(snap, &buf, &len);
	cam_snapshot_free(snap);
	if (rc == 0)
		rc = cam_bus_send(p->o.bus, buf, len);
	free(buf);
	if (rc) {
		cam_counter_inc(p->send_errors);
		cam_log(CAM_LOG_WARN, "publisher", "snapshot %llu not sent: %s",
			(unsigned long long)meta.sequence, cam_strerror(rc));
		return;
	}
	atomic_store(&p->sequence, meta.sequence);
	cam_counter_inc(p->published);
	cam_gauge_set(p->bytes, (double)len);
}

/*
 * Sends the spans waiting in the ring, SPANS_PER_BATCH per message. A batch
 * the bus cannot take is lost (spans are not cumulative) and counted.
 */
static void publish_spans(cam_publisher *p)
{
	struct cam_span_batch_meta meta = {
		.instance_id = p->instance_id,
		.version = p->version,
	};
	uint8_t *buf;
	size_t n, len;
	int rc;

	for (int i = 0; i < SPAN_BATCHES_PER_TICK; i++) {
		n = p->o.spans ? cam_span_ring_drain(p->o.spans, p->span_buf, SPANS_PER_BATCH) : 0;
		if (n == 0)
			return;
		meta.sequence = ++p->span_sequence;
		rc = cam_span_batch_pack(&meta, p->span_buf, n, &buf, &len);
		if (rc == 0) {
			rc = cam_bus_send(p->o.bus, buf, len);
			free(buf);
		}
		if (rc) {
			cam_counter_add(p->spans_lost, (double)n);
			cam_log(CAM_LOG_WARN, "publisher", "%zu spans not sent: %s", n,
				cam_strerror(rc));
			continue;
		}
		cam_counter_inc(p->span_batches);
		cam_counter_add(p->spans_sent, (double)n);
	}
}

/*
 * Sends the log lines waiting (log_bus.h), SPAN_BATCHES_PER_TICK batches at
 * most; the rest wait for the next interval (the buffer is bounded).
 */
static void publish_logs(cam_publisher *p)
{
	uint8_t *buf;
	size_t n, len;
	int rc;

	for (int i = 0; p->o.logs && i < SPAN_BATCHES_PER_TICK; i++) {
		n = cam_log_bus_take(p->o.logs, p->instance_id, p->version, &buf, &len);
		if (n == 0)
			return;
		rc = cam_bus_send(p->o.bus, buf, len);
		free(buf);
		if (rc)
			cam_log_bus_lost(p->o.logs, n);
		else
			cam_log_bus_sent(p->o.logs, n);
	}
}

static void *publisher_main(void *arg)
{
	cam_publisher *p = arg;
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		next.tv_sec += p->o.interval_ms / 1000;
		next.tv_nsec += (long)(p->o.interval_ms % 1000) * 1000000L;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		pthread_mutex_unlock(&p->lock);
		publish_once(p);
		publish_spans(p);
		publish_logs(p);
		pthread_mutex_lock(&p->lock);
		while (!p->stopping &&
		       pthread_cond_timedwait(&p->cond, &p->lock, &next) == 0)
			;
	}
	pthread_mutex_unlock(&p->lock);
	publish_spans(p);
	publish_logs(p);
	publish_once(p); /* the final figures, for a clean shutdown */
	return NULL;
}

enum { M_PUBLISHED, M_SEND_ERRORS, M_COLLECT, M_BYTES, M_BATCHES, M_SPANS_SENT, M_SPANS_LOST,
       NMETRICS };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_PUBLISHED] = { .name = "cam_os_bus_snapshots_published_total",
			  .help = "Snapshots the kernel published on the bus.", .type = CAM_COUNTER },
	[M_SEND_ERRORS] = { .name = "cam_os_bus_send_errors_total",
			    .help = "Snapshots the kernel failed to publish.", .type = CAM_COUNTER },
	[M_COLLECT] = { .name = "cam_os_metrics_collect_duration_seconds",
			.help = "Time to sum all thread shards into a snapshot.",
			.type = CAM_HISTOGRAM },
	[M_BYTES] = { .name = "cam_os_bus_snapshot_bytes",
		      .help = "Size of the last snapshot published.", .type = CAM_GAUGE },
	[M_BATCHES] = { .name = "cam_os_bus_span_batches_published_total",
			.help = "Span batches the kernel published on the bus.",
			.type = CAM_COUNTER },
	[M_SPANS_SENT] = { .name = "cam_os_trace_spans_published_total",
			   .help = "Spans the kernel published on the bus for the exporter.",
			   .type = CAM_COUNTER },
	[M_SPANS_LOST] = { .name = "cam_os_trace_spans_send_failed_total",
			   .help = "Spans lost because their batch could not be published.",
			   .type = CAM_COUNTER },
};

int cam_publisher_new(const struct cam_publisher_opts *o, cam_publisher **out)
{
	cam_family *f[NMETRICS];
	pthread_condattr_t ca;
	cam_publisher *p;
	char why[160];
	int rc = cam_metrics_table_register(metrics, NMETRICS, f, why, sizeof(why));

	if (rc) {
		cam_log(CAM_LOG_ERROR, "publisher", "%s", why);
		return rc;
	}
	p = cam_xcalloc(1, sizeof(*p));
	p->o = *o;
	p->instance_id = cam_xstrdup(o->instance_id);
	p->version = cam_xstrdup(o->version);
	p->published = cam_series_get(f[M_PUBLISHED], NULL);
	p->send_errors = cam_series_get(f[M_SEND_ERRORS], NULL);
	p->collect_seconds = cam_series_get(f[M_COLLECT], NULL);
	p->bytes = cam_series_get(f[M_BYTES], NULL);
	p->span_batches = cam_series_get(f[M_BATCHES], NULL);
	p->spans_sent = cam_series_get(f[M_SPANS_SENT], NULL);
	p->spans_lost = cam_series_get(f[M_SPANS_LOST], NULL);
	p->span_buf = cam_xcalloc(SPANS_PER_BATCH, sizeof(*p->span_buf));
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&p->thread, NULL, publisher_main, p) != 0) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p->span_buf);
		free(p->instance_id);
		free(p->version);
		free(p);
		return CAM_EINTERNAL;
	}
	*out = p;
	return 0;
}

void cam_publisher_free(cam_publisher *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->span_buf);
	free(p->instance_id);
	free(p->version);
	free(p);
}

uint64_t cam_publisher_sequence(const cam_publisher *p)
{
	return atomic_load(&((cam_publisher *)p)->sequence);
}
