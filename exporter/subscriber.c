/*
 * The bus subscriber of subscriber.h: a receiving thread, the latest
 * snapshot behind a pointer-sized critical section, and the log lines an
 * operator wants when the kernel appears, restarts or goes quiet.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/subscriber.h"

#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bus.h"
#include "common/error.h"
#include "common/log.h"
#include "common/snapshot.h"
#include "common/xmalloc.h"

#define COMPONENT "exporter"
/* Upper bound on how long cam_subscriber_stop waits for the thread. */
#define RECV_TIMEOUT_MS 100
/* Pause after an unexpected receive error, so it cannot spin. */
#define RECV_ERROR_PAUSE_MS 100

struct cam_subscriber {
	pthread_mutex_t lock; /* guards latest and state, nothing slow */
	struct cam_sub_snapshot *latest;
	enum cam_kernel_state state; /* as last judged, for transition logs */
	uint32_t default_interval_ms;
	atomic_bool error_streak; /* decode errors since the last good one */
	atomic_uint_fast64_t received;
	atomic_uint_fast64_t decode_errors;
	atomic_uint_fast64_t instances;
	atomic_uint_fast64_t last_sequence;
	atomic_uint_fast64_t generations; /* snapshots taken, for their generation */
	cam_bus *bus;
	pthread_t thread;
	bool running;
	bool fed_spans; /* the last message fed was a span or log batch */
	cam_span_sink_fn span_sink;
	void *span_sink_arg;
	cam_span_sink_fn log_sink;
	void *log_sink_arg;
	atomic_bool stopping;
};

cam_subscriber *cam_subscriber_new(uint32_t default_interval_ms)
{
	cam_subscriber *s = cam_xcalloc(1, sizeof(*s));

	pthread_mutex_init(&s->lock, NULL);
	s->state = CAM_KERNEL_ABSENT;
	s->default_interval_ms = default_interval_ms;
	atomic_init(&s->error_streak, false);
	atomic_init(&s->received, 0);
	atomic_init(&s->decode_errors, 0);
	atomic_init(&s->instances, 0);
	atomic_init(&s->last_sequence, 0);
	atomic_init(&s->stopping, false);
	return s;
}

void cam_subscriber_set_span_sink(cam_subscriber *s, cam_span_sink_fn fn, void *arg)
{
	s->span_sink = fn;
	s->span_sink_arg = arg;
}

void cam_subscriber_set_log_sink(cam_subscriber *s, cam_span_sink_fn fn, void *arg)
{
	s->log_sink = fn;
	s->log_sink_arg = arg;
}

/* Hands a span or log batch to its sink (or drops it when there is none). */
static void to_sink(cam_span_sink_fn fn, void *arg, Cam__Bus__Envelope *env)
{
	if (fn)
		fn(arg, env);
	else
		cam_snapshot_unpacked_free(env);
}

