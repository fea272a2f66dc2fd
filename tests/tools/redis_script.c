/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Redis backend's own scripts and key names, for benchmarks that run
 * them without the kernel (tests/bench/memctx.sh gives them to
 * redis-benchmark as EVALSHA, with the keys and arguments the kernel sends).
 *
 * usage: redis_script NAME     the text of script NAME (write, read, delete,
 *                              snapshot, restore, snapshot_delete, owner)
 *        redis_script --tag NS the slot tag of namespace NS: its slot's byte
 *                              counter is cam:v2:{TAG}:used
 */
#include <stdio.h>
#include <string.h>

#include "kernel/memctx/redis_cluster.h"
#include "kernel/memctx/redis_store.h"

static const char *const names[RS_NSCRIPTS] = {
	[RS_WRITE] = "write", [RS_READ] = "read", [RS_DELETE] = "delete",
	[RS_SNAPSHOT] = "snapshot", [RS_RESTORE] = "restore",
	[RS_SNAPSHOT_DELETE] = "snapshot_delete", [RS_OWNER] = "owner",
};

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--tag") == 0) {
		printf("%s\n", cam_rcluster_slot_tag(cam_rcluster_key_slot(argv[2], strlen(argv[2]))));
		return 0;
	}
	for (int i = 0; argc == 2 && i < RS_NSCRIPTS; i++) {
		if (strcmp(argv[1], names[i]) == 0) {
			fputs(cam_rs_scripts[i], stdout);
			return 0;
		}
	}
	fprintf(stderr, "usage: redis_script write|read|delete|snapshot|restore|snapshot_delete|owner\n"
			"       redis_script --tag NAMESPACE\n");
	return 2;
}
