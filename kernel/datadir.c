/*
 * The kernel's data directory: resolved, made and locked (datadir.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"

/* $STATE_DIRECTORY may list several directories, colon-separated. */
static int first_of_list(const char *list, char *buf, size_t len)
{
	size_t n = strcspn(list, ":");

	if (n == 0 || n >= len)
		return 0;
	memcpy(buf, list, n);
	buf[n] = '\0';
	return 1;
}

int cam_datadir_resolve(const char *configured, char *buf, size_t len, char *why,
			size_t why_len)
{
	const char *v;
	int n;

	if (configured && *configured)
		n = snprintf(buf, len, "%s", configured);
	else if ((v = getenv("STATE_DIRECTORY")) && *v)
		n = first_of_list(v, buf, len) ? (int)strlen(buf) : -1;
	else if ((v = getenv("XDG_STATE_HOME")) && *v == '/')
		n = snprintf(buf, len, "%s/cam-os", v);
	else if ((v = getenv("HOME")) && *v == '/')
		n = snprintf(buf, len, "%s/.local/state/cam-os", v);
	else {
		snprintf(why, why_len, "no data directory: set CAM_DATA_DIR (or HOME)");
		return CAM_EINVAL;
	}
	if (n <= 0 || (size_t)n >= len) {
		snprintf(why, why_len, "data directory path is empty or too long");
		return CAM_EINVAL;
	}
	return 0;
}

int cam_datadir_mkdirs(const char *dir)
{
	char path[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int cam_datadir_lock(const char *dir, char *why, size_t why_len)
{
	struct stat st;
	int rc = cam_datadir_mkdirs(dir), fd;

	if (rc) {
		snprintf(why, why_len, "cannot make data directory %s: %s", dir, strerror(-rc));
		return rc == -EACCES || rc == -EPERM || rc == -EROFS ? CAM_EPERM : CAM_EIO;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_len, "cannot open data directory %s: %s", dir, strerror(errno));
		return CAM_EIO;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		rc = errno == EWOULDBLOCK ? CAM_EEXIST : CAM_EIO;
		snprintf(why, why_len, rc == CAM_EEXIST
			 ? "data directory %s is in use by another running cam-kernel"
			 : "cannot lock data directory %s: %s", dir, strerror(errno));
		close(fd);
		return rc;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		snprintf(why, why_len, "data directory %s is open to others (mode %03o); 0700 "
			 "is advised", dir, (unsigned)(st.st_mode & 0777));
	else if (why_len)
		why[0] = '\0';
	return fd;
}
