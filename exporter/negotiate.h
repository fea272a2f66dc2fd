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
 * The format Accept ranks highest (q; on a tie, the one listed first):
 * the protobuf exposition for application/vnd.google.protobuf whose proto
 * and encoding parameters, when given, are io.prometheus.client.MetricFamily
 * and delimited; OpenMetrics for application/openmetrics-text (any
 * version); Prometheus text for text/plain, text/ * and * / *, and when
 * accept is NULL or names none of these. Prometheus's own headers give
 * OpenMetrics, or protobuf once native histograms are enabled.
 */
enum cam_render_format cam_negotiate_format(const char *accept);

/* True when Accept-Encoding allows gzip (gzip, x-gzip or *, q > 0). */
bool cam_negotiate_gzip(const char *accept_encoding);

#endif
