/*
 * Content negotiation for /metrics: which format (Accept) and whether to
 * gzip (Accept-Encoding). Pure functions of the header values so the rules
 * can be tested without a server.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_NEGOTIATE_H
#define CAM_EXPORTER_NEGOTIATE_H

#include <stdbool.h>

#include "exporter/render.h"

/*
 * OpenMetrics when Accept ranks application/openmetrics-text (any version)
 * above text/plain, text/ * and * / *, or equal to them and listed first;
 * Prometheus text otherwise, and when accept is NULL. Prometheus's own
 * header (openmetrics q=0.5 or higher, text/plain lower) gives OpenMetrics.
 */
enum cam_render_format cam_negotiate_format(const char *accept);

/* True when Accept-Encoding allows gzip (gzip, x-gzip or *, q > 0). */
bool cam_negotiate_gzip(const char *accept_encoding);

#endif
