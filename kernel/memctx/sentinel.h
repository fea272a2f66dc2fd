/*
 * Redis Sentinel discovery on top of hiredis 0.14, which has none: which
 * Redis is the master of a named group, learnt from a list of sentinels and
 * kept current without a restart.
 *
 * At creation the sentinels are asked once (SENTINEL get-master-addr-by-name);
 * then one thread keeps a subscription to +switch-master on one sentinel
 * (the next one when it goes away), so a failover is known the moment a
 * sentinel announces it. The store calls cam_sentinel_suspect when the
 * master it has fails (connection error, READONLY, MASTERDOWN, a ROLE that
 * is not master); the thread then asks every sentinel at once and every
 * 250 ms until the store says cam_sentinel_master_ok, and takes an answer
 * only once that Redis says ROLE master. Every 5 s it asks one sentinel
 * anyway, in case a message was missed.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_MEMCTX_SENTINEL_H
#define CAM_MEMCTX_SENTINEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct cam_sentinel cam_sentinel;

#define CAM_SENTINEL_MAX 16
#define CAM_SENTINEL_HOST 256

struct cam_sentinel_opts {
	const char *addrs;       /* "host:port,host:port,..." ("[::1]:26379" for IPv6) */
	const char *master_name; /* the group's name in the sentinels' config */
	const char *password;    /* AUTH on the sentinels; NULL or "": none */
	int timeout_ms;          /* connect and command timeout towards a sentinel */
	/*
	 * Called on the sentinel thread when the master's address changes,
	 * with the old one ("" and 0 when none was known). Must not block.
	 */
	void (*on_change)(void *arg, const char *old_host, int old_port, const char *host,
			  int port);
	void *arg;
};

/* Parses the list and asks the sentinels once (none answering is not an
 * error: the master is then unknown until one does). CAM_EINVAL with why
 * (CAM_MEMCTX_WHY bytes) filled for a bad list or name. */
int cam_sentinel_new(const struct cam_sentinel_opts *o, cam_sentinel **out, char *why);
/* Stops the thread; NULL is a no-op. */
void cam_sentinel_free(cam_sentinel *s);

/* The master as last learnt into host (CAM_SENTINEL_HOST bytes) and
 * *port: 0, or CAM_EUNAVAIL when no sentinel has named one yet. Any
 * thread; never blocks on the network. */
int cam_sentinel_master(cam_sentinel *s, char *host, int *port);
/* The master failed in a way that may mean it moved: ask again now and
 * keep asking. Any thread; never blocks. */
void cam_sentinel_suspect(cam_sentinel *s);
/* A connection to the master checked ROLE master: stop asking. */
void cam_sentinel_master_ok(cam_sentinel *s);
/* The master's name, for messages. */
const char *cam_sentinel_name(const cam_sentinel *s);

#endif
