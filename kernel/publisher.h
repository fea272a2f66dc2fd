/*
 * The publisher thread: every interval it collects the metrics registry
 * into a snapshot and sends it on the bus. Sending never blocks, so a slow
 * or absent exporter costs the kernel nothing.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_PUBLISHER_H
#define CAM_PUBLISHER_H

#include <stdint.h>

#include "common/bus.h"
#include "kernel/log_bus.h"
#include "kernel/tracing/span_ring.h"

typedef struct cam_publisher cam_publisher;

struct cam_publisher_opts {
	cam_bus *bus;            /* borrowed; must outlive the publisher */
	cam_span_ring *spans;    /* borrowed, may be NULL: drained into span batches */
	cam_log_bus *logs;       /* borrowed, may be NULL: drained into log batches */
	uint32_t interval_ms;
	const char *instance_id; /* copied */
	double start_time_seconds;
	const char *version;     /* copied */
};

/* Registers the publisher's own families (cam_os_bus_*, ...) and starts
 * its thread, which publishes at once and then every interval_ms. 0, or
 * CAM_E* with nothing left running. */
int cam_publisher_new(const struct cam_publisher_opts *o, cam_publisher **out);
/* Publishes the spans and log lines waiting and one last snapshot, stops the thread
 * and frees; NULL is a no-op. */
void cam_publisher_free(cam_publisher *p);
/* Snapshots sent so far (for observe and tests). */
uint64_t cam_publisher_sequence(const cam_publisher *p);

#endif
