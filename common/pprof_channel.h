/*
 * The profiling channel between cam-exporter and cam-kernel: an nng
 * req/rep socket beside the bus, the kernel listening (rep), the exporter
 * asking (req) when someone fetches /debug/pprof/. Only with
 * CAM_PROFILING_ENABLED=true on both sides.
 *
 * Request: text, "profile <seconds>" (CPU profile), "heap <seconds>"
 *          (allocations recorded over that many seconds), or "symbol "
 *          and hex addresses separated by '+' (pprof's remote
 *          symbolization: the reply has "0xaddr name" lines).
 * Reply:   one status byte, then the profile (CAM_PPROF_OK) or a UTF-8
 *          message (the others). Profiles are what gperftools writes
 *          (legacy CPU profile, heap profile text), which pprof reads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_PPROF_CHANNEL_H
#define CAM_PPROF_CHANNEL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cam_pprof_status {
	CAM_PPROF_OK = 0,
	CAM_PPROF_BUSY = 1,        /* another CPU profile is running */
	CAM_PPROF_UNAVAILABLE = 2, /* the profiler library is missing */
	CAM_PPROF_BAD_REQUEST = 3,
	CAM_PPROF_FAILED = 4,
};

#define CAM_PPROF_MAX_SECONDS 300
#define CAM_PPROF_MAX_BYTES (256u * 1024 * 1024)
/* The largest request: a symbol request for a big profile's addresses. */
#define CAM_PPROF_MAX_REQUEST (4u * 1024 * 1024)

/*
 * The default channel address for a bus address: "x.ipc" gives
 * "x-pprof.ipc", "tcp://host:port" gives port + 1, anything else gets
 * "-pprof" appended. Writes into out; returns out.
 */
static inline const char *cam_pprof_default_addr(const char *bus, char *out, size_t n)
{
	size_t len = strlen(bus);
	const char *colon = strrchr(bus, ':');

	if (len > 4 && strcmp(bus + len - 4, ".ipc") == 0)
		snprintf(out, n, "%.*s-pprof.ipc", (int)(len - 4), bus);
	else if (strncmp(bus, "tcp://", 6) == 0 && colon && colon > bus + 6 && colon[1])
		snprintf(out, n, "%.*s:%ld", (int)(colon - bus), bus, strtol(colon + 1, NULL, 10) + 1);
	else
		snprintf(out, n, "%s-pprof", bus);
	return out;
}

#endif
