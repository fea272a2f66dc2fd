/*
 * The durable store's admin verb: see store_verbs.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/store_verbs.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "kernel/security/auth.h"

struct cam_store_verbs {
	struct cam_store_verbs_opts o;
};

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static int store_backup(void *ctx, struct cam_syscall *sc)
{
	cam_store_verbs *v = ctx;
	const char *name = cam_payload_get(sc->payload, "name");
	char dir[PATH_MAX + 96], why[CAM_STORE_WHY];
	uint64_t bytes = 0;
	int rc;

	if (!name || !name_ok(name))
		return cam_syscall_fail(sc, CAM_EINVAL, "name must be 1-64 characters of A-Z a-z "
					"0-9 _ . - (not starting with a dot)");
	snprintf(dir, sizeof(dir), "%s/backups/%s/store", v->o.data_dir, name);
	if ((rc = cam_store_copy(v->o.store, dir, &bytes, why)))
		return cam_syscall_fail(sc, rc, "%s", why);
	cam_log(CAM_LOG_INFO, "memctx", "store_backup by %s: %s/data.mdb, %llu bytes",
		sc->caller_id, dir, (unsigned long long)bytes);
	cam_result_add(&sc->result, "path", dir);
	cam_result_addf(&sc->result, "bytes", "%llu", (unsigned long long)bytes);
	return 0;
}

static const char *const K_BACKUP[] = { "name", NULL };

static const struct cam_verb rows[] = {
	{ .name = "store_backup", .fn = store_backup, .keys = K_BACKUP, .scope = CAM_SCOPE_ADMIN,
	  .may_block = true },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

int cam_store_verbs_new(const struct cam_store_verbs_opts *o, cam_store_verbs **out)
{
	cam_store_verbs *v;
	int rc;

	if (!o->verbs || !o->store || !o->data_dir)
		return CAM_EINVAL;
	v = cam_xcalloc(1, sizeof(*v));
	v->o = *o;
	if ((rc = cam_verbs_add(o->verbs, "memory context", rows, NROWS, v))) {
		free(v);
		return rc;
	}
	*out = v;
	return 0;
}

void cam_store_verbs_free(cam_store_verbs *v)
{
	if (!v)
		return;
	cam_verbs_remove(v->o.verbs, rows, NROWS);
	free(v);
}
