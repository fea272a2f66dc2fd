/*
 * Span batches: spans from the span ring as a cam.bus.SpanBatch envelope,
 * ready for the bus. The publisher drains the ring into these every
 * interval; the exporter ships them on (exporter/traces.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_TRACING_SPAN_BATCH_H
#define CAM_TRACING_SPAN_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/tracing/span_ring.h"

struct cam_span_batch_meta {
	const char *instance_id;
	const char *version;
	uint64_t sequence;
};

/*
 * Packs spans[0..n) (n <= CAM_SPAN_BATCH_MAX) into an Envelope. The
 * "k=v,k2=v2" attributes become attributes (a part without '=' continues
 * the value before it), and mapped ids keep their original as
 * cam.original_trace_id / cam.original_span_id. *buf is malloc'd, the
 * caller frees it. Returns 0 or CAM_ENOMEM.
 */
int cam_span_batch_pack(const struct cam_span_batch_meta *meta,
			const struct cam_span *spans, size_t n, uint8_t **buf,
			size_t *len);

#endif
