/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kernel/memctx/redis_cluster.c, the routing layer: CRC16
 * and hash slots against the values the Redis Cluster specification
 * gives, hash tags, the slot tags of key layout v2, CLUSTER SLOTS replies
 * (as hiredis builds them from the wire) and MOVED / ASK errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "common/error.h"
#include "kernel/memctx/memctx.h"
#include "kernel/memctx/redis_cluster.h"

/* A reply as hiredis parses it from RESP bytes. */
static redisReply *parse(const char *resp)
{
	redisReader *rd = redisReaderCreate();
	void *rep = NULL;

	assert_int_equal(redisReaderFeed(rd, resp, strlen(resp)), REDIS_OK);
	assert_int_equal(redisReaderGetReply(rd, &rep), REDIS_OK);
	assert_non_null(rep);
	redisReaderFree(rd);
	return rep;
}

/* The spec's check value and slots redis-cli's CLUSTER KEYSLOT gives. */
static void test_crc16_and_slots(void **state)
{
	(void)state;
	assert_int_equal(cam_rcluster_crc16("123456789", 9), 0x31C3);
	assert_int_equal(cam_rcluster_key_slot("somekey", 7), 11058);
	assert_int_equal(cam_rcluster_key_slot("foo", 3), 12182);
	assert_int_equal(cam_rcluster_key_slot("bar", 3), 5061);
	/* Hash tags: the first {...} with something inside. */
	assert_int_equal(cam_rcluster_key_slot("{user1000}.following", 20),
			 cam_rcluster_key_slot("user1000", 8));
	assert_int_equal(cam_rcluster_key_slot("foo{}{bar}", 10),
			 cam_rcluster_key_slot("foo{}{bar}", 10) /* whole key */);
	assert_int_not_equal(cam_rcluster_key_slot("foo{}{bar}", 10),
			     cam_rcluster_key_slot("bar", 3));
	assert_int_equal(cam_rcluster_key_slot("foo{{bar}}zap", 13),
			 cam_rcluster_key_slot("{bar", 4));
	assert_int_equal(cam_rcluster_key_slot("foo{bar}{zap}", 13),
			 cam_rcluster_key_slot("bar", 3));
	assert_int_equal(cam_rcluster_key_slot("cam:v2:{agent-1}:idx", 20),
			 cam_rcluster_key_slot("agent-1", 7));
}

/* Every slot has a tag, the tag hashes to it, and tags are short. */
static void test_slot_tags(void **state)
{
	(void)state;
	for (unsigned s = 0; s < CAM_RCLUSTER_SLOTS; s++) {
		const char *t = cam_rcluster_slot_tag(s);
		char key[32];

		assert_true(strlen(t) >= 1 && strlen(t) <= 4);
		snprintf(key, sizeof(key), "cam:v2:{%s}:used", t);
		if (cam_rcluster_key_slot(key, strlen(key)) != s)
			fail_msg("tag %s is not in slot %u", t, s);
	}
	/* The first tags in counting order: every kernel finds the same. */
	assert_string_equal(cam_rcluster_slot_tag(cam_rcluster_key_slot("0", 1)), "0");
	assert_string_equal(cam_rcluster_slot_tag(cam_rcluster_key_slot("z", 1)), "z");
}

