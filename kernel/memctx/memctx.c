/*
 * The memory context store's front: checks names, sizes and limits once,
 * then hands the call to the backend chosen at creation (backend.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/memctx/memctx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/xmalloc.h"
#include "kernel/memctx/backend.h"

struct cam_memctx {
	const struct cam_memctx__ops *ops;
	void *b;
	struct cam_memctx_limits limits;
};

int cam_memctx__fail(char *why, int err, const char *fmt, ...)
{
	va_list ap;

	if (why) {
		va_start(ap, fmt);
		vsnprintf(why, CAM_MEMCTX_WHY, fmt, ap);
		va_end(ap);
	}
	return err;
}

void cam_memctx_value_free(struct cam_memctx_value *v)
{
	if (!v)
		return;
	free(v->data);
	v->data = NULL;
}

int cam_memctx_name_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-' || c == '/'))
			return 0;
	}
	return n >= 1 && n <= CAM_MEMCTX_MAX_NAME;
}

static int check_limits(const struct cam_memctx_limits *l, char *why)
{
	if (!l->max_value_bytes || !l->max_keys || !l->max_total_bytes || !l->max_snapshots)
		return cam_memctx__fail(why, CAM_EINVAL, "memory context limits must be positive");
	if (l->keep_versions < 1 || l->keep_versions > CAM_MEMCTX_MAX_KEEP)
		return cam_memctx__fail(why, CAM_EINVAL, "versions kept must be 1-%d",
				   CAM_MEMCTX_MAX_KEEP);
	return 0;
}

int cam_memctx_new(const struct cam_memctx_opts *o, cam_memctx **out, char *why)
{
	struct cam_memctx *m;
	int rc;

	if ((rc = check_limits(&o->limits, why)))
		return rc;
	m = cam_xcalloc(1, sizeof(*m));
	m->limits = o->limits;
	if ((o->redis_url && *o->redis_url) || (o->sentinels && *o->sentinels)) {
		m->ops = &cam_memctx__redis_ops;
		rc = cam_memctx__redis_new(o, &m->b, why);
	} else {
		m->ops = &cam_memctx__mem_ops;
		rc = cam_memctx__mem_new(&o->limits, &m->b, why);
	}
	if (rc) {
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void cam_memctx_free(cam_memctx *m)
{
	if (!m)
		return;
	m->ops->free(m->b);
	free(m);
}

const char *cam_memctx_backend(const cam_memctx *m)
{
	return m->ops->name;
}

static int check_names(const char *ns, const char *key, char *why)
{
	if (!cam_memctx_name_valid(ns))
		return cam_memctx__fail(why, CAM_EINVAL,
				   "namespace must be 1-%d characters of A-Z a-z 0-9 _ . - /",
				   CAM_MEMCTX_MAX_NAME);
	if (key && !cam_memctx_name_valid(key))
		return cam_memctx__fail(why, CAM_EINVAL,
				   "key must be 1-%d characters of A-Z a-z 0-9 _ . - /",
				   CAM_MEMCTX_MAX_NAME);
	return 0;
}

int cam_memctx_write(cam_memctx *m, int64_t deadline_ns, const char *ns, const char *key,
		     const void *val, size_t len, int64_t expected,
		     struct cam_memctx_version *out, uint64_t *current, char *why)
{
	uint64_t cur = 0;
	int rc;

	if ((rc = check_names(ns, key, why)))
		return rc;
	if (len > m->limits.max_value_bytes)
		return cam_memctx__fail(why, CAM_EINVAL, "value of %zu bytes is over the limit of %zu",
				   len, m->limits.max_value_bytes);
	if (expected < CAM_MEMCTX_ANY)
		return cam_memctx__fail(why, CAM_EINVAL, "expected version must be 0 or more");
	rc = m->ops->write(m->b, deadline_ns, ns, key, val, len, expected, cam_real_ms(), out,
			   &cur, why);
	if (current)
		*current = cur;
	return rc;
}

int cam_memctx_read(cam_memctx *m, int64_t deadline_ns, const char *ns, const char *key,
		    uint64_t version, struct cam_memctx_value *out, char *why)
{
	int rc = check_names(ns, key, why);

	out->data = NULL;
	return rc ? rc : m->ops->read(m->b, deadline_ns, ns, key, version, out, why);
}

int cam_memctx_versions(cam_memctx *m, int64_t deadline_ns, const char *ns, const char *key,
			struct cam_memctx_version *out, size_t max, size_t *n, char *why)
{
	int rc = check_names(ns, key, why);

	*n = 0;
	return rc ? rc : m->ops->versions(m->b, deadline_ns, ns, key, out, max, n, why);
}

int cam_memctx_delete(cam_memctx *m, int64_t deadline_ns, const char *ns, const char *key,
		      size_t *removed, char *why)
{
	int rc = check_names(ns, key, why);

	*removed = 0;
	return rc ? rc : m->ops->del(m->b, deadline_ns, ns, key, removed, why);
}

static void new_id(char *id)
{
	unsigned char r[CAM_MEMCTX_ID_LEN / 2];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)(((uint64_t)ts.tv_nsec * 2654435761u) >> (i % 8 * 4)) ^
			       (unsigned char)rand();
	}
	for (size_t i = 0; i < sizeof(r); i++)
		sprintf(id + 2 * i, "%02x", r[i]);
}

static int id_valid(const char *id)
{
	size_t n = 0;

	for (; id && id[n]; n++)
		if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f')))
			return 0;
	return n == CAM_MEMCTX_ID_LEN;
}

int cam_memctx_snapshot(cam_memctx *m, int64_t deadline_ns, const char *ns, char *id,
			size_t *keys, char *why)
{
	int rc = check_names(ns, NULL, why);

	*keys = 0;
	if (rc)
		return rc;
	new_id(id);
	return m->ops->snapshot(m->b, deadline_ns, ns, id, cam_real_ms(), keys, why);
}

int cam_memctx_restore(cam_memctx *m, int64_t deadline_ns, const char *id, char *ns,
		       size_t *keys, char *why)
{
	*keys = 0;
	ns[0] = '\0';
	if (!id_valid(id))
		return cam_memctx__fail(why, CAM_EINVAL, "snapshot id must be %d hex digits",
				   CAM_MEMCTX_ID_LEN);
	return m->ops->restore(m->b, deadline_ns, id, ns, keys, why);
}

int cam_memctx_snapshot_delete(cam_memctx *m, int64_t deadline_ns, const char *id, char *why)
{
	if (!id_valid(id))
		return cam_memctx__fail(why, CAM_EINVAL, "snapshot id must be %d hex digits",
				   CAM_MEMCTX_ID_LEN);
	return m->ops->snapshot_delete(m->b, deadline_ns, id, why);
}

uint64_t cam_memctx_size_bytes(cam_memctx *m)
{
	return m->ops->size_bytes(m->b);
}

uint64_t cam_memctx_reconnects(cam_memctx *m)
{
	return m->ops->reconnects(m->b);
}

uint64_t cam_memctx_master_changes(cam_memctx *m)
{
	return m->ops->master_changes ? m->ops->master_changes(m->b) : 0;
}

uint64_t cam_memctx_unconfirmed(cam_memctx *m)
{
	return m->ops->unconfirmed ? m->ops->unconfirmed(m->b) : 0;
}

enum cam_component_status cam_memctx_health(cam_memctx *m, char *msg, size_t len)
{
	return m->ops->health(m->b, msg, len);
}
