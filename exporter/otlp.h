/*
 * cam-exporter's OTLP push of metrics and logs (spans go through
 * traces.h): one pusher per signal (otlp_push.h), each on its own thread,
 * so a scrape never waits for a push nor a push for a scrape.
 *
 * Metrics: every CAM_OTLP_METRICS_INTERVAL_MS the pusher takes a reference
 * to the latest kernel snapshot (the one /metrics serves, when fresh),
 * builds the exporter's own, and encodes both (otlp_metrics.h): the
 * kernel's under its resource, the exporter's (cam_os_kernel_up and the
 * rest) under service.name cam-exporter.
 *
 * Logs: log batches from the bus (the kernel's log lines and audit
 * records, kernel/log_bus.h) are held, at most CAM_OTLP_LOGS_BUFFER lines
 * (past that they are dropped and counted), and encoded
 * (otlp_logs.h) CAM_OTLP_LOGS_BATCH lines to a request at least every
 * CAM_OTLP_LOGS_FLUSH_MS.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_OTLP_H
#define CAM_EXPORTER_OTLP_H

#include "exporter/otlp_settings.h"
#include "exporter/selfmetrics.h"
#include "exporter/subscriber.h"
#include "proto/bus.pb-c.h"

typedef struct cam_otlp cam_otlp;

/*
 * Starts the pushers of the signals s turns on (metrics, logs; neither:
 * *out NULL and 0). s, sub and self are borrowed and must outlive the push:
 * stop the subscriber's thread (no more log batches), then the push, then
 * free them. CAM_EUNAVAIL when libcurl
 * cannot be loaded, CAM_EINTERNAL when a thread cannot start; why in err.
 */
int cam_otlp_start(const struct cam_otlp_settings *s, cam_subscriber *sub,
		   const struct cam_selfmetrics *self, cam_otlp **out, char *err, size_t errlen);

/* Whether logs are pushed (then set cam_otlp_log_sink as the subscriber's
 * log sink). */
bool cam_otlp_wants_logs(const cam_otlp *o);

/* The subscriber's log sink (subscriber.h): takes env, never blocks. */
void cam_otlp_log_sink(void *arg, Cam__Bus__Envelope *env);

/* Pushes what is due a last time and stops; NULL is a no-op. */
void cam_otlp_stop(cam_otlp *o);

#endif