static void test_map_parse(void **state)
{
	struct cam_rcluster_map *m = calloc(1, sizeof(*m));
	char why[CAM_MEMCTX_WHY];
	redisReply *rep;

	(void)state;
	/* Two ranges on one master (with a replica), one on another; slots
	 * 10001-16383 served by none. Redis 7 adds a fourth element. */
	rep = parse("*3\r\n"
		    "*4\r\n:0\r\n:5000\r\n*4\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n*0\r\n"
		    "*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$2\r\nid\r\n"
		    "*3\r\n:5001\r\n:10000\r\n*3\r\n$0\r\n\r\n:7001\r\n$2\r\nid\r\n"
		    "*3\r\n:10001\r\n:10001\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n");
	assert_int_equal(cam_rcluster_map_parse(m, rep, "10.0.0.9:7001", why), 0);
	assert_int_equal(m->nnodes, 2);
	assert_string_equal(m->addr[0], "127.0.0.1:7000");
	assert_string_equal(m->addr[1], "10.0.0.9:7001"); /* empty host: the one asked */
	assert_int_equal(m->node[0], 0);
	assert_int_equal(m->node[5000], 0);
	assert_int_equal(m->node[5001], 1);
	assert_int_equal(m->node[10000], 1);
	assert_int_equal(m->node[10001], 0);
	assert_int_equal(m->node[10002], -1);
	assert_int_equal(m->uncovered, CAM_RCLUSTER_SLOTS - 10002);
	freeReplyObject(rep);
	/* Not a map. */
	rep = parse("-ERR This instance has cluster support disabled\r\n");
	assert_int_equal(cam_rcluster_map_parse(m, rep, "h:1", why), CAM_EINVAL);
	freeReplyObject(rep);
	rep = parse("*1\r\n*3\r\n:10\r\n:5\r\n*2\r\n$1\r\nh\r\n:1\r\n");
	assert_int_equal(cam_rcluster_map_parse(m, rep, "h:1", why), CAM_EINVAL);
	assert_non_null(strstr(why, "bad range"));
	freeReplyObject(rep);
	rep = parse("*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n");
	assert_int_equal(cam_rcluster_map_parse(m, rep, "h:1", why), CAM_EINVAL);
	freeReplyObject(rep);
	free(m);
}

static void test_redirects(void **state)
{
	char addr[CAM_RCLUSTER_ADDR], host[CAM_RCLUSTER_ADDR];
	unsigned slot;
	int port;

	(void)state;
	assert_int_equal(cam_rcluster_redirect("MOVED 3999 127.0.0.1:6381", "x:1", &slot, addr),
			 CAM_RCLUSTER_MOVED);
	assert_int_equal(slot, 3999);
	assert_string_equal(addr, "127.0.0.1:6381");
	assert_int_equal(cam_rcluster_redirect("ASK 16383 :6380", "10.1.2.3:6379", &slot, addr),
			 CAM_RCLUSTER_ASK);
	assert_int_equal(slot, 16383);
	assert_string_equal(addr, "10.1.2.3:6380");
	assert_int_equal(cam_rcluster_redirect("MOVED 16384 h:1", "x:1", &slot, addr),
			 CAM_RCLUSTER_NONE);
	assert_int_equal(cam_rcluster_redirect("MOVED 1 h", "x:1", &slot, addr), CAM_RCLUSTER_NONE);
	assert_int_equal(cam_rcluster_redirect("MOVEDX 1 h:2", "x:1", &slot, addr),
			 CAM_RCLUSTER_NONE);
	assert_int_equal(cam_rcluster_redirect("ERR wrong", "x:1", &slot, addr), CAM_RCLUSTER_NONE);
	assert_int_equal(cam_rcluster_split("redis-0.redis:6379", host, &port), 0);
	assert_string_equal(host, "redis-0.redis");
	assert_int_equal(port, 6379);
	assert_int_equal(cam_rcluster_split("h:0", host, &port), -1);
	assert_int_equal(cam_rcluster_split("h", host, &port), -1);
}

/* The map's node table: found again, full at the most masters. */
static void test_map_nodes(void **state)
{
	struct cam_rcluster_map *m = calloc(1, sizeof(*m));
	char a[32];

	(void)state;
	for (int i = 0; i < CAM_RCLUSTER_MAX_NODES; i++) {
		snprintf(a, sizeof(a), "10.0.0.%d:1", i);
		assert_int_equal(cam_rcluster_map_node(m, a), i);
	}
	assert_int_equal(cam_rcluster_map_node(m, "10.0.0.5:1"), 5);
	assert_int_equal(cam_rcluster_map_node(m, "10.9.9.9:1"), -1);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc16_and_slots),
		cmocka_unit_test(test_slot_tags),
		cmocka_unit_test(test_map_parse),
		cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_map_nodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
