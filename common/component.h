/*
 * The health of a component, as HealthCheck reports it: what a subsystem
 * answers when asked how it is (cam_memctx_health, for one), and the type
 * of the probes that ask (kernel/syscall/components.h collects them). Here
 * so that subsystems can answer without knowing the RPC layer.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_COMPONENT_H
#define CAM_COMPONENT_H

#include <stddef.h>

enum cam_component_status {
	CAM_COMPONENT_HEALTHY,
	CAM_COMPONENT_DEGRADED,
	CAM_COMPONENT_UNHEALTHY,
	CAM_COMPONENT_DISABLED, /* not configured: never a made-up "healthy" */
	CAM_COMPONENT_NSTATUS
};

/*
 * A probe says how its component is and why, in msg (msglen bytes). It
 * must be quick and must not wait on the component (answer from cached
 * state): HealthCheck and every metrics publish run it.
 */
typedef enum cam_component_status (*cam_component_probe)(void *arg, char *msg,
							 size_t msglen);

/* "healthy", "degraded", "unhealthy", "disabled"; "unknown" otherwise. */
const char *cam_component_status_name(int status);

#endif
