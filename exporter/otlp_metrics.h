/*
 * Snapshots as an OTLP ExportMetricsServiceRequest (HTTP/protobuf body of
 * POST /v1/metrics), packed by protobuf-c from the vendored OpenTelemetry
 * definitions.
 *
 * The mapping, family by family:
 *   counter            -> Sum, cumulative, monotonic; start_time_unix_nano
 *                         is the kernel's start, so a restart shows as a
 *                         new start time (and a new service.instance.id),
 *                         never as a counter going back
 *   gauge              -> Gauge
 *   histogram          -> Histogram, cumulative, explicit bounds (the
 *                         family's), per-bucket counts, sum, count
 *   native histogram   -> ExponentialHistogram, cumulative: scale = schema,
 *                         zero_count, positive and negative buckets as
 *                         offset + dense counts (Prometheus' bucket i,
 *                         (base^(i-1), base^i], is OTel's bucket i - 1,
 *                         (base^(i-1), base^i]: the offset is the first
 *                         index less one, gaps between spans are zeros)
 *   exemplar           -> Exemplar on the histogram's point: value, time,
 *                         trace_id and span_id as bytes
 *   labels             -> attributes (string; an empty value is no label,
 *                         as in Prometheus, and is left out)
 *   help, unit         -> description, unit in UCUM as OTel's semantic
 *                         conventions want it (cam_otlp_unit)
 * Metric names stay the Prometheus names, so a Prometheus that takes OTLP
 * stores the series under the names dashboards and alerts already use.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_OTLP_METRICS_H
#define CAM_EXPORTER_OTLP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/otlp_arena.h"
#include "exporter/otlp_kv.h"
#include "exporter/render.h"
#include "proto/bus.pb-c.h"

/* One process's families, which become one ResourceMetrics. */
struct cam_otlp_metrics_src {
	const Cam__Bus__Snapshot *snap; /* NULL: left out */
	const char *service;            /* service.name: "cam-kernel", "cam-exporter" */
	bool service_from_attrs;        /* OTEL_SERVICE_NAME etc. may rename it */
	const char *instance_id;        /* service.instance.id */
	const char *version;            /* service.version */
	const char *scope;              /* instrumentation scope name */
	double start_time_seconds;      /* when cumulative counts began */
	int64_t timestamp_ms;           /* the points' time */
};

/* Largest dense bucket array of one exponential histogram point; a wider
 * one is sent at a lower scale (buckets merged pairwise, counts kept). */
#define CAM_OTLP_MAX_DENSE_BUCKETS 65536

/*
 * Replaces out's contents with the packed request for src[0..n) (sources
 * with a NULL snapshot are skipped), with attrs the operator's resource
 * attributes (may be NULL). The arena holds the message tree and is reset
 * first. Returns the data points written. Can't fail (allocation failure
 * aborts).
 */
size_t cam_otlp_metrics_encode(struct cam_otlp_arena *a, const struct cam_otlp_kv_list *attrs,
			       const struct cam_otlp_metrics_src *src, size_t n,
			       struct cam_render_buf *out);

/*
 * The UCUM unit of a family: its unit, else the unit its name ends in
 * (_seconds, _bytes, _ratio..., before any _total): seconds -> "s",
 * milliseconds -> "ms", bytes -> "By", ratio -> "1", percent -> "%",
 * celsius -> "Cel", hertz -> "Hz", joules -> "J", volts -> "V",
 * amperes -> "A", meters -> "m", grams -> "g". "" when neither says.
 */
const char *cam_otlp_unit(const Cam__Bus__Family *f);

#endif
