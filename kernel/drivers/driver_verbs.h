/*
 * The drivers subsystem as the rest of the kernel sees it: start and stop
 * (main.c) and the four verbs (the verb table in kernel/syscall/verbs.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_DRIVERS_DRIVER_VERBS_H
#define CAM_DRIVERS_DRIVER_VERBS_H

#include "common/metrics.h"

struct cam_syscall;

/*
 * Starts the driver runtime on dir with the helper program host (NULL:
 * cam-driver-host beside cam-kernel), registers the "Driver Runtime"
 * health probe, then loads each driver named in autoload (comma-separated,
 * may be NULL); a driver that fails to load is logged, not fatal.
 * load_time is cam_os_driver_load_time_seconds. 0 or CAM_E*.
 */
int cam_drivers_start(const char *dir, const char *host, const char *autoload,
		      cam_family *load_time);
/* Unloads every driver and stops the runtime; call once no syscall runs. */
void cam_drivers_stop(void);

/* Verb handlers (syscall.h). */
int cam_verb_driver_list(struct cam_syscall *sc);
int cam_verb_driver_load(struct cam_syscall *sc);
int cam_verb_driver_unload(struct cam_syscall *sc);
int cam_verb_driver_invoke(struct cam_syscall *sc);

#endif
