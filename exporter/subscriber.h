/*
 * The exporter's bus subscriber: receives snapshots, keeps the latest.
 *
 * A thread receives from the nng bus and checks each message with
 * cam_snapshot_unpack. A good snapshot replaces the latest one; anything
 * else is counted as a decode error and dropped, and the last good snapshot
 * stays. A snapshot from another kernel instance (a restart) is simply
 * taken. The latest snapshot is a refcounted object swapped under a mutex
 * held for a pointer copy, so a scrape rendering it never holds up a
 * receive and a receive never waits for a scrape.
 *
 * Everything a thread does can also be driven by hand (feed, tick) with an
 * injected clock, which is how the tests exercise it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_SUBSCRIBER_H
#define CAM_EXPORTER_SUBSCRIBER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/staleness.h"
#include "proto/bus.pb-c.h"

typedef struct cam_subscriber cam_subscriber;

/*
 * One received snapshot, shared by the subscriber and any number of
 * scrapes. Read-only to holders; release each reference exactly once.
 */
struct cam_sub_snapshot {
	const Cam__Bus__Snapshot *snapshot; /* never NULL */
	uint64_t received_ns; /* CLOCK_MONOTONIC when it arrived */
	uint32_t interval_ms; /* its publish interval (or the default) */
	uint64_t generation;  /* 1, 2, ... in the order they arrived: never reused */
	/* private */
	atomic_uint refs;
	Cam__Bus__Envelope *envelope;
};

struct cam_subscriber_stats {
	uint64_t received;      /* good snapshots taken */
	uint64_t decode_errors; /* messages dropped as garbage or invalid */
	uint64_t instances;     /* kernel instances seen (1 + restarts) */
	uint64_t last_sequence; /* sequence of the latest good snapshot */
};

/*
 * Makes a subscriber with no bus yet. default_interval_ms judges snapshots
 * that carry no interval of their own (CAM_PUBLISH_INTERVAL_MS). Can't
 * fail (allocation failure aborts). Free with cam_subscriber_free.
 */
cam_subscriber *cam_subscriber_new(uint32_t default_interval_ms);

/*
 * Where span batches go: fn gets each valid batch and owns env from then
 * on (free it with cam_snapshot_unpacked_free). Called on the receiving
 * thread: it must not block. Without a sink, batches are dropped
 * (uncounted: tracing is off). Set before cam_subscriber_start.
 */
typedef void (*cam_span_sink_fn)(void *arg, Cam__Bus__Envelope *env);
void cam_subscriber_set_span_sink(cam_subscriber *s, cam_span_sink_fn fn, void *arg);
/* The same for log batches (OTLP logs push, otlp.h). */
void cam_subscriber_set_log_sink(cam_subscriber *s, cam_span_sink_fn fn, void *arg);

/*
 * Stops the thread if it runs, drops the latest snapshot (holders keep
 * theirs valid until they release it) and frees s. NULL is a no-op.
 */
void cam_subscriber_free(cam_subscriber *s);

/*
 * Dials the bus at addr (the dialer retries in the background, so a kernel
 * that is not up yet is not an error) and starts the receiving thread.
 * Returns 0 or the CAM_E* code of cam_bus_sub_new / pthread_create.
 */
int cam_subscriber_start(cam_subscriber *s, const char *addr);

/* Stops the thread within one receive timeout and closes the bus. Safe to
 * call when not started, and twice. */
void cam_subscriber_stop(cam_subscriber *s);

/*
 * Takes one message as if it came off the bus at now_ns. Returns 0 when it
 * became the latest snapshot or was a span or log batch handed to its sink,
 * CAM_EPROTO when it was counted as a decode error and dropped. The receiving thread calls this; so can tests.
 */
int cam_subscriber_feed(cam_subscriber *s, const void *buf, size_t len,
			uint64_t now_ns);

/*
 * Judges the latest snapshot at now_ns and logs when the kernel goes stale.
 * The receiving thread calls it after every receive or timeout. Returns the
 * state.
 */
enum cam_kernel_state cam_subscriber_tick(cam_subscriber *s, uint64_t now_ns);

/*
 * A reference to the latest snapshot, or NULL when none has arrived. The
 * caller must cam_sub_snapshot_release() it. Never blocks on a receive.
 */
struct cam_sub_snapshot *cam_subscriber_latest(cam_subscriber *s);
void cam_sub_snapshot_release(struct cam_sub_snapshot *snap);

/* Judges snap (may be NULL: ABSENT) at now_ns. */
enum cam_kernel_state cam_sub_snapshot_state(const struct cam_sub_snapshot *snap,
					     uint64_t now_ns);

void cam_subscriber_stats(cam_subscriber *s, struct cam_subscriber_stats *out);

#endif
