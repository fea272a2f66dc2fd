/*
 * Backups of a store while it serves (store.h): LMDB's own copy
 * (mdb_env_copyfd2, compacting) reads everything in one read transaction,
 * so the copy is the store as of one commit, with every change committed
 * before the call and none half-made, while the writer goes on. The copy
 * goes to a temporary file, is synced, then renamed into place: a backup
 * cut short by a crash or a full disk is never taken for a whole one.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "kernel/store/store_int.h"

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		rc = -errno;
	close(fd);
	return rc;
}

/* Makes dest_dir (0700, parents too) unless it holds a store already. */
static int prepare_dest(const char *dest_dir, char *path, size_t len, char *why)
{
	char tmp[PATH_MAX];
	struct stat st;

	if (strlen(dest_dir) + 16 >= len || strlen(dest_dir) >= sizeof(tmp)) {
		cam_store__say(why, "backup path too long");
		return CAM_EINVAL;
	}
	memcpy(tmp, dest_dir, strlen(dest_dir) + 1);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) && errno != EEXIST)
				return cam_store_fail(errno, tmp, why);
			*p = '/';
		}
	if (mkdir(dest_dir, 0700) && errno != EEXIST)
		return cam_store_fail(errno, dest_dir, why);
	snprintf(path, len, "%s/data.mdb", dest_dir);
	if (stat(path, &st) == 0) {
		cam_store__say(why, "%s already holds a store; give an empty or new directory",
			 dest_dir);
		return CAM_EEXIST;
	}
	return 0;
}

/* Copies env into dest_dir/data.mdb through a synced temporary file. */
static int copy_env(MDB_env *env, const char *dest_dir, uint64_t *bytes, char *why)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 48];
	struct stat st;
	int fd, rc;

	if ((rc = prepare_dest(dest_dir, path, PATH_MAX + 32, why)))
		return rc;
	snprintf(tmp, sizeof(tmp), "%s.partial", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return cam_store_fail(errno, tmp, why);
	rc = mdb_env_copyfd2(env, fd, MDB_CP_COMPACT);
	if (rc == 0 && fsync(fd))
		rc = errno;
	if (rc == 0 && fstat(fd, &st))
		rc = errno;
	close(fd);
	if (rc == 0 && rename(tmp, path))
		rc = errno;
	if (rc) {
		unlink(tmp);
		return cam_store_fail(rc, path, why);
	}
	if ((rc = sync_dir(dest_dir)))
		return cam_store_fail(-rc, dest_dir, why);
	*bytes = (uint64_t)st.st_size;
	return 0;
}

int cam_store_copy(cam_store *s, const char *dest_dir, uint64_t *bytes, char *why)
{
	return copy_env(s->env, dest_dir, bytes, why);
}

int cam_store_backup(const char *src_dir, const char *dest_dir, uint64_t *bytes, char *why)
{
	MDB_env *env;
	bool is_new;
	int rc;

	if ((rc = cam_store__validate(src_dir, &is_new, why)))
		return rc;
	if (is_new) {
		cam_store__say(why, "%s holds no store to back up", src_dir);
		return CAM_ENOENT;
	}
	/* Read-only, with the lock file: a running kernel's writer goes on,
	 * and its readers' table knows of this one. */
	if ((rc = cam_store__env_open(src_dir, 0, MDB_RDONLY, &env, why)))
		return rc;
	rc = copy_env(env, dest_dir, bytes, why);
	mdb_env_close(env);
	return rc;
}
