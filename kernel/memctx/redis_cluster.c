/*
 * Redis Cluster routing (redis_cluster.h): CRC16 and hash slots, the slot
 * tags of key layout v2, CLUSTER SLOTS into a map, MOVED and ASK.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/memctx/redis_cluster.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernel/memctx/backend.h"

static uint16_t crc_table[256];
static char tags[CAM_RCLUSTER_SLOTS][5];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* CRC16/XMODEM: polynomial 0x1021, initial value 0, no reflection. */
static void crc_table_fill(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint16_t c = (uint16_t)(i << 8);

		for (int b = 0; b < 8; b++)
			c = (uint16_t)(c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1);
		crc_table[i] = c;
	}
}

static uint16_t crc16(const char *buf, size_t len)
{
	uint16_t c = 0;

	for (size_t i = 0; i < len; i++)
		c = (uint16_t)((c << 8) ^ crc_table[((c >> 8) ^ (unsigned char)buf[i]) & 0xff]);
	return c;
}

/* The first base-36 strings, in counting order, that fall in each slot. */
static void tags_fill(void)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	unsigned left = CAM_RCLUSTER_SLOTS;

	for (unsigned long i = 0; left; i++) {
		char s[8];
		size_t n = 0;
		unsigned long v = i;
		unsigned slot;

		do {
			s[n++] = digits[v % 36];
			v /= 36;
		} while (v);
		for (size_t a = 0, b = n - 1; a < b; a++, b--) {
			char t = s[a];
			s[a] = s[b];
			s[b] = t;
		}
		slot = crc16(s, n) & (CAM_RCLUSTER_SLOTS - 1);
		if (tags[slot][0])
			continue;
		memcpy(tags[slot], s, n);
		tags[slot][n] = '\0';
		left--;
	}
}

static void init(void)
{
	crc_table_fill();
	tags_fill();
}

uint16_t cam_rcluster_crc16(const char *buf, size_t len)
{
	pthread_once(&once, init);
	return crc16(buf, len);
}

unsigned cam_rcluster_key_slot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len), *close;

	if (open) {
		close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
		if (close && close > open + 1) {
			key = open + 1;
			len = (size_t)(close - key);
		}
	}
	return cam_rcluster_crc16(key, len) & (CAM_RCLUSTER_SLOTS - 1);
}

const char *cam_rcluster_slot_tag(unsigned slot)
{
	pthread_once(&once, init);
	return tags[slot & (CAM_RCLUSTER_SLOTS - 1)];
}

int cam_rcluster_split(const char *addr, char *host, int *port)
{
	const char *colon = strrchr(addr, ':');
	char *end;
	long p;

	if (!colon || (size_t)(colon - addr) >= CAM_RCLUSTER_ADDR)
		return -1;
	p = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || p < 1 || p > 65535)
		return -1;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	*port = (int)p;
	return 0;
}

int cam_rcluster_map_node(struct cam_rcluster_map *m, const char *addr)
{
	for (unsigned i = 0; i < m->nnodes; i++)
		if (strcmp(m->addr[i], addr) == 0)
			return (int)i;
	if (m->nnodes == CAM_RCLUSTER_MAX_NODES)
		return -1;
	snprintf(m->addr[m->nnodes], CAM_RCLUSTER_ADDR, "%s", addr);
	return (int)m->nnodes++;
}

/* "host:port" of a node entry {host, port, id, ...}; an empty host is
 * from's. 0 or -1. */
