/*
 * grpc.health.v1.Health: Check (what Kubernetes gRPC probes call) and
 * Watch (the current status, then every change, until the call ends).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_GRPC_HEALTH_H
#define CAM_GRPC_HEALTH_H

#include <stdbool.h>

#include "kernel/grpc/server.h"

typedef struct cam_grpc_health cam_grpc_health;

/*
 * Adds Check and Watch to s (before start) and returns the health state in
 * *out, with "" and "cam.SyscallService" SERVING. At shutdown of s every
 * service turns NOT_SERVING (watchers are told). The state must outlive s:
 * free it after cam_grpc_server_free(s).
 */
int cam_grpc_health_register(cam_grpc_server *s, cam_grpc_health **out);
/* Sets a service's status (adding it if new) and tells its watchers.
 * Any thread. CAM_ELIMIT when too many services are known. */
int cam_grpc_health_set(cam_grpc_health *h, const char *service, bool serving);
/* Sets every known service. */
void cam_grpc_health_set_all(cam_grpc_health *h, bool serving);
void cam_grpc_health_free(cam_grpc_health *h);

#endif
