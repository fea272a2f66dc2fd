/*
 * Snapshots: the metrics registry as a cam.bus.Snapshot message (and the
 * checks of the span batches that share the bus with them).
 *
 * The kernel builds one from its registry and packs it into an Envelope for
 * the bus; the exporter unpacks and checks what arrives (a well-formed
 * protobuf can still say nonsense) and builds one of its own registry for
 * its self-metrics, so one renderer serves both.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SNAPSHOT_H
#define CAM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/bus.pb-c.h"

/* Largest packed snapshot accepted either way. */
#define CAM_BUS_MAX_SNAPSHOT (64u * 1024 * 1024)

struct cam_snapshot_meta {
	uint64_t sequence;
	const char *instance_id;
	double start_time_seconds;
	int64_t timestamp_ms;
	uint32_t publish_interval_ms;
	const char *version;
};

/*
 * Collects the registry into a snapshot tree. Free with cam_snapshot_free.
 * Never fails (allocation failure aborts).
 */
Cam__Bus__Snapshot *cam_snapshot_build(const struct cam_snapshot_meta *meta);
void cam_snapshot_free(Cam__Bus__Snapshot *s);

/* Packs a snapshot into an Envelope; *buf is malloc'd, caller frees. */
int cam_snapshot_pack(const Cam__Bus__Snapshot *s, uint8_t **buf, size_t *len);

/* Most spans in one SpanBatch, and attributes on one span. */
#define CAM_SPAN_BATCH_MAX 1024
#define CAM_SPAN_MAX_ATTRIBUTES 32
/* Most lines in one LogBatch, and bytes in one line. */
#define CAM_LOG_BATCH_MAX 1024
#define CAM_LOG_BUS_LINE_MAX 16384

/*
 * Unpacks an Envelope holding a snapshot, a span batch or a log batch (see
 * the body case) and checks it. A log batch: at most CAM_LOG_BATCH_MAX
 * lines of a known kind, each UTF-8 of at most CAM_LOG_BUS_LINE_MAX bytes
 * that starts with '{'. A span batch: W3C hex ids, UTF-8 names and
 * attributes of bounded size, at most CAM_SPAN_BATCH_MAX spans. A
 * snapshot: metric and label names valid, label value counts match,
 * histogram bucket bounds increasing and bucket counts one more than
 * bounds, no duplicate family names, exemplars only on histograms and with
 * hex ids, native buckets only on native histograms, with a schema of
 * -4..8, spans that match their counts and stay in range, and no more in
 * buckets than its classic buckets hold. An empty envelope is refused.
 * Returns NULL with *why set (static text) when anything is wrong; free the
 * result with cam_snapshot_unpacked_free.
 */
Cam__Bus__Envelope *cam_snapshot_unpack(const uint8_t *buf, size_t len,
					const char **why);
void cam_snapshot_unpacked_free(Cam__Bus__Envelope *e);

#endif
