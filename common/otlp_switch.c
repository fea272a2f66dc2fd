/*
 * The OTLP switch of otlp_switch.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/otlp_switch.h"

#include <stdio.h>
#include <strings.h>

static const char *const names[CAM_OTLP_NSIGNALS] = { "metrics", "logs", "traces" };
static const char *const upper[CAM_OTLP_NSIGNALS] = { "METRICS", "LOGS", "TRACES" };

const char *cam_otlp_signal_name(enum cam_otlp_signal s)
{
	return (unsigned)s < CAM_OTLP_NSIGNALS ? names[s] : "unknown";
}

static const char *set(const char *v)
{
	return v && v[0] ? v : NULL;
}

const char *cam_otlp_endpoint(enum cam_otlp_signal s, cam_otlp_get_fn get, void *arg,
			      bool *base)
{
	char name[64];
	const char *v, *off;

	*base = false;
	if ((unsigned)s >= CAM_OTLP_NSIGNALS)
		return NULL;
	snprintf(name, sizeof(name), "CAM_OTLP_%s_ENDPOINT", upper[s]);
	if ((v = set(get(arg, name))))
		return v;
	off = get(arg, "OTEL_SDK_DISABLED");
	if (off && !strcasecmp(off, "true"))
		off = "none";
	else {
		snprintf(name, sizeof(name), "OTEL_%s_EXPORTER", upper[s]);
		off = get(arg, name);
	}
	if ((v = set(get(arg, "CAM_OTLP_ENDPOINT")))) {
		*base = true;
		return v;
	}
	if (off && !strcasecmp(off, "none"))
		return NULL;
	snprintf(name, sizeof(name), "OTEL_EXPORTER_OTLP_%s_ENDPOINT", upper[s]);
	if ((v = set(get(arg, name))))
		return v;
	if ((v = set(get(arg, "OTEL_EXPORTER_OTLP_ENDPOINT"))))
		*base = true;
	return v;
}
