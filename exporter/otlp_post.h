/*
 * One OTLP/HTTP export request over libcurl (loaded as the span shipper
 * loads it, curl_lib.h): POST of a protobuf body with the operator's
 * headers, optional gzip, and TLS settings, and what the answer means for
 * the data (OTLP/HTTP specification, "Failures"):
 *   2xx                                  -> sent
 *   429, 502, 503, 504, no answer,
 *   a timeout                            -> retry later (Retry-After, in
 *                                           seconds or as an HTTP date, says
 *                                           when, if the server gave it)
 *   anything else                        -> refused for good: drop it
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_OTLP_POST_H
#define CAM_EXPORTER_OTLP_POST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/curl_lib.h"
#include "exporter/otlp_kv.h"

struct cam_otlp_post_config {
	const char *url;                       /* http:// or https:// */
	const struct cam_otlp_kv_list *headers; /* sent on every request; may be NULL */
	bool gzip;                             /* Content-Encoding: gzip */
	uint32_t timeout_ms;
	const char *ca_file;     /* NULL: the system's CAs */
	const char *client_cert; /* NULL: none (mutual TLS off) */
	const char *client_key;
};

enum cam_otlp_post_result {
	CAM_OTLP_POST_OK = 0,
	CAM_OTLP_POST_RETRY = 1,
	CAM_OTLP_POST_REFUSED = 2,
};

/* What happened, for logs and tests. */
struct cam_otlp_post_answer {
	long status;             /* HTTP status; 0: none came */
	uint32_t retry_after_ms; /* from Retry-After; 0: none */
	char detail[256];        /* curl's error, or the status line's meaning */
};

/*
 * POSTs body[0..len) to c->url on the easy handle (reused between calls,
 * so the connection is kept). Never blocks longer than c->timeout_ms.
 */
enum cam_otlp_post_result cam_otlp_post(const struct cam_curl_lib *cl, CURL *curl,
					const struct cam_otlp_post_config *c, const void *body,
					size_t len, struct cam_otlp_post_answer *ans);

/* The classification above, for a status (0: no answer). */
enum cam_otlp_post_result cam_otlp_post_classify(long status);

#endif
