/*
 * kv_cache: an example driver with state, a bounded in-memory key-value
 * cache living in its helper process (so it is lost on a restart).
 *
 * Operations:
 *   set     "KEY=VALUE"    stores VALUE (replaces an old one); "stored"
 *   get     "KEY"          the value, or NOT_FOUND
 *   delete  "KEY"          "deleted", or NOT_FOUND
 *   size    ""             the number of keys
 * Config: "max_keys=N" (default 10000); a set past it is RESOURCE_EXHAUSTED.
 * Keys are 1-256 bytes without '='; values up to 16 KiB.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cam/driver.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CAM_DRIVER_DEFINE_ABI;

#define NBUCKETS 4096
#define MAX_KEY 256
#define MAX_VALUE (16 * 1024)

struct entry {
	struct entry *next;
	char *key;
	char *value;
	size_t vlen;
};

struct cache {
	struct entry *buckets[NBUCKETS];
	size_t n, max;
};

static uint32_t hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h % NBUCKETS;
}

int cam_driver_init(const char *config, void **state)
{
	struct cache *c = calloc(1, sizeof(*c));
	long max = 10000;

	if (!c)
		return CAM_DRIVER_EFAIL;
	if (config && strncmp(config, "max_keys=", 9) == 0) {
		max = strtol(config + 9, NULL, 10);
		if (max < 1) {
			free(c);
			return CAM_DRIVER_EINVAL;
		}
	}
	c->max = (size_t)max;
	*state = c;
	return CAM_DRIVER_OK;
}

static struct entry **find(struct cache *c, const char *key, size_t klen)
{
	struct entry **e = &c->buckets[hash(key, klen)];

	while (*e && (strlen((*e)->key) != klen || memcmp((*e)->key, key, klen) != 0))
		e = &(*e)->next;
	return e;
}

static int bad_key(size_t klen, struct cam_driver_buf *out)
{
	if (klen >= 1 && klen <= MAX_KEY)
		return 0;
	cam_driver_buf_puts(out, "key must be 1-256 bytes");
	return CAM_DRIVER_EINVAL;
}

static int set(struct cache *c, const char *in, size_t len, struct cam_driver_buf *out)
{
	const char *eq = memchr(in, '=', len);
	size_t klen = eq ? (size_t)(eq - in) : len, vlen = eq ? len - klen - 1 : 0;
	struct entry **e, *n;
	char *v;

	if (!eq) {
		cam_driver_buf_puts(out, "set takes KEY=VALUE");
		return CAM_DRIVER_EINVAL;
	}
	if (bad_key(klen, out))
		return CAM_DRIVER_EINVAL;
	if (vlen > MAX_VALUE) {
		cam_driver_buf_puts(out, "value is larger than 16 KiB");
		return CAM_DRIVER_EINVAL;
	}
	e = find(c, in, klen);
	if (!*e && c->n >= c->max) {
		cam_driver_buf_puts(out, "cache is full");
		return CAM_DRIVER_ELIMIT;
	}
	if (!(v = malloc(vlen + 1)))
		return CAM_DRIVER_EFAIL;
	memcpy(v, eq + 1, vlen);
	v[vlen] = '\0';
	if (*e) {
		free((*e)->value);
	} else {
		if (!(n = calloc(1, sizeof(*n))) || !(n->key = strndup(in, klen))) {
			free(n);
			free(v);
			return CAM_DRIVER_EFAIL;
		}
		*e = n;
		c->n++;
	}
	(*e)->value = v;
	(*e)->vlen = vlen;
	return cam_driver_buf_puts(out, "stored");
}

int cam_driver_invoke(void *state, const char *op, const char *in, size_t len,
		      struct cam_driver_buf *out)
{
	struct cache *c = state;
	struct entry **e, *dead;
	char buf[32];

	if (strcmp(op, "set") == 0)
		return set(c, in, len, out);
	if (strcmp(op, "size") == 0) {
		snprintf(buf, sizeof(buf), "%zu", c->n);
		return cam_driver_buf_puts(out, buf);
	}
	if (strcmp(op, "get") != 0 && strcmp(op, "delete") != 0) {
		cam_driver_buf_puts(out, "unknown operation");
		return CAM_DRIVER_ENOTSUP;
	}
	if (bad_key(len, out))
		return CAM_DRIVER_EINVAL;
	e = find(c, in, len);
	if (!*e) {
		cam_driver_buf_puts(out, "no such key");
		return CAM_DRIVER_ENOTFOUND;
	}
	if (op[0] == 'g')
		return cam_driver_buf_append(out, (*e)->value, (*e)->vlen);
	dead = *e;
	*e = dead->next;
	free(dead->key);
	free(dead->value);
	free(dead);
	c->n--;
	return cam_driver_buf_puts(out, "deleted");
}

int cam_driver_health(void *state, char *msg, size_t msglen)
{
	struct cache *c = state;

	snprintf(msg, msglen, "%zu of %zu keys", c->n, c->max);
	return c->n >= c->max ? CAM_DRIVER_DEGRADED : CAM_DRIVER_HEALTHY;
}

void cam_driver_shutdown(void *state)
{
	struct cache *c = state;

	for (size_t i = 0; i < NBUCKETS; i++)
		while (c->buckets[i]) {
			struct entry *e = c->buckets[i];

			c->buckets[i] = e->next;
			free(e->key);
			free(e->value);
			free(e);
		}
	free(c);
}
