/*
 * One driver helper process (cam-driver-host) seen from the kernel: start
 * it, send it a request and wait for the answer up to a deadline, stop it
 * politely or kill it. The Linux process glue of the driver runtime.
 *
 * A cam_dproc is used by one thread at a time (its instance's thread in
 * the runtime); nothing here locks. Internal to kernel/drivers/ (hence
 * the cam_drivers__ prefix).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_DRIVERS_PROC_H
#define CAM_DRIVERS_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cam_dproc {
	pid_t pid;    /* 0: not running */
	int fd;       /* the kernel's end of the socketpair */
	char *buf;    /* answer buffer, CAM_WIRE_MAX bytes */
};

/*
 * Starts host (the cam-driver-host program) for driver name with lib_fd
 * (the checked object, stays the caller's) as its fd 3 and a memory cap.
 * 0, or a CAM_E* code with a message in err.
 */
int cam_drivers__proc_spawn(struct cam_dproc *p, const char *host, const char *name,
		    int lib_fd, unsigned memory_limit_mb, char *err, size_t errlen);

/*
 * Sends one request (type from wire.h; op and in may be NULL/empty) and
 * waits for the answer until deadline_ns (CLOCK_MONOTONIC). On 0, *status
 * and *text (*textlen bytes, NUL-terminated, valid until the next call)
 * hold the answer. CAM_ETIMEDOUT: no answer in time (the helper is still
 * running: kill it). CAM_ECLOSED: the helper is gone. CAM_EPROTO: a
 * malformed answer.
 */
int cam_drivers__proc_call(struct cam_dproc *p, uint32_t type, const char *op, const char *in,
		   size_t inlen, int64_t deadline_ns, int32_t *status, const char **text,
		   size_t *textlen);

/*
 * After a call that timed out: waits until deadline_ns for the helper's
 * late answer and consumes it (1); 0 if none came, CAM_ECLOSED if the
 * helper is gone. A deadline already past only looks.
 */
int cam_drivers__proc_await(struct cam_dproc *p, int64_t deadline_ns);

/*
 * Kills the helper (SIGKILL), reaps it and closes the socket. how (may be
 * NULL) gets how it ended: "exited with status 1", "killed by signal 11
 * (Segmentation fault)". Fine on a stopped one.
 */
void cam_drivers__proc_kill(struct cam_dproc *p, char *how, size_t howlen);

/* Asks the helper to shut the driver down, waits up to timeout_ms, then
 * kills it. */
void cam_drivers__proc_stop(struct cam_dproc *p, int timeout_ms);

#endif
