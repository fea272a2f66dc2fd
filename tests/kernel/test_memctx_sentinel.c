/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kernel/memctx/ with Redis found through Sentinel, and of
 * the call deadline and CAM_REDIS_MIN_REPLICAS_ACK: a real redis-server
 * master, one replica and one redis-sentinel, started on free ports and
 * killed by PID. Bad settings are refused; the master is found; a forced
 * failover (SENTINEL FAILOVER) is followed with no new store; WAIT confirms
 * or answers UNAVAILABLE saying the write reached the master; a deadline
 * bounds every command, and a short one does not mark Redis down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "kernel/memctx/memctx.h"
#include "tests/kernel/free_port.h"

#define TIMEOUT_MS 1000

static struct {
	pid_t master, replica, sentinel;
	int mport, rport, sport;
	char dir[64], sentinels[64];
} rs;

static const struct cam_memctx_limits limits = {
	.max_value_bytes = 4096, .max_keys = 64, .max_total_bytes = 1 << 20,
	.keep_versions = 5, .max_snapshots = 4,
};

/* A reply to cmd on 127.0.0.1:port (caller frees), or NULL. */
static redisReply *ask(int port, const char *cmd)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *r = NULL;

	if (c && !c->err) {
		redisSetTimeout(c, tv);
		r = redisCommand(c, cmd);
	}
	if (c)
		redisFree(c);
	return r;
}

static int contains(const redisReply *r, const char *want)
{
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
		return strstr(r->str, want) != NULL;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		if (contains(r->element[i], want))
			return 1;
	return 0;
}

/* Whether cmd's reply (arrays searched through) contains want. */
static int says(int port, const char *cmd, const char *want)
{
	redisReply *r = ask(port, cmd);
	int yes = r && contains(r, want);

	if (r)
		freeReplyObject(r);
	return yes;
}

static int wait_says(int port, const char *cmd, const char *want, double secs)
{
	int64_t until = cam_mono_ns() + (int64_t)(secs * 1e9);

	while (cam_mono_ns() < until) {
		if (says(port, cmd, want))
			return 1;
		usleep(50000);
	}
	return 0;
}

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static pid_t redis(int port, int master_port)
{
	char p[16], mp[16];

	snprintf(p, sizeof(p), "%d", port);
	snprintf(mp, sizeof(mp), "%d", master_port);
	if (master_port)
		return spawn((char *[]){ "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
					 "--dir", rs.dir, "--dbfilename", p, "--loglevel", "warning",
					 "--replicaof", "127.0.0.1", mp, NULL });
	return spawn((char *[]){ "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
				 "--dir", rs.dir, "--dbfilename", p, "--loglevel", "warning", NULL });
}

static void stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGCONT);
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

