/*
 * The policy's files (policy_file.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/security/policy_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/xmalloc.h"

static const char HEADER[] = "cam-os policy version ";

static void say(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, CAM_POLICY_WHY, fmt, ap);
	va_end(ap);
}

int cam_policy_file_read(const char *path, char **text, size_t *len, char *why)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	size_t n;

	if (!f) {
		say(why, "cannot read %s: %s", path, strerror(errno));
		return errno == ENOENT ? CAM_ENOENT : CAM_EIO;
	}
	if (fstat(fileno(f), &st) || st.st_size > CAM_POLICY_MAX_BYTES) {
		fclose(f);
		say(why, "%s is larger than %d bytes", path, CAM_POLICY_MAX_BYTES);
		return CAM_EINVAL;
	}
	*text = cam_xmalloc((size_t)st.st_size + 1);
	n = fread(*text, 1, (size_t)st.st_size, f);
	fclose(f);
	(*text)[n] = '\0';
	*len = n;
	return 0;
}

int cam_policy_file_load(cam_policy *p, const char *path, uint64_t *version, char *why)
{
	char *text, err[CAM_POLICY_WHY];
	size_t len;
	int rc = cam_policy_file_read(path, &text, &len, why);

	if (rc)
		return rc;
	if ((rc = cam_policy_set(p, text, len, version, err)))
		say(why, "%s: %s", path, err);
	free(text);
	return rc;
}

int cam_policy_saved_load(cam_policy *p, const char *path, uint64_t *version, char *why)
{
	char *text, *json, err[CAM_POLICY_WHY];
	uint64_t v;
	size_t len;
	int rc = cam_policy_file_read(path, &text, &len, why);

	if (rc)
		return rc;
	if (strncmp(text, HEADER, sizeof(HEADER) - 1) ||
	    sscanf(text + sizeof(HEADER) - 1, "%" SCNu64, &v) != 1 || !v ||
	    !(json = strchr(text, '\n'))) {
		free(text);
		say(why, "%s does not start with '%sN'", path, HEADER);
		return CAM_EINVAL;
	}
	json++;
	cam_policy_set_base_version(p, v - 1);
	rc = cam_policy_set(p, json, len - (size_t)(json - text), version, err);
	if (rc)
		say(why, "%s: %s", path, err);
	free(text);
	return rc;
}

static int sync_parent(const char *path)
{
	char *copy = cam_xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	free(copy);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		rc = -errno;
	close(fd);
	return rc;
}

int cam_policy_saved_write(const char *path, const char *json, size_t len, uint64_t version,
			   char *why)
{
	char tmp[4200], head[64];
	int fd, n = snprintf(head, sizeof(head), "%s%" PRIu64 "\n", HEADER, version);
	int rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.partial", path) >= (int)sizeof(tmp)) {
		say(why, "policy path too long");
		return CAM_EINVAL;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		say(why, "cannot write %s: %s", tmp, strerror(errno));
		return CAM_EIO;
	}
	if (write(fd, head, (size_t)n) != n || write(fd, json, len) != (ssize_t)len || fsync(fd))
		rc = errno ? errno : EIO;
	close(fd);
	if (!rc && rename(tmp, path))
		rc = errno;
	if (!rc)
		rc = -sync_parent(path);
	if (rc) {
		unlink(tmp);
		say(why, "cannot save the policy to %s: %s", path, strerror(rc));
		return rc == ENOSPC || rc == EDQUOT ? CAM_ELIMIT : CAM_EIO;
	}
	return 0;
}

int cam_policy_saved_remove(const char *path, char *why)
{
	if (unlink(path) && errno != ENOENT) {
		say(why, "cannot remove %s: %s", path, strerror(errno));
		return CAM_EIO;
	}
	sync_parent(path);
	return 0;
}