static int node_addr(const redisReply *n, const char *from, char *addr)
{
	char fhost[CAM_RCLUSTER_ADDR];
	const char *host;
	int fport;

	if (n->type != REDIS_REPLY_ARRAY || n->elements < 2 ||
	    n->element[0]->type != REDIS_REPLY_STRING || n->element[1]->type != REDIS_REPLY_INTEGER ||
	    n->element[1]->integer < 1 || n->element[1]->integer > 65535 ||
	    n->element[0]->len >= CAM_RCLUSTER_ADDR - 8)
		return -1;
	host = n->element[0]->str;
	if (!host[0] || strcmp(host, "?") == 0) {
		if (cam_rcluster_split(from, fhost, &fport))
			return -1;
		host = fhost;
	}
	snprintf(addr, CAM_RCLUSTER_ADDR, "%.*s:%d", CAM_RCLUSTER_ADDR - 8, host,
		 (int)n->element[1]->integer);
	return 0;
}

int cam_rcluster_map_parse(struct cam_rcluster_map *m, const redisReply *rep, const char *from,
			   char *why)
{
	char addr[CAM_RCLUSTER_ADDR];

	memset(m->node, 0xff, sizeof(m->node));
	m->nnodes = 0;
	if (!rep || rep->type != REDIS_REPLY_ARRAY)
		return cam_memctx__fail(why, CAM_EINVAL, "CLUSTER SLOTS from %s is not a slot map",
					from);
	for (size_t i = 0; i < rep->elements; i++) {
		const redisReply *e = rep->element[i];
		long long lo, hi;
		int idx;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    e->element[0]->type != REDIS_REPLY_INTEGER ||
		    e->element[1]->type != REDIS_REPLY_INTEGER)
			return cam_memctx__fail(why, CAM_EINVAL,
						"CLUSTER SLOTS from %s: entry %zu is not a slot range",
						from, i);
		lo = e->element[0]->integer;
		hi = e->element[1]->integer;
		if (lo < 0 || hi < lo || hi >= CAM_RCLUSTER_SLOTS || node_addr(e->element[2], from, addr))
			return cam_memctx__fail(why, CAM_EINVAL,
						"CLUSTER SLOTS from %s: entry %zu has a bad range or master",
						from, i);
		if ((idx = cam_rcluster_map_node(m, addr)) < 0)
			return cam_memctx__fail(why, CAM_EINVAL,
						"CLUSTER SLOTS from %s names more than %d masters", from,
						CAM_RCLUSTER_MAX_NODES);
		for (long long s = lo; s <= hi; s++)
			m->node[s] = (int16_t)idx;
	}
	m->uncovered = 0;
	for (unsigned s = 0; s < CAM_RCLUSTER_SLOTS; s++)
		m->uncovered += m->node[s] < 0;
	return 0;
}

enum cam_rcluster_redirect cam_rcluster_redirect(const char *err, const char *from,
						 unsigned *slot, char *addr)
{
	enum cam_rcluster_redirect kind;
	char host[CAM_RCLUSTER_ADDR], fhost[CAM_RCLUSTER_ADDR], *end;
	const char *p, *sp;
	unsigned long s;
	int port, fport;

	if (strncmp(err, "MOVED ", 6) == 0) {
		kind = CAM_RCLUSTER_MOVED;
		p = err + 6;
	} else if (strncmp(err, "ASK ", 4) == 0) {
		kind = CAM_RCLUSTER_ASK;
		p = err + 4;
	} else {
		return CAM_RCLUSTER_NONE;
	}
	s = strtoul(p, &end, 10);
	if (end == p || *end != ' ' || s >= CAM_RCLUSTER_SLOTS)
		return CAM_RCLUSTER_NONE;
	sp = end + 1;
	if (strlen(sp) >= CAM_RCLUSTER_ADDR || cam_rcluster_split(sp, host, &port))
		return CAM_RCLUSTER_NONE;
	if (!host[0]) {
		if (cam_rcluster_split(from, fhost, &fport))
			return CAM_RCLUSTER_NONE;
		snprintf(host, sizeof(host), "%s", fhost);
	}
	*slot = (unsigned)s;
	snprintf(addr, CAM_RCLUSTER_ADDR, "%.*s:%d", CAM_RCLUSTER_ADDR - 8, host, port);
	return kind;
}
