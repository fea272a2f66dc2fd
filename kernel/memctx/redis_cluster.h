/*
 * The Redis Cluster routing layer (hiredis 0.14 has none): which of the
 * 16384 hash slots a key belongs to (CRC16 of its hash tag), the slot map a
 * node gives in CLUSTER SLOTS, and the MOVED / ASK redirections a node
 * answers with when a slot is not, or no longer, its own.
 *
 * Everything here is pure computation on strings and replies: no socket,
 * no thread. The store keeps a map per event loop and refreshes it from the
 * health thread (redis_health.c); redis_ops.c follows redirections.
 *
 * Also the slot tags of key layout v2: for every slot s a short tag t
 * (lower-case base 36) whose CRC16 falls in s, so that a key "...{t}..."
 * lives in slot s. The store keeps one byte counter per slot under such a
 * tag, beside the namespaces of that slot (redis_scripts.h), so that no
 * key is touched by every script and the kernel can sum the counters.
 * The tags are the first ones found counting 0, 1, 2, ... in base 36, so
 * every kernel computes the same ones.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_MEMCTX_REDIS_CLUSTER_H
#define CAM_MEMCTX_REDIS_CLUSTER_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#define CAM_RCLUSTER_SLOTS 16384
/* Most masters a map may name. */
#define CAM_RCLUSTER_MAX_NODES 128
/* "host:port" of a node ("[v6]:port" never: Redis names IPs bare). */
#define CAM_RCLUSTER_ADDR 272

/* CRC16 (XMODEM), as Redis Cluster computes it. */
uint16_t cam_rcluster_crc16(const char *buf, size_t len);
/* The slot of a key: of its hash tag when it has one ({...} with at least
 * one byte inside), else of the whole key. */
unsigned cam_rcluster_key_slot(const char *key, size_t len);
/* The tag whose keys live in slot s (1-4 characters, NUL-terminated; the
 * table is computed once, on first use, from any thread). */
const char *cam_rcluster_slot_tag(unsigned slot);

/* A slot map: for each slot the index of its master in addrs, or -1 when
 * no node serves it. */
struct cam_rcluster_map {
	int16_t node[CAM_RCLUSTER_SLOTS];
	char addr[CAM_RCLUSTER_MAX_NODES][CAM_RCLUSTER_ADDR];
	unsigned nnodes;
	unsigned uncovered;          /* slots no master serves */
};

/*
 * Fills m from a CLUSTER SLOTS reply. from is the "host:port" of the node
 * that answered: a master named with an empty host (a node that does not
 * know its own address) gets that host. 0, or CAM_EINVAL with why
 * (CAM_MEMCTX_WHY bytes) filled when the reply is not a slot map.
 */
int cam_rcluster_map_parse(struct cam_rcluster_map *m, const redisReply *rep, const char *from,
			   char *why);
/* The index of addr in m, added when missing: -1 when the map is full. */
int cam_rcluster_map_node(struct cam_rcluster_map *m, const char *addr);

enum cam_rcluster_redirect { CAM_RCLUSTER_NONE, CAM_RCLUSTER_MOVED, CAM_RCLUSTER_ASK };
/*
 * Whether an error reply ("MOVED 3999 127.0.0.1:6381", "ASK 3999 :6381")
 * is a redirection; then *slot and addr (CAM_RCLUSTER_ADDR bytes) are
 * filled, an empty host becoming the host of from (the node that answered).
 */
enum cam_rcluster_redirect cam_rcluster_redirect(const char *err, const char *from,
						 unsigned *slot, char *addr);

/* "host:port" into host (CAM_RCLUSTER_ADDR bytes) and *port: 0 or -1. */
int cam_rcluster_split(const char *addr, char *host, int *port);

#endif
