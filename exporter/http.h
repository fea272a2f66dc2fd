/*
 * The exporter's HTTP server (libmicrohttpd, a small internal thread pool).
 *
 *   GET/HEAD /metrics   kernel families (while fresh) then the exporter's;
 *                       OpenMetrics or protobuf when Accept prefers them,
 *                       gzip when allowed; the kernel's part comes from
 *                       the scrape cache (scrape_cache.h)
 *            /healthz   200 while the process runs
 *            /readyz    200 with a fresh kernel snapshot, 503 otherwise
 *            /          a landing page linking the above
 *            /debug/pprof/  with CAM_PROFILING_ENABLED: an index page,
 *                       profile?seconds=N (CPU) and heap, taken from
 *                       cam-kernel over the profiling channel (pprof.h);
 *                       404 when profiling is off
 * Other paths are 404, other methods on these paths 405 with Allow.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_HTTP_H
#define CAM_EXPORTER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/selfmetrics.h"
#include "exporter/subscriber.h"

typedef struct cam_http cam_http;

struct cam_http_config {
	const char *listen;               /* CAM_EXPORTER_LISTEN syntax */
	bool profiling;                   /* CAM_PROFILING_ENABLED */
	const char *pprof_addr;           /* the kernel's profiling channel */
	cam_subscriber *sub;              /* borrowed; outlives the server */
	const struct cam_selfmetrics *self; /* borrowed; registered */
	unsigned threads;                 /* 0: 2 */
	unsigned timeout_s;               /* idle connections closed after; 0: 5 */
	unsigned max_connections;         /* in all; 0: 4096 */
	unsigned max_per_ip;              /* per client address; 0: 100 */
};

/*
 * Binds cfg->listen and starts serving. On failure returns CAM_EINVAL (bad
 * address), CAM_EEXIST (address in use), another CAM_E* code, and writes
 * the reason to err; nothing is left running.
 */
int cam_http_start(const struct cam_http_config *cfg, cam_http **out,
		   char *err, size_t errlen);

/* The bound address ("[::]:8080") and port, for logs and for tests that
 * listened on port 0. */
const char *cam_http_address(const cam_http *h);
uint16_t cam_http_port(const cam_http *h);

/* Renders the scrape cache has done (tests: once per snapshot and format). */
uint64_t cam_http_cache_renders(const cam_http *h);

/* Stops serving (in-flight requests finish) and frees h. NULL is a no-op. */
void cam_http_stop(cam_http *h);

#endif
