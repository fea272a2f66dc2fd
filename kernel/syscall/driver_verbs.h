/*
 * The drivers subsystem's verbs (driver_list, driver_load, driver_unload,
 * driver_invoke) over the driver runtime, and its "Driver Runtime" health
 * component.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_DRIVER_VERBS_H
#define CAM_SYSCALL_DRIVER_VERBS_H

#include "kernel/drivers/runtime.h"
#include "kernel/syscall/components.h"
#include "kernel/syscall/verbs.h"

typedef struct cam_driver_verbs cam_driver_verbs;

/* Borrowed pointers: each must outlive the object. */
struct cam_driver_verbs_opts {
	cam_verbs *verbs;            /* the rows go here */
	cam_components *components;  /* may be NULL: no health probe */
	cam_drivers *drivers;        /* required */
};

/* Adds the rows and the probe. CAM_EINVAL without a runtime, or the
 * registry's code. */
int cam_driver_verbs_new(const struct cam_driver_verbs_opts *o, cam_driver_verbs **out);
/*
 * Stops the object's threads: refuses new loads and unloads (UNAVAILABLE)
 * and waits for those running, whose calls are answered by then. Call it
 * before the runtime is stopped and while calls can still be answered.
 * Idempotent; NULL is a no-op.
 */
void cam_driver_verbs_stop(cam_driver_verbs *v);
/* Stops if needed, clears the probe, removes the rows; NULL is a no-op. */
void cam_driver_verbs_free(cam_driver_verbs *v);

#endif