static int group_setup(void **state)
{
	char conf[128], p[16];
	FILE *f;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(rs.dir, sizeof(rs.dir), "/tmp/cam-sentinel-XXXXXX");
	if (!mkdtemp(rs.dir))
		return -1;
	rs.mport = free_port();
	rs.rport = free_port();
	rs.sport = free_port();
	snprintf(rs.sentinels, sizeof(rs.sentinels), "127.0.0.1:%d", rs.sport);
	rs.master = redis(rs.mport, 0);
	rs.replica = redis(rs.rport, rs.mport);
	if (!wait_says(rs.rport, "INFO replication", "master_link_status:up", 15))
		return -1;
	snprintf(conf, sizeof(conf), "%s/sentinel.conf", rs.dir);
	if (!(f = fopen(conf, "w")))
		return -1;
	fprintf(f, "port %d\nbind 127.0.0.1\ndir %s\nlogfile \"\"\n"
		   "sentinel monitor cam 127.0.0.1 %d 1\n"
		   "sentinel down-after-milliseconds cam 1000\n"
		   "sentinel failover-timeout cam 3000\n",
		rs.sport, rs.dir, rs.mport);
	fclose(f);
	snprintf(p, sizeof(p), "%d", rs.sport);
	rs.sentinel = spawn((char *[]){ "redis-sentinel", conf, NULL });
	/* Ready once it knows the replica (from the master's INFO). */
	if (!wait_says(rs.sport, "SENTINEL replicas cam", "slave", 15)) {
		fprintf(stderr, "redis-sentinel did not find the replica (deps/debian.txt: redis-sentinel)\n");
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	stop(&rs.sentinel);
	stop(&rs.replica);
	stop(&rs.master);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rs.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int new_store(const char *sentinels, const char *name, unsigned acks, cam_memctx **m,
		     char *why)
{
	struct cam_memctx_opts o = { .sentinels = sentinels, .master_name = name,
				     .min_replicas_ack = acks, .limits = limits,
				     .timeout_ms = TIMEOUT_MS, .ping_interval_ms = 100,
				     .backoff_max_ms = 400 };

	return cam_memctx_new(&o, m, why);
}

static cam_memctx *store(unsigned acks)
{
	char why[CAM_MEMCTX_WHY];
	cam_memctx *m;

	if (new_store(rs.sentinels, "cam", acks, &m, why))
		fail_msg("cam_memctx_new: %s", why);
	return m;
}

static int put(cam_memctx *m, int64_t deadline, const char *key, const char *val,
	       uint64_t *version, char *why)
{
	struct cam_memctx_version v = { 0 };
	int rc = cam_memctx_write(m, deadline, "s", key, val, strlen(val), CAM_MEMCTX_ANY, &v,
				  NULL, why);

	*version = v.version;
	return rc;
}

static int put_until_ok(cam_memctx *m, const char *key, const char *val, double secs)
{
	char why[CAM_MEMCTX_WHY];
	int64_t until = cam_mono_ns() + (int64_t)(secs * 1e9);
	uint64_t v;
	int rc;

	do {
		if (!(rc = put(m, CAM_MEMCTX_NO_DEADLINE, key, val, &v, why)))
			break;
		usleep(50000);
	} while (cam_mono_ns() < until);
	return rc;
}

static void test_bad_settings(void **state)
{
	static const char *const bad[] = { "x", "h:0", "h:70000", "h:", ":1", "[::1:5", "a:1,,b", NULL };
	char why[CAM_MEMCTX_WHY];
	cam_memctx *m;

	(void)state;
	for (size_t i = 0; bad[i]; i++)
		if (new_store(bad[i], "cam", 0, &m, why) != CAM_EINVAL)
			fail_msg("sentinel list %s was accepted", bad[i]);
	assert_int_equal(new_store(rs.sentinels, NULL, 0, &m, why), CAM_EINVAL);
	assert_non_null(strstr(why, "CAM_REDIS_MASTER_NAME"));
	assert_int_equal(new_store(rs.sentinels, "has space", 0, &m, why), CAM_EINVAL);
}

/* The master comes from the sentinels; health says so. */
static void test_found_through_sentinel(void **state)
{
	cam_memctx *m = store(0);
	char why[CAM_MEMCTX_WHY], msg[256], port[16];
	uint64_t v;

	(void)state;
	assert_int_equal(put(m, CAM_MEMCTX_NO_DEADLINE, "k", "one", &v, why), 0);
	usleep(300000);
	assert_int_equal(cam_memctx_health(m, msg, sizeof(msg)), CAM_COMPONENT_HEALTHY);
	assert_non_null(strstr(msg, "from the sentinels"));
	snprintf(port, sizeof(port), ":%d", rs.mport);
	assert_non_null(strstr(msg, port));
	assert_int_equal(cam_memctx_master_changes(m), 0);
	cam_memctx_free(m);
}

/* No sentinel answers at start: the store starts and answers UNAVAILABLE
 * at once. */
static void test_no_sentinel(void **state)
{
	char why[CAM_MEMCTX_WHY], list[32];
	cam_memctx *m;
	uint64_t v;
	int64_t t0;

	(void)state;
	snprintf(list, sizeof(list), "127.0.0.1:%d", free_port());
	assert_int_equal(new_store(list, "cam", 0, &m, why), 0);
	t0 = cam_mono_ns();
	assert_int_equal(put(m, CAM_MEMCTX_NO_DEADLINE, "k", "x", &v, why), CAM_EUNAVAIL);
	assert_true(cam_mono_ns() - t0 < 300000000);
	assert_non_null(strstr(why, "no sentinel has named master cam"));
	cam_memctx_free(m);
}

/* WAIT: one replica confirms; asking for two, the write reaches the
 * master but is answered UNAVAILABLE, and counted. */
static void test_replicas_ack(void **state)
{
	cam_memctx *one = store(1), *two = store(2);
	struct cam_memctx_value val;
	char why[CAM_MEMCTX_WHY];
	uint64_t v1, v2;
	int64_t t0;

	(void)state;
	assert_int_equal(put(one, CAM_MEMCTX_NO_DEADLINE, "ack", "confirmed", &v1, why), 0);
	assert_int_equal(cam_memctx_unconfirmed(one), 0);
	t0 = cam_mono_ns();
	assert_int_equal(put(two, cam_mono_ns() + 300000000, "ack", "unconfirmed", &v2, why),
			 CAM_EUNAVAIL);
	assert_true(cam_mono_ns() - t0 < 400000000); /* within its deadline */
	if (!strstr(why, "reached the Redis master but only 1 of 2 replicas"))
		fail_msg("why: %s", why);
	assert_int_equal(cam_memctx_unconfirmed(two), 1);
	/* It is on the master: the next version reads it back. */
	assert_int_equal(cam_memctx_read(one, CAM_MEMCTX_NO_DEADLINE, "s", "ack", v1 + 1, &val, why), 0);
	assert_memory_equal(val.data, "unconfirmed", 11);
	cam_memctx_value_free(&val);
	cam_memctx_free(one);
	cam_memctx_free(two);
}

struct collected {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
};

static void collect_done(struct cam_memctx_op *op)
{
	struct collected *c = op->arg;

	pthread_mutex_lock(&c->lock);
	c->done++;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static long long wait_calls(void)
{
	redisReply *r = ask(rs.mport, "INFO commandstats");
	const char *p = r ? strstr(r->str, "cmdstat_wait:calls=") : NULL;
	long long n = p ? atoll(p + 19) : 0;

	if (r)
		freeReplyObject(r);
	return n;
}

/* Many changes at once: all confirmed by WAIT, and far fewer WAITs than
 * changes (one per batch of a connection). */
#define BATCH_OPS 200
static void test_wait_per_batch(void **state)
{
	cam_memctx *m = store(1);
	struct collected c = { .lock = PTHREAD_MUTEX_INITIALIZER,
			       .cond = PTHREAD_COND_INITIALIZER };
	static struct cam_memctx_op ops[BATCH_OPS];
	static char keys[BATCH_OPS][16];
	char why[CAM_MEMCTX_WHY];
	long long before;
	uint64_t v;

	(void)state;
	assert_int_equal(put(m, CAM_MEMCTX_NO_DEADLINE, "warm", "x", &v, why), 0);
	before = wait_calls();
	for (int i = 0; i < BATCH_OPS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "b%d", i % 16);
		ops[i] = (struct cam_memctx_op){ .kind = CAM_MEMCTX_OP_WRITE, .ns = "batch",
						 .key = keys[i], .val = "v", .len = 1,
						 .expected = CAM_MEMCTX_ANY, .done = collect_done,
						 .arg = &c };
		cam_memctx_submit(m, &ops[i]);
	}
	pthread_mutex_lock(&c.lock);
	while (c.done < BATCH_OPS)
		pthread_cond_wait(&c.cond, &c.lock);
	pthread_mutex_unlock(&c.lock);
	for (int i = 0; i < BATCH_OPS; i++)
		if (ops[i].rc)
			fail_msg("write %d: %s", i, ops[i].why);
	if (wait_calls() - before > BATCH_OPS / 4)
		fail_msg("%lld WAITs for %d changes", wait_calls() - before, BATCH_OPS);
	assert_int_equal(cam_memctx_unconfirmed(m), 0);
	cam_memctx_free(m);
}

/* A deadline bounds every command: passed already, nothing is sent; with
 * Redis hung, the call ends at its deadline, not at the Redis timeout, and
 * Redis is not marked down for it. */
static void test_deadline(void **state)
{
	cam_memctx *m = store(0);
	struct cam_memctx_value val;
	char why[CAM_MEMCTX_WHY];
	uint64_t v;
	int64_t t0;

	(void)state;
	assert_int_equal(put(m, CAM_MEMCTX_NO_DEADLINE, "d", "warm", &v, why), 0);
	assert_int_equal(put(m, cam_mono_ns() - 1, "d", "late", &v, why), CAM_ETIMEDOUT);
	assert_int_equal(cam_memctx_read(m, CAM_MEMCTX_NO_DEADLINE, "s", "d", 0, &val, why), 0);
	assert_memory_equal(val.data, "warm", 4);
	cam_memctx_value_free(&val);

	kill(rs.master, SIGSTOP);
	t0 = cam_mono_ns();
	assert_int_equal(cam_memctx_read(m, cam_mono_ns() + 150000000, "s", "d", 0, &val, why),
			 CAM_ETIMEDOUT);
	assert_true(cam_mono_ns() - t0 < 350000000);
	assert_non_null(strstr(why, "deadline"));
	kill(rs.master, SIGCONT);
	/* Not marked down: the very next call goes to Redis and succeeds. */
	assert_int_equal(cam_memctx_read(m, CAM_MEMCTX_NO_DEADLINE, "s", "d", 0, &val, why), 0);
	cam_memctx_value_free(&val);
	cam_memctx_free(m);
}

/* SENTINEL FAILOVER: the replica becomes the master; the store follows
 * it (no new store), counts the change, and the data is there. */
static void test_failover(void **state)
{
	cam_memctx *m = store(0);
	struct cam_memctx_value val;
	char why[CAM_MEMCTX_WHY], port[16];
	redisReply *r;
	uint64_t v;

	(void)state;
	assert_int_equal(put(m, CAM_MEMCTX_NO_DEADLINE, "f", "before", &v, why), 0);
	assert_true(wait_says(rs.rport, "INFO replication", "master_link_status:up", 5));
	r = ask(rs.sport, "SENTINEL FAILOVER cam");
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
	snprintf(port, sizeof(port), "%d", rs.rport);
	assert_true(wait_says(rs.sport, "SENTINEL get-master-addr-by-name cam", port, 15));
	/* +switch-master reaches the store's subscription. (Until the
	 * sentinels turn the old master into a replica it still takes
	 * writes: the reason for min-replicas-to-write on a master.) */
	for (int i = 0; i < 100 && cam_memctx_master_changes(m) == 0; i++)
		usleep(50000);
	assert_int_equal(cam_memctx_master_changes(m), 1);
	assert_int_equal(put_until_ok(m, "f", "after", 10), 0);
	assert_true(says(rs.rport, "ROLE", "master"));
	/* The write went to the new master. */
	snprintf(port, sizeof(port), "%llu", (unsigned long long)v + 1);
	assert_true(says(rs.rport, "HGET cam:v2:{s}:idx f", port));
	assert_int_equal(cam_memctx_read(m, CAM_MEMCTX_NO_DEADLINE, "s", "f", v, &val, why), 0);
	assert_memory_equal(val.data, "before", 6);
	cam_memctx_value_free(&val);
	cam_memctx_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_settings),
		cmocka_unit_test(test_found_through_sentinel),
		cmocka_unit_test(test_no_sentinel),
		cmocka_unit_test(test_replicas_ack),
		cmocka_unit_test(test_wait_per_batch),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_failover),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
