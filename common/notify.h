/*
 * Readiness and liveness for a service manager (systemd's sd_notify).
 *
 * Under systemd with Type=notify, a unit counts as started only when the
 * program says READY=1, so units ordered after it (and `systemctl start`)
 * wait until its ports accept connections. STOPPING=1 marks the start of a
 * clean shutdown. With WatchdogSec= set, systemd expects WATCHDOG=1 at least
 * that often and restarts a program that goes silent; a small thread sends it
 * at half the period. Without NOTIFY_SOCKET (run by hand, in a container)
 * every call here does nothing and succeeds.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_NOTIFY_H
#define CAM_NOTIFY_H

typedef struct cam_notify cam_notify;

/*
 * Says READY=1 with STATUS=status (may be NULL) and starts the watchdog
 * thread when the manager asked for pings (WATCHDOG_USEC for this PID).
 * Call it once the program's ports listen. Can't fail: a manager that cannot
 * be told is logged, and the program runs on. *out is the watchdog handle
 * (NULL when there is no watchdog); pass it to cam_notify_stopping().
 */
void cam_notify_ready(const char *status, cam_notify **out);

/*
 * Says STOPPING=1, stops the watchdog thread and frees n (NULL is fine: the
 * message is still sent). Call it when shutdown begins.
 */
void cam_notify_stopping(cam_notify *n);

#endif
