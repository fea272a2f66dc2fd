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

typedef struct cam_publisher cam_publisher;

struct cam_publisher_opts {
	cam_bus *bus;            /* borrowed; must outlive the publisher */
	uint32_t interval_ms;
	const char *instance_id; /* copied */
	double start_time_seconds;
	const char *version;     /* copied */
};

int cam_publisher_start(const struct cam_publisher_opts *o, cam_publisher **out);
/* Publishes one last snapshot, stops the thread and frees; NULL is a no-op. */
void cam_publisher_stop(cam_publisher *p);
/* Snapshots sent so far (for observe and tests). */
uint64_t cam_publisher_sequence(const cam_publisher *p);

#endif
