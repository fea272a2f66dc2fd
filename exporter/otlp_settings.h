/*
 * The OTLP push's settings, from cam-exporter's own (CAM_OTLP_*, each with
 * its flag) and, where OpenTelemetry defines one, the standard variable
 * (OTEL_*), which a CAM_ setting overrides. Signal-specific beats general.
 *
 *   endpoint     common/otlp_switch.h says which is on. The base endpoint
 *                (CAM_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT) gets
 *                /v1/metrics, /v1/logs, /v1/traces after its path, as OTel
 *                SDKs do (a base ending in /v1/traces, as CAM_OTLP_ENDPOINT
 *                was once given for spans alone, is taken for the traces
 *                URL and cut there for the others); CAM_OTLP_<SIGNAL>_
 *                ENDPOINT gets its path only when it has none;
 *                OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT is used as it is.
 *   headers      CAM_OTLP_HEADERS, OTEL_EXPORTER_OTLP_[<SIGNAL>_]HEADERS
 *   timeout      CAM_OTLP_TIMEOUT_MS, OTEL_EXPORTER_OTLP_[<SIGNAL>_]TIMEOUT
 *   compression  CAM_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_[<SIGNAL>_]COMPRESSION
 *   TLS          CAM_OTLP_CERTIFICATE, CAM_OTLP_CLIENT_CERTIFICATE,
 *                CAM_OTLP_CLIENT_KEY, OTEL_EXPORTER_OTLP_[<SIGNAL>_]{CERTIFICATE,
 *                CLIENT_CERTIFICATE,CLIENT_KEY}
 *   protocol     OTEL_EXPORTER_OTLP_[<SIGNAL>_]PROTOCOL: only http/protobuf
 *                for metrics and logs (anything else is an error)
 *   interval     CAM_OTLP_METRICS_INTERVAL_MS, OTEL_METRIC_EXPORT_INTERVAL
 *   logs batch   CAM_OTLP_LOGS_BATCH, OTEL_BLRP_MAX_EXPORT_BATCH_SIZE;
 *                CAM_OTLP_LOGS_FLUSH_MS, OTEL_BLRP_SCHEDULE_DELAY;
 *                CAM_OTLP_LOGS_BUFFER, OTEL_BLRP_MAX_QUEUE_SIZE
 *   bounds       CAM_OTLP_QUEUE_BYTES (per signal), CAM_OTLP_RETRY_MAX_MS
 *   resource     OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME (service.name),
 *                CAM_K8S_POD_NAME (k8s.pod.name), CAM_K8S_NAMESPACE
 *                (k8s.namespace.name)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_OTLP_SETTINGS_H
#define CAM_EXPORTER_OTLP_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/otlp_switch.h"
#include "exporter/otlp_kv.h"

struct cam_otlp_signal_settings {
	bool on;
	char url[1024];
	struct cam_otlp_kv_list headers;
	uint32_t timeout_ms;
	bool gzip;
	const char *ca_file;     /* the getter's strings: NULL when unset */
	const char *client_cert;
	const char *client_key;
};

struct cam_otlp_settings {
	struct cam_otlp_signal_settings sig[CAM_OTLP_NSIGNALS];
	uint32_t metrics_interval_ms;
	uint32_t logs_flush_ms;
	uint32_t retry_max_ms;
	size_t queue_bytes;
	size_t logs_batch;
	size_t logs_buffer;
	struct cam_otlp_kv_list resource;
};

/* Defaults. */
#define CAM_OTLP_DEFAULT_INTERVAL_MS 15000
#define CAM_OTLP_DEFAULT_TIMEOUT_MS 10000
#define CAM_OTLP_DEFAULT_QUEUE_BYTES (16u * 1024 * 1024)

/*
 * Fills s (zeroed first) from get, which must return strings that outlive
 * s. CAM_EINVAL with the reason, naming the setting, in err when one is
 * wrong: a URL that is not http(s), a bad header or attribute list, a
 * number out of range, an unknown compression or protocol, a TLS file
 * that cannot be read. Free with cam_otlp_settings_free even on error.
 */
int cam_otlp_settings_read(struct cam_otlp_settings *s, cam_otlp_get_fn get, void *arg,
			   char *err, size_t errlen);
void cam_otlp_settings_free(struct cam_otlp_settings *s);

#endif
