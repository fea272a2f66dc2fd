/*
 * The Prometheus protobuf exposition of one family, for cam_render: a
 * delimited io.prometheus.client.MetricFamily (proto/prometheus/
 * metrics.proto), packed by protobuf-c. Histograms carry their classic
 * buckets (cumulative, +Inf implied by the count, the exemplar on its
 * bucket) and, for native families, their native buckets as spans and
 * deltas. The scratch keeps the message trees' memory from series to
 * series, so a render allocates only when a series is larger than any
 * before it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_RENDER_PROTO_H
#define CAM_EXPORTER_RENDER_PROTO_H

#include "exporter/render.h"
#include "proto/bus.pb-c.h"

struct cam_proto_scratch;

struct cam_proto_scratch *cam_proto_scratch_new(void);
void cam_proto_scratch_free(struct cam_proto_scratch *sc);

/* Appends f's MetricFamily, after its length, to b; counts what it wrote
 * and skipped in res as cam_render does. */
void cam_render_proto_family(struct cam_render_buf *b, struct cam_proto_scratch *sc,
			     const Cam__Bus__Family *f, struct cam_render_result *res);

#endif
