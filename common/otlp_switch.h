/*
 * Which OTLP signals are switched on, decided once for both programs.
 *
 * cam-exporter pushes OTLP; cam-kernel only needs to know whether logs are
 * pushed, to put its log lines on the bus for the exporter
 * (kernel/log_bus.h). Both ask here, with the same variables (set them on
 * both, as CAM_PROFILING_ENABLED), so they cannot disagree: a signal is on
 * when its own endpoint (CAM_OTLP_<SIGNAL>_ENDPOINT, else
 * OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT) or the base endpoint
 * (CAM_OTLP_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT) is set, unless
 * OTEL_SDK_DISABLED=true or OTEL_<SIGNAL>S_EXPORTER=none and no CAM_
 * endpoint names it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_OTLP_SWITCH_H
#define CAM_OTLP_SWITCH_H

#include <stdbool.h>

enum cam_otlp_signal {
	CAM_OTLP_METRICS = 0,
	CAM_OTLP_LOGS = 1,
	CAM_OTLP_TRACES = 2,
};
#define CAM_OTLP_NSIGNALS 3

/* Reads a setting by name: a CAM_ one from the program's settings (flag,
 * then environment), an OTEL_ one from the environment. NULL: unset. */
typedef const char *(*cam_otlp_get_fn)(void *arg, const char *name);

/* "metrics", "logs", "traces" (the signal label and URL path). */
const char *cam_otlp_signal_name(enum cam_otlp_signal s);

/*
 * The endpoint of signal s as configured, before any path is added, or
 * NULL when the signal is off. *base says whether it is the base endpoint
 * (a path /v1/<signal> is to be added) rather than the signal's own.
 */
const char *cam_otlp_endpoint(enum cam_otlp_signal s, cam_otlp_get_fn get, void *arg,
			      bool *base);

#endif
