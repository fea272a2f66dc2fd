/*
 * key=value lists as OpenTelemetry writes them in the environment:
 * OTEL_EXPORTER_OTLP_HEADERS / CAM_OTLP_HEADERS ("api-key=secret,x=y") and
 * OTEL_RESOURCE_ATTRIBUTES ("k8s.pod.name=cam-0,deployment.environment=prod").
 * Pairs are separated by commas, a key from its value by the first '=',
 * spaces around either are trimmed, and values are percent-decoded (the
 * W3C Baggage octet rules the OTel specification names), so a comma or an
 * '=' in a value is written %2C or %3D.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_OTLP_KV_H
#define CAM_EXPORTER_OTLP_KV_H

#include <stddef.h>

struct cam_otlp_kv {
	char *key;
	char *value;
};

struct cam_otlp_kv_list {
	struct cam_otlp_kv *kv;
	size_t n;
};

/*
 * Parses s (NULL or "" is an empty list) into out, appending to what it
 * holds. what names the setting in error messages. A pair without '=', an
 * empty key, a bad %XX, a control character, or more than 64 pairs is
 * CAM_EINVAL with the reason in err (out then holds what came before).
 * A key seen again replaces the earlier value.
 */
int cam_otlp_kv_parse(struct cam_otlp_kv_list *out, const char *s, const char *what,
		      char *err, size_t errlen);
/* The value of key, or NULL. */
const char *cam_otlp_kv_get(const struct cam_otlp_kv_list *l, const char *key);
/* Adds or replaces key (copies both). */
void cam_otlp_kv_set(struct cam_otlp_kv_list *l, const char *key, const char *value);
/* Frees what l holds and leaves it empty. */
void cam_otlp_kv_free(struct cam_otlp_kv_list *l);

#endif
