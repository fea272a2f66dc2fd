/*
 * The components HealthCheck reports, each with the probe its subsystem's
 * verb file set (common/component.h): "Redis Backend", "TPM Security",
 * "Driver Runtime", "Scheduler" and "Context Store" (the memory context
 * store whatever its backend) and "Audit Log", in that order (docs/architecture.md,
 * "HealthCheck"). A component with no probe reports disabled (not
 * configured), never a made-up "healthy". The same probes feed
 * cam_os_component_up{component} and cam_os_component_status{component,
 * status} before every snapshot.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_COMPONENTS_H
#define CAM_SYSCALL_COMPONENTS_H

#include <stddef.h>

#include "common/component.h"

#define CAM_COMPONENTS_N 6

typedef struct cam_components cam_components;

/* Registers the two families and their collector. 0 or CAM_E*. */
int cam_components_new(cam_components **out);
/* Removes the collector. Every probe must be cleared already, or its
 * subsystem still alive. NULL is a no-op. */
void cam_components_free(cam_components *c);

/*
 * Sets the probe of component name: 0, CAM_ENOENT for a name that is not
 * one of the four, CAM_EEXIST when it has a probe already. fn(arg) may run
 * on any thread from then on, until cam_components_clear.
 */
int cam_components_set(cam_components *c, const char *name, cam_component_probe fn, void *arg);
/* Removes the probe of name (none: nothing). Waits for a run of it in
 * progress, so arg may be freed once this returns. NULL c is a no-op. */
void cam_components_clear(cam_components *c, const char *name);

/* Component i (0 <= i < CAM_COMPONENTS_N): its name, and its status and
 * message (msglen bytes) from its probe now; *latency_ms how long the
 * probe took. */
const char *cam_components_name(size_t i);
enum cam_component_status cam_components_probe(cam_components *c, size_t i, char *msg,
					       size_t msglen, double *latency_ms);

#endif
