/*
 * The kernel's data directory: where everything it must keep across
 * restarts lives (the context store, registered agents, the policy that
 * came by policy_update, the audit log).
 *
 * CAM_DATA_DIR when set; else $STATE_DIRECTORY (systemd's StateDirectory=,
 * the first of its list), else $XDG_STATE_HOME/cam-os, else
 * $HOME/.local/state/cam-os. A missing directory is made with mode 0700
 * (its missing parents too). One running kernel holds it: the holder takes
 * an exclusive flock(2) on the directory itself, so a second kernel is
 * refused and nothing is created in the directory to say so.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_KERNEL_DATADIR_H
#define CAM_KERNEL_DATADIR_H

#include <stddef.h>

/* The directory to use, into buf (PATH_MAX bytes): configured is
 * CAM_DATA_DIR's value or NULL. CAM_EINVAL, with why, when nothing names
 * one (no HOME either) or the path is too long. */
int cam_datadir_resolve(const char *configured, char *buf, size_t len, char *why,
			size_t why_len);

/* Makes dir (0700, parents too) when missing, and takes its lock. Returns
 * the lock's descriptor (kept open for the life of the process; closing it
 * releases the lock), or CAM_EEXIST when another process holds it, or
 * CAM_EIO / CAM_EPERM with why. */
int cam_datadir_lock(const char *dir, char *why, size_t why_len);

/* Makes dir with mode 0700, and its missing parents. 0 or -errno. */
int cam_datadir_mkdirs(const char *dir);

#endif