void cam_subscriber_free(cam_subscriber *s)
{
	if (!s)
		return;
	cam_subscriber_stop(s);
	cam_sub_snapshot_release(s->latest);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void cam_sub_snapshot_release(struct cam_sub_snapshot *snap)
{
	if (!snap || atomic_fetch_sub(&snap->refs, 1) != 1)
		return;
	cam_snapshot_unpacked_free(snap->envelope);
	free(snap);
}

struct cam_sub_snapshot *cam_subscriber_latest(cam_subscriber *s)
{
	struct cam_sub_snapshot *snap;

	pthread_mutex_lock(&s->lock);
	snap = s->latest;
	if (snap)
		atomic_fetch_add(&snap->refs, 1);
	pthread_mutex_unlock(&s->lock);
	return snap;
}

enum cam_kernel_state cam_sub_snapshot_state(const struct cam_sub_snapshot *snap,
					     uint64_t now_ns)
{
	if (!snap)
		return CAM_KERNEL_ABSENT;
	return cam_staleness_judge(true, snap->received_ns, snap->interval_ms,
				   now_ns);
}

void cam_subscriber_stats(cam_subscriber *s, struct cam_subscriber_stats *out)
{
	out->received = atomic_load(&s->received);
	out->decode_errors = atomic_load(&s->decode_errors);
	out->instances = atomic_load(&s->instances);
	out->last_sequence = atomic_load(&s->last_sequence);
}

/* The first error after a good message is a warning, the rest debug. */
static void count_error(cam_subscriber *s, size_t len, const char *why)
{
	uint64_t n = atomic_fetch_add(&s->decode_errors, 1) + 1;
	bool first = !atomic_exchange(&s->error_streak, true);
	struct cam_log_line l;

	if (!cam_log_begin(&l, first ? CAM_LOG_WARN : CAM_LOG_DEBUG, COMPONENT,
			   "dropped a bus message that is not a valid snapshot"))
		return;
	cam_log_str(&l, "reason", why ? why : "unknown");
	cam_log_int(&l, "bytes", (int64_t)len);
	cam_log_int(&l, "decode_errors", (int64_t)n);
	cam_log_end(&l);
}

static void log_snapshot(const char *message, enum cam_log_level level,
			 const Cam__Bus__Snapshot *snap, const char *previous)
{
	struct cam_log_line l;

	if (!cam_log_begin(&l, level, COMPONENT, message))
		return;
	cam_log_str(&l, "instance_id", snap->instance_id);
	if (previous)
		cam_log_str(&l, "previous_instance_id", previous);
	cam_log_str(&l, "kernel_version", snap->version);
	cam_log_int(&l, "sequence", (int64_t)snap->sequence);
	cam_log_int(&l, "publish_interval_ms", snap->publish_interval_ms);
	cam_log_end(&l);
}

/* Says when the kernel appears, restarts, or comes back from stale. */
static void announce(cam_subscriber *s, const struct cam_sub_snapshot *old,
		     const struct cam_sub_snapshot *now,
		     enum cam_kernel_state was)
{
	const Cam__Bus__Snapshot *snap = now->snapshot;

	if (!old) {
		atomic_fetch_add(&s->instances, 1);
		log_snapshot("kernel appeared on the bus", CAM_LOG_INFO, snap,
			     NULL);
	} else if (strcmp(old->snapshot->instance_id, snap->instance_id) != 0) {
		atomic_fetch_add(&s->instances, 1);
		log_snapshot("kernel restarted (new instance)", CAM_LOG_INFO,
			     snap, old->snapshot->instance_id);
	} else if (was == CAM_KERNEL_STALE) {
		log_snapshot("kernel snapshots are fresh again", CAM_LOG_INFO,
			     snap, NULL);
	}
}

int cam_subscriber_feed(cam_subscriber *s, const void *buf, size_t len,
			uint64_t now_ns)
{
	struct cam_sub_snapshot *snap, *old;
	Cam__Bus__Envelope *env;
	enum cam_kernel_state was;
	const char *why = NULL;

	env = cam_snapshot_unpack(buf, len, &why);
	s->fed_spans = env && (env->body_case == CAM__BUS__ENVELOPE__BODY_SPANS ||
			       env->body_case == CAM__BUS__ENVELOPE__BODY_LOGS);
	if (s->fed_spans) {
		atomic_store(&s->error_streak, false);
		if (env->body_case == CAM__BUS__ENVELOPE__BODY_SPANS)
			to_sink(s->span_sink, s->span_sink_arg, env);
		else
			to_sink(s->log_sink, s->log_sink_arg, env);
		return 0;
	}
	if (env && (env->body_case != CAM__BUS__ENVELOPE__BODY_SNAPSHOT ||
		    !env->snapshot)) {
		cam_snapshot_unpacked_free(env);
		env = NULL;
		why = "the envelope holds no snapshot";
	}
	if (!env) {
		count_error(s, len, why);
		return CAM_EPROTO;
	}
	snap = cam_xcalloc(1, sizeof(*snap));
	atomic_init(&snap->refs, 1);
	snap->envelope = env;
	snap->snapshot = env->snapshot;
	snap->received_ns = now_ns;
	snap->generation = atomic_fetch_add(&s->generations, 1) + 1;
	snap->interval_ms = cam_staleness_interval_ms(
		env->snapshot->publish_interval_ms, s->default_interval_ms);

	pthread_mutex_lock(&s->lock);
	old = s->latest;
	s->latest = snap;
	was = s->state;
	s->state = CAM_KERNEL_FRESH;
	pthread_mutex_unlock(&s->lock);

	atomic_store(&s->error_streak, false);
	atomic_fetch_add(&s->received, 1);
	atomic_store(&s->last_sequence, env->snapshot->sequence);
	announce(s, old, snap, was);
	cam_sub_snapshot_release(old);
	return 0;
}

enum cam_kernel_state cam_subscriber_tick(cam_subscriber *s, uint64_t now_ns)
{
	struct cam_sub_snapshot *snap;
	enum cam_kernel_state state, was;
	struct cam_log_line l;

	pthread_mutex_lock(&s->lock);
	snap = s->latest;
	if (snap)
		atomic_fetch_add(&snap->refs, 1);
	state = cam_sub_snapshot_state(snap, now_ns);
	was = s->state;
	s->state = state;
	pthread_mutex_unlock(&s->lock);

	if (was == CAM_KERNEL_FRESH && state == CAM_KERNEL_STALE &&
	    cam_log_begin(&l, CAM_LOG_WARN, COMPONENT,
			  "kernel snapshot is stale: serving exporter metrics only")) {
		cam_log_str(&l, "instance_id", snap->snapshot->instance_id);
		cam_log_int(&l, "sequence", (int64_t)snap->snapshot->sequence);
		cam_log_num(&l, "age_seconds",
			    cam_staleness_age_seconds(snap->received_ns, now_ns));
		cam_log_num(&l, "limit_seconds",
			    CAM_STALE_INTERVALS * snap->interval_ms / 1000.0);
		cam_log_end(&l);
	}
	cam_sub_snapshot_release(snap);
	return state;
}

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void *receive_loop(void *arg)
{
	cam_subscriber *s = arg;
	void *buf;
	size_t len;
	int rc;

	while (!atomic_load(&s->stopping)) {
		rc = cam_bus_recv(s->bus, &buf, &len, RECV_TIMEOUT_MS);
		if (rc == 0) {
			cam_subscriber_feed(s, buf, len, cam_staleness_now_ns());
			cam_bus_msg_free(buf, len);
			/*
			 * The snapshot just replaced is as large as the new
			 * one: hand its pages back rather than let the heap
			 * keep two snapshots' worth (glibc keeps freed memory).
			 */
			if (!s->fed_spans)
				malloc_trim(0);
		} else if (rc == CAM_ECLOSED) {
			break;
		} else if (rc != CAM_ETIMEDOUT) {
			cam_log(CAM_LOG_WARN, COMPONENT, "bus receive failed: %s",
				cam_strerror(rc));
			pause_ms(RECV_ERROR_PAUSE_MS);
		}
		cam_subscriber_tick(s, cam_staleness_now_ns());
	}
	return NULL;
}

int cam_subscriber_start(cam_subscriber *s, const char *addr)
{
	int rc;

	if (s->running)
		return CAM_EEXIST;
	rc = cam_bus_sub_new(addr, &s->bus);
	if (rc < 0)
		return rc;
	atomic_store(&s->stopping, false);
	rc = pthread_create(&s->thread, NULL, receive_loop, s);
	if (rc != 0) {
		cam_bus_free(s->bus);
		s->bus = NULL;
		return cam_err_from_errno(rc);
	}
	s->running = true;
	return 0;
}

void cam_subscriber_stop(cam_subscriber *s)
{
	if (!s->running)
		return;
	atomic_store(&s->stopping, true);
	pthread_join(s->thread, NULL);
	cam_bus_free(s->bus);
	s->bus = NULL;
	s->running = false;
}
