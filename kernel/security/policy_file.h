/*
 * Where the policy in force comes from and is kept (policy.h):
 * - the operator's file, CAM_POLICY_FILE, read at start and on SIGHUP;
 * - the policy that came by policy_update, saved in the data directory
 *   (<data dir>/policy.json) so that a restart finds it: written to a
 *   temporary file, synced, renamed over the old one and the directory
 *   synced, so a crash leaves the old policy or the new one, never half.
 * At start the saved one wins (it came after the file); a SIGHUP reads the
 * operator's file again and drops the saved one.
 *
 * The saved file is one header line, "cam-os policy version N", then the
 * policy's JSON as it was given.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SECURITY_POLICY_FILE_H
#define CAM_SECURITY_POLICY_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/security/policy.h"

/* Reads path (at most CAM_POLICY_MAX_BYTES) into a malloc'd buffer. */
int cam_policy_file_read(const char *path, char **text, size_t *len, char *why);
/* Puts the policy in path in force (the next version). */
int cam_policy_file_load(cam_policy *p, const char *path, uint64_t *version, char *why);

/* Puts the saved policy in force, with the version it was saved with:
 * CAM_ENOENT when there is none, CAM_EINVAL for one that does not parse
 * (kept as it is, and said why). */
int cam_policy_saved_load(cam_policy *p, const char *path, uint64_t *version, char *why);
/* Saves json as version, durably and atomically. */
int cam_policy_saved_write(const char *path, const char *json, size_t len, uint64_t version,
			   char *why);
/* Removes the saved policy (0 also when there was none). */
int cam_policy_saved_remove(const char *path, char *why);

#endif
