/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kernel/memctx/ on a Redis Cluster: three masters and three
 * replicas on loopback (redis_cluster_fixture.h), real redis-server
 * processes stopped by PID. The contract suite (memctx_contract.h) with
 * the quota tests; namespaces spread over the masters by hash tag; a slot
 * moved under the store (MOVED), half moved (ASK, and TRYAGAIN while a
 * namespace's keys are split); the byte count summed by a new store; a
 * master killed and its replica promoted. No redis-server: the tests
 * fail, they are not skipped. */
#include "tests/kernel/memctx_contract.h"
#include "tests/kernel/redis_cluster_fixture.h"

#include "common/clock.h"
#include "kernel/memctx/redis_cluster.h"

#define TIMEOUT_MS 1000

static struct rc_fixture rc;

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (rc_start(&rc, 1500)) {
		fprintf(stderr, "cannot start a Redis Cluster (redis-server, redis-cli: deps/debian.txt)\n");
		rc_stop(&rc);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (getenv("KEEP_TMP"))
		rc.dir[0] = '\0';
	rc_stop(&rc);
	return 0;
}

static struct cam_memctx_opts opts_for(const struct cam_memctx_limits *l)
{
	return (struct cam_memctx_opts){ .cluster = rc.seeds, .limits = *l,
					 .timeout_ms = TIMEOUT_MS, .ping_interval_ms = 200,
					 .backoff_max_ms = 400 };
}

static cam_memctx *contract_store(const struct cam_memctx_limits *l)
{
	struct cam_memctx_opts o = opts_for(l);
	char why[CAM_MEMCTX_WHY];
	cam_memctx *m;

	if (cam_memctx_new(&o, &m, why))
		fail_msg("cam_memctx_new: %s", why);
	assert_string_equal(cam_memctx_backend(m), "redis");
	return m;
}

/* Every master emptied (the replicas follow). */
static void contract_reset(void)
{
	for (int i = 0; i < RC_NODES; i++) {
		redisReply *r;

		if (rc.pid[i] <= 0 || !rc_says(rc.port[i], "INFO replication", "role:master"))
			continue;
		r = rc_ask(rc.port[i], "FLUSHALL");
		assert_non_null(r);
		freeReplyObject(r);
	}
}

static unsigned slot_of(const char *ns)
{
	return cam_rcluster_key_slot(ns, strlen(ns));
}

static int write_rc(cam_memctx *m, int64_t deadline, const char *ns, const char *key,
		    const char *val, uint64_t *version, char *why)
{
	struct cam_memctx_version v = { 0 };
	int rc_ = cam_memctx_write(m, deadline, ns, key, val, strlen(val), CAM_MEMCTX_ANY, &v,
				   NULL, why);

	*version = v.version;
	return rc_;
}

/* The 64 namespaces a fleet's agents would use land on every master; the
 * store's map says who serves what, and its health says all is well. */
static void test_spread(void **state)
{
	cam_memctx *m = fresh(NULL);
	struct cam_memctx_cluster ci;
	char ns[32], msg[256];
	int per[RC_NODES] = { 0 };

	(void)state;
	for (int i = 0; i < 64; i++) {
		snprintf(ns, sizeof(ns), "agent-%d", i);
		assert_int_equal(put(m, ns, "goal", "x"), 1);
		per[rc_master_of(&rc, slot_of(ns))]++;
	}
	for (int i = 0; i < RC_NODES; i++) {
		redisReply *r = rc_ask(rc.port[i], "DBSIZE");

		if (per[i])
			assert_true(r->integer >= 3 * per[i]); /* hash, idx, val, counters */
		freeReplyObject(r);
	}
	assert_int_equal((per[0] > 0) + (per[1] > 0) + (per[2] > 0) + (per[3] > 0) +
				 (per[4] > 0) + (per[5] > 0),
			 3);
	assert_int_equal(cam_memctx_cluster(m, &ci), 0);
	assert_true(ci.ok);
	assert_int_equal(ci.masters, 3);
	assert_int_equal(ci.slots_uncovered, 0);
	assert_int_equal(cam_memctx_health(m, msg, sizeof(msg)), CAM_COMPONENT_HEALTHY);
	assert_non_null(strstr(msg, "3 masters"));
	assert_int_equal(cam_memctx_size_bytes(m), 64);
	cam_memctx_free(m);
}

/* A new store learns what is stored from the per-slot counters. */
static void test_size_summed(void **state)
{
	cam_memctx *m = fresh(NULL), *m2;
	char ns[32];

	(void)state;
	for (int i = 0; i < 20; i++) {
		snprintf(ns, sizeof(ns), "sum-%d", i);
		put(m, ns, "k", "0123456789");
	}
	m2 = contract_store(&default_limits);
	assert_int_equal(cam_memctx_size_bytes(m2), 200);
	cam_memctx_free(m2);
	cam_memctx_free(m);
}

/* Moves slot from node a to node b: keys first (all when all, else one),
 * then, when finish, the slot itself. */
static void migrate(unsigned slot, int a, int b, bool all, bool finish)
{
	char ida[41], idb[41];
	redisReply *keys, *r;

	assert_int_equal(rc_id(&rc, a, ida), 0);
	assert_int_equal(rc_id(&rc, b, idb), 0);
	r = rc_ask(rc.port[b], "CLUSTER SETSLOT %u IMPORTING %s", slot, ida);
	freeReplyObject(r);
	r = rc_ask(rc.port[a], "CLUSTER SETSLOT %u MIGRATING %s", slot, idb);
	freeReplyObject(r);
	keys = rc_ask(rc.port[a], "CLUSTER GETKEYSINSLOT %u 1000", slot);
	assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
	for (size_t i = 0; i < keys->elements && (all || i < 1); i++) {
		r = rc_ask(rc.port[a], "MIGRATE 127.0.0.1 %d %b 0 5000", rc.port[b],
			   keys->element[i]->str, keys->element[i]->len);
		assert_int_equal(r->type, REDIS_REPLY_STATUS);
		freeReplyObject(r);
	}
	freeReplyObject(keys);
	if (!finish)
		return;
	for (int i = 0; i < RC_NODES; i++) {
		if (rc.pid[i] <= 0 || !rc_says(rc.port[i], "INFO replication", "role:master"))
			continue;
		r = rc_ask(rc.port[i], "CLUSTER SETSLOT %u NODE %s", slot, idb);
		freeReplyObject(r);
	}
}

/* A master other than a. */
static int other_master(int a)
{
	for (int i = 0; i < RC_NODES; i++)
		if (i != a && rc.pid[i] > 0 && rc_says(rc.port[i], "INFO replication", "role:master"))
			return i;
	return -1;
}

/* The store's map is old: the node answers MOVED and the call follows it. */
static void test_moved(void **state)
{
	cam_memctx *m = fresh(NULL);
	unsigned slot = slot_of("mv");
	int a = rc_master_of(&rc, slot), b = other_master(a);

	(void)state;
	assert_int_equal(put(m, "mv", "k", "one"), 1);
	assert_int_equal(put(m, "mv", "j", "two"), 2);
	migrate(slot, a, b, true, true);
	assert_int_equal(rc_master_of(&rc, slot), b);
	assert_int_equal(put(m, "mv", "k", "three"), 3); /* versions go on */
	assert_value(m, "mv", "k", 1, "one");
	assert_value(m, "mv", "j", 0, "two");
	assert_value(m, "mv", "k", 0, "three");
	assert_int_equal(cam_memctx_size_bytes(m), 11);
	cam_memctx_free(m);
}

/* The slot is migrating and its keys are on the new node already: the old
 * one answers ASK, the call follows it with ASKING. */
static void test_ask(void **state)
{
	cam_memctx *m = fresh(NULL);
	unsigned slot = slot_of("ask");
	int a = rc_master_of(&rc, slot), b = other_master(a);

	(void)state;
	assert_int_equal(put(m, "ask", "k", "one"), 1);
	migrate(slot, a, b, true, false);
	assert_int_equal(put(m, "ask", "k", "two"), 2);
	assert_value(m, "ask", "k", 1, "one");
	assert_value(m, "ask", "k", 0, "two");
	migrate(slot, a, b, true, true);
	assert_int_equal(put(m, "ask", "k", "three"), 3);
	cam_memctx_free(m);
}

struct finisher {
	unsigned slot;
	int a, b;
};

static void *finish_later(void *arg)
{
	struct finisher *f = arg;

	usleep(300000);
	migrate(f->slot, f->a, f->b, true, true);
	return NULL;
}

/* Half the namespace's keys moved: both nodes answer TRYAGAIN until the
 * slot has moved; the call tries again within its deadline and succeeds. */
static void test_tryagain(void **state)
{
	cam_memctx *m = fresh(NULL);
	struct finisher f = { .slot = slot_of("try") };
	char why[CAM_MEMCTX_WHY];
	pthread_t t;
	uint64_t v;
	int64_t t0;

	(void)state;
	f.a = rc_master_of(&rc, f.slot);
	f.b = other_master(f.a);
	assert_int_equal(put(m, "try", "k", "one"), 1);
	migrate(f.slot, f.a, f.b, false, false);
	assert_int_equal(pthread_create(&t, NULL, finish_later, &f), 0);
	t0 = cam_mono_ns();
	assert_int_equal(write_rc(m, cam_mono_ns() + 3000000000LL, "try", "k", "two", &v, why), 0);
	assert_true(cam_mono_ns() - t0 >= 250000000); /* waited for the move */
	assert_int_equal(v, 2);
	pthread_join(t, NULL);
	assert_value(m, "try", "k", 1, "one");
	cam_memctx_free(m);
}

/* kill -9 a master: its slots answer UNAVAILABLE quickly, then its replica
 * is promoted and the same store writes there; what was acknowledged is
 * there. The killed node comes back as a replica. */
static void test_master_killed(void **state)
{
	cam_memctx *m = fresh(NULL);
	unsigned slot = slot_of("fo");
	int a = rc_master_of(&rc, slot), b;
	char why[CAM_MEMCTX_WHY];
	uint64_t v = 0;
	double t0, until;
	int rc_ = -1;

	(void)state;
	assert_int_equal(put(m, "fo", "k", "before"), 1);
	/* The write reached the replica before the kill (no WAIT here). */
	usleep(200000);
	rc_node_kill(&rc, a);
	t0 = rc_now();
	rc_ = write_rc(m, CAM_MEMCTX_NO_DEADLINE, "fo", "k", "x", &v, why);
	assert_int_equal(rc_, CAM_EUNAVAIL);
	assert_true(rc_now() - t0 < TIMEOUT_MS / 1000.0 + 0.3);
	until = rc_now() + 20;
	do {
		usleep(100000);
		rc_ = write_rc(m, CAM_MEMCTX_NO_DEADLINE, "fo", "k", "after", &v, why);
	} while (rc_ && rc_now() < until);
	if (rc_)
		fail_msg("no write after the failover (slot %u on node %d, was %d): %s", slot,
			 rc_master_of(&rc, slot), a, why);
	assert_true(v >= 2);
	b = rc_master_of(&rc, slot);
	assert_true(b >= 0 && b != a);
	assert_value(m, "fo", "k", 1, "before");
	rc_node_start(&rc, a);
	assert_int_equal(rc_wait_ok(&rc, 30), 0);
	cam_memctx_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CONTRACT_TESTS,
		CONTRACT_QUOTA_TESTS,
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_size_summed),
		cmocka_unit_test(test_moved),
		cmocka_unit_test(test_ask),
		cmocka_unit_test(test_tryagain),
		cmocka_unit_test(test_master_killed),
	};
	if (getenv("CMOCKA_TEST_FILTER"))
		cmocka_set_test_filter(getenv("CMOCKA_TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
