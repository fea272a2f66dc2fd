/*
 * One OTLP signal's pusher: a thread that makes requests on a period and
 * sends them to the signal's endpoint, away from the scrape and the bus.
 *
 * Every period_ms (or when woken) the thread asks its producer for
 * requests (the metrics encoder, or the logs batcher: otlp.c), which go
 * into a queue bounded in bytes (otlp_queue.h). It sends the queue in
 * order. A request the endpoint cannot take now (otlp_post.h: 429,
 * 502-504, no answer) stays and is tried again after a back-off that
 * doubles from 500 ms up to retry_max_ms, or after the server's
 * Retry-After when it gave one; meanwhile the producer goes on and the
 * queue drops its oldest requests past the bound. A request refused for
 * good is dropped. Counted per signal:
 *   cam_os_otlp_exported_total{signal}         points or records accepted
 *   cam_os_otlp_export_failures_total{signal}  points or records lost: the
 *                                              queue was full, the endpoint
 *                                              refused them, or they were
 *                                              unsent at shutdown
 *   cam_os_otlp_retries_total{signal}          requests to be sent again
 *   cam_os_otlp_queue_bytes{signal}            bytes waiting
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_OTLP_PUSH_H
#define CAM_EXPORTER_OTLP_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/otlp_switch.h"
#include "exporter/curl_lib.h"
#include "exporter/otlp_post.h"

typedef struct cam_otlp_push cam_otlp_push;

/* Registers the four families with a series per signal (metrics, logs) at
 * 0, so that they are served (and alerts on them evaluate) with OTLP off
 * too; pushers register them again. 0 or CAM_ETYPE. */
int cam_otlp_push_register_metrics(void);

/*
 * Called on the pusher's thread when requests are due (every period, on a
 * wake, and once more with final true at stop); it hands them over with
 * cam_otlp_push_enqueue. It must not call cam_otlp_push_stop.
 */
typedef void (*cam_otlp_produce_fn)(void *arg, cam_otlp_push *p, bool final);

struct cam_otlp_push_config {
	enum cam_otlp_signal signal;
	struct cam_otlp_post_config post; /* its strings must outlive the pusher */
	size_t queue_bytes;
	uint32_t period_ms;
	uint32_t retry_max_ms;
	cam_otlp_produce_fn produce;
	void *arg;
};

struct cam_otlp_push_stats {
	uint64_t requests_sent;
	uint64_t exported, failed, retries; /* as the counters above */
	size_t queued_bytes;
	long last_status; /* HTTP status of the latest answer; 0: none */
};

/*
 * Registers the metrics and starts the thread, which calls the producer at
 * once. 0, or CAM_EINTERNAL (reason in err) when the thread cannot start.
 * Stop with cam_otlp_push_stop.
 */
int cam_otlp_push_start(const struct cam_otlp_push_config *c, const struct cam_curl_lib *cl,
			cam_otlp_push **out, char *err, size_t errlen);

/* Queues a copy of a request carrying items (any thread). */
void cam_otlp_push_enqueue(cam_otlp_push *p, const void *body, size_t len, size_t items);

/* Calls the producer now rather than at the end of the period. */
void cam_otlp_push_wake(cam_otlp_push *p);

/* Counts items lost before they reached the queue (a producer's own
 * bound). */
void cam_otlp_push_count_lost(cam_otlp_push *p, size_t items);

void cam_otlp_push_stats(cam_otlp_push *p, struct cam_otlp_push_stats *out);

/*
 * Asks the producer a last time, tries what is queued once more (2 s at
 * most, not at all while the endpoint is failing), counts the rest as
 * lost, stops the thread and frees p. NULL is a no-op.
 */
void cam_otlp_push_stop(cam_otlp_push *p);

#endif
