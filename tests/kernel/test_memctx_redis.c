/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kernel/memctx/ with the Redis backend: the contract suite
 * (memctx_contract.h) against a real redis-server this test starts on a
 * free port (AOF, appendfsync always) and kills by PID, then Redis down at
 * start, killed, restarted and hung (SIGSTOP). No redis-server: the tests
 * fail, they are not skipped. */
#include "tests/kernel/memctx_contract.h"
#include "tests/kernel/free_port.h"
#include "common/clock.h"
#include "kernel/memctx/redis_cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 400

static struct {
	pid_t pid;
	int port;
	char dir[64];
	char url[64];
} rs;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static redisContext *raw(void)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", rs.port, tv);

	if (c && c->err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* Starts redis-server and waits until it answers PING (and has loaded). */
static int redis_start(void)
{
	char port[16];
	double until = now_s() + 10;

	snprintf(port, sizeof(port), "%d", rs.port);
	rs.pid = fork();
	if (rs.pid == 0) {
		int null = open("/dev/null", 1);
		dup2(null, 1);
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
		       "--dir", rs.dir, "--save", "", "--appendonly", "yes", "--appendfsync",
		       "always", "--daemonize", "no", "--loglevel", "warning", (char *)NULL);
		_exit(127);
	}
	while (now_s() < until) {
		redisContext *c = raw();
		redisReply *r = c ? redisCommand(c, "PING") : NULL;
		int ok = r && r->type == REDIS_REPLY_STATUS;

		if (r)
			freeReplyObject(r);
		if (c)
			redisFree(c);
		if (ok)
			return 0;
		if (waitpid(rs.pid, NULL, WNOHANG) == rs.pid) {
			rs.pid = 0;
			return -1;
		}
		usleep(20000);
	}
	return -1;
}

static void redis_kill(void)
{
	if (rs.pid > 0) {
		kill(rs.pid, SIGCONT);
		kill(rs.pid, SIGKILL);
		waitpid(rs.pid, NULL, 0);
	}
	rs.pid = 0;
}

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(rs.dir, sizeof(rs.dir), "/tmp/cam-memctx-XXXXXX");
	if (!mkdtemp(rs.dir))
		return -1;
	rs.port = free_port();
	snprintf(rs.url, sizeof(rs.url), "redis://127.0.0.1:%d", rs.port);
	if (redis_start()) {
		fprintf(stderr, "cannot start redis-server (is it installed? deps/debian.txt)\n");
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	redis_kill();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rs.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct cam_memctx_opts opts_for(const struct cam_memctx_limits *l)
{
	return (struct cam_memctx_opts){ .redis_url = rs.url, .limits = *l,
					 .timeout_ms = TIMEOUT_MS, .ping_interval_ms = 100,
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

static void contract_reset(void)
{
	redisContext *c = raw();
	redisReply *r;

	assert_non_null(c);
	r = redisCommand(c, "FLUSHALL");
	assert_non_null(r);
	freeReplyObject(r);
	redisFree(c);
}

/* Retries a write for up to secs; returns the last code. */
static int write_until_ok(cam_memctx *m, const char *val, double secs)
{
	struct cam_memctx_version v;
	char why[CAM_MEMCTX_WHY];
	double until = now_s() + secs;
	int rc;

	do {
		rc = cam_memctx_write(m, CAM_MEMCTX_NO_DEADLINE, "up", "k", val, strlen(val), CAM_MEMCTX_ANY, &v, NULL, why);
		if (rc == 0)
			break;
		usleep(50000);
	} while (now_s() < until);
	return rc;
}

/* The documented key layout v2 (redis_scripts.h): the namespace's keys
 * under its hash tag, the slot's byte counter under the slot's tag. */
static void test_key_layout(void **state)
{
	cam_memctx *m = fresh(NULL);
	redisContext *c = raw();
	redisReply *r;
	char cmd[128];

	(void)state;
	put(m, "doc", "key.1", "hello");
	put(m, "doc", "key.1", "world!");
	r = redisCommand(c, "HGET cam:v2:{doc}:idx key.1");
	assert_true(strncmp(r->str, "2:", 2) == 0); /* newest first */
	assert_non_null(strstr(r->str, ":6;1:"));
	assert_true(strcmp(r->str + strlen(r->str) - 2, ":5") == 0);
	freeReplyObject(r);
	r = redisCommand(c, "HGET cam:v2:{doc}:val key.1:2");
	assert_string_equal(r->str, "world!");
	freeReplyObject(r);
	r = redisCommand(c, "HMGET cam:v2:{doc} seq bytes");
	assert_string_equal(r->element[0]->str, "2");
	assert_string_equal(r->element[1]->str, "11");
	freeReplyObject(r);
	snprintf(cmd, sizeof(cmd), "GET cam:v2:{%s}:used",
		 cam_rcluster_slot_tag(cam_rcluster_key_slot("doc", 3)));
	r = redisCommand(c, cmd);
	assert_string_equal(r->str, "11:2");
	freeReplyObject(r);
	r = redisCommand(c, "EXISTS cam:ctx:bytes");
	assert_int_equal(r->integer, 0); /* no global counter */
	freeReplyObject(r);
	redisFree(c);
	cam_memctx_free(m);
}

/* A Redis holding layout v1 is refused with a message naming it. */
static void test_v1_refused(void **state)
{
	struct cam_memctx_opts o = opts_for(&default_limits);
	char why[CAM_MEMCTX_WHY];
	redisContext *c;
	redisReply *r;
	cam_memctx *m;

	(void)state;
	contract_reset();
	c = raw();
	r = redisCommand(c, "SET cam:ctx:bytes 5");
	freeReplyObject(r);
	assert_int_equal(cam_memctx_new(&o, &m, why), CAM_EINVAL);
	assert_non_null(strstr(why, "key layout v1"));
	assert_non_null(strstr(why, "cam:ctx:bytes"));
	r = redisCommand(c, "DBSIZE");
	assert_int_equal(r->integer, 1); /* nothing written beside it */
	freeReplyObject(r);
	redisFree(c);
	contract_reset();
}

static void test_bad_urls(void **state)
{
	static const char *const bad[] = { "http://x", "redis://", "redis://h:0", "redis://h:99999",
					   "redis://h:1/x", "redis://pw@h", NULL };
	struct cam_memctx_opts o = opts_for(&default_limits);
	char why[CAM_MEMCTX_WHY];
	cam_memctx *m;

	(void)state;
	for (size_t i = 0; bad[i]; i++) {
		o.redis_url = bad[i];
		if (cam_memctx_new(&o, &m, why) != CAM_EINVAL)
			fail_msg("URL %s was accepted", bad[i]);
	}
}

static void test_health(void **state)
{
	cam_memctx *m = fresh(NULL);
	char msg[256];

	(void)state;
	assert_int_equal(cam_memctx_health(m, msg, sizeof(msg)), CAM_COMPONENT_HEALTHY);
	assert_non_null(strstr(msg, "PING"));
	cam_memctx_free(m);
}

/* Redis down at start: the store starts, answers UNAVAILABLE at once, and
 * serves by itself once Redis is up. */
static void test_down_at_start(void **state)
{
	cam_memctx *m;
	struct cam_memctx_version v;
	char why[CAM_MEMCTX_WHY], msg[256];
	double t0;

	(void)state;
	redis_kill();
	m = contract_store(&default_limits);
	assert_int_equal(cam_memctx_health(m, msg, sizeof(msg)), CAM_COMPONENT_UNHEALTHY);
	for (int i = 0; i < 20; i++) {
		t0 = now_s();
		assert_int_equal(cam_memctx_write(m, CAM_MEMCTX_NO_DEADLINE, "up", "k", "v", 1, CAM_MEMCTX_ANY, &v, NULL, why),
				 CAM_EUNAVAIL);
		assert_true(now_s() - t0 < 0.2);
	}
	assert_non_null(strstr(why, "unavailable"));
	assert_int_equal(redis_start(), 0);
	assert_int_equal(write_until_ok(m, "v", 5), 0);
	usleep(300000);
	assert_int_equal(cam_memctx_health(m, msg, sizeof(msg)), CAM_COMPONENT_HEALTHY);
	cam_memctx_free(m);
}

/* kill -9 and restart: acknowledged writes survive (AOF, always), calls
 * fail fast meanwhile, the store reconnects by itself. */
static void test_killed_and_restarted(void **state)
{
	cam_memctx *m = fresh(NULL);
	struct cam_memctx_version v;
	char why[CAM_MEMCTX_WHY];
	double t0;

	(void)state;
	assert_int_equal(write_until_ok(m, "before", 1), 0);
	redis_kill();
	t0 = now_s();
	assert_int_equal(cam_memctx_write(m, CAM_MEMCTX_NO_DEADLINE, "up", "k", "x", 1, CAM_MEMCTX_ANY, &v, NULL, why),
			 CAM_EUNAVAIL);
	assert_true(now_s() - t0 < TIMEOUT_MS / 1000.0 + 0.2);
	t0 = now_s();
	assert_int_equal(read_rc(m, "up", "k", 0), CAM_EUNAVAIL);
	assert_true(now_s() - t0 < 0.2);
	assert_int_equal(redis_start(), 0);
	assert_int_equal(write_until_ok(m, "after", 5), 0);
	assert_value(m, "up", "k", 1, "before");
	assert_value(m, "up", "k", 0, "after");
	assert_true(cam_memctx_reconnects(m) >= 1);
	cam_memctx_free(m);
}

/* A hung Redis (SIGSTOP): the first call times out, later ones fail at
 * once, and service resumes after SIGCONT. */
static void test_hung(void **state)
{
	cam_memctx *m = fresh(NULL);
	struct cam_memctx_version v;
	char why[CAM_MEMCTX_WHY], msg[256];
	double t0, t;

	(void)state;
	assert_int_equal(write_until_ok(m, "before", 1), 0);
	kill(rs.pid, SIGSTOP);
	t0 = now_s();
	assert_int_equal(cam_memctx_write(m, CAM_MEMCTX_NO_DEADLINE, "up", "k", "x", 1, CAM_MEMCTX_ANY, &v, NULL, why),
			 CAM_EUNAVAIL);
	t = now_s() - t0;
	assert_true(t < TIMEOUT_MS / 1000.0 + 0.3);
	assert_non_null(strstr(why, "did not answer"));
	for (int i = 0; i < 10; i++) {
		t0 = now_s();
		assert_int_equal(read_rc(m, "up", "k", 0), CAM_EUNAVAIL);
		assert_true(now_s() - t0 < TIMEOUT_MS / 1000.0 + 0.1);
	}
	usleep(TIMEOUT_MS * 1000 + 200000);
	assert_int_equal(cam_memctx_health(m, msg, sizeof(msg)), CAM_COMPONENT_UNHEALTHY);
	kill(rs.pid, SIGCONT);
	assert_int_equal(write_until_ok(m, "after", 5), 0);
	assert_value(m, "up", "k", 1, "before");
	cam_memctx_free(m);
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

/* A hung Redis with a small in-flight cap: MAX_IN_FLIGHT commands go out,
 * as many wait, the rest are refused at once; every call completes by its
 * deadline, none waiting for the Redis timeout; afterwards all is well. */
#define CAP_OPS 40
static void test_in_flight_cap(void **state)
{
	struct cam_memctx_opts o = opts_for(&default_limits);
	struct collected c = { .lock = PTHREAD_MUTEX_INITIALIZER,
			       .cond = PTHREAD_COND_INITIALIZER };
	static struct cam_memctx_op ops[CAP_OPS];
	char why[CAM_MEMCTX_WHY];
	int refused = 0, late = 0, other = 0;
	cam_memctx *m;
	double t0;

	(void)state;
	contract_reset();
	o.max_in_flight = 4;
	o.timeout_ms = 5000; /* longer than the hang: only the cap and deadlines bound it */
	assert_int_equal(cam_memctx_new(&o, &m, why), 0);
	assert_int_equal(write_until_ok(m, "warm", 2), 0);
	kill(rs.pid, SIGSTOP);
	t0 = now_s();
	for (int i = 0; i < CAP_OPS; i++) {
		ops[i] = (struct cam_memctx_op){ .kind = CAM_MEMCTX_OP_WRITE, .ns = "cap", .key = "k",
						 .val = "v", .len = 1, .expected = CAM_MEMCTX_ANY,
						 .deadline_ns = cam_mono_ns() + 300000000,
						 .done = collect_done, .arg = &c };
		cam_memctx_submit(m, &ops[i]);
	}
	pthread_mutex_lock(&c.lock);
	while (c.done < CAP_OPS)
		pthread_cond_wait(&c.cond, &c.lock);
	pthread_mutex_unlock(&c.lock);
	assert_true(now_s() - t0 < 0.3 + 0.3);
	for (int i = 0; i < CAP_OPS; i++) {
		if (ops[i].rc == CAM_EUNAVAIL && strstr(ops[i].why, "not taking more"))
			refused++;
		else if (ops[i].rc == CAM_ETIMEDOUT)
			late++;
		else
			other++;
	}
	assert_int_equal(other, 0);
	assert_int_equal(late, 8);      /* 4 in flight, 4 waiting */
	assert_int_equal(refused, CAP_OPS - 8);
	kill(rs.pid, SIGCONT);
	/* The in-flight ones are answered late (dropped); calls go on. */
	assert_int_equal(write_until_ok(m, "after", 3), 0);
	assert_int_equal(read_rc(m, "up", "k", 0), 0);
	cam_memctx_free(m);
}

/* With a per-owner quota the owner's count is kept atomically beside its
 * namespaces (layout v2): bytes of every namespace of the owner, and the
 * sum, in cam:v2:owner:{<owner>}. */
static void test_owner_key(void **state)
{
	struct cam_memctx_limits l = default_limits;
	char id[CAM_MEMCTX_ID_LEN + 1], why[CAM_MEMCTX_WHY];
	redisContext *c;
	redisReply *r;
	size_t keys, removed;
	cam_memctx *m;

	(void)state;
	l.max_bytes_per_owner = 1000;
	m = fresh(&l);
	put(m, "ann", "a", "12345");
	put(m, "ann/x", "b", "123");
	assert_int_equal(cam_memctx_snapshot(m, CAM_MEMCTX_NO_DEADLINE, "ann/x", id, &keys, why), 0);
	c = raw();
	r = redisCommand(c, "HGET cam:v2:owner:{ann} :total");
	assert_string_equal(r->str, "11"); /* 5 + 3 + the snapshot's 3 */
	freeReplyObject(r);
	assert_int_equal(cam_memctx_delete(m, CAM_MEMCTX_NO_DEADLINE, "ann/x", NULL, &removed, why), 0);
	assert_int_equal(cam_memctx_snapshot_delete(m, CAM_MEMCTX_NO_DEADLINE, id, why), 0);
	r = redisCommand(c, "HGET cam:v2:owner:{ann} :total");
	assert_string_equal(r->str, "5");
	freeReplyObject(r);
	r = redisCommand(c, "HEXISTS cam:v2:owner:{ann} ann/x");
	assert_int_equal(r->integer, 0); /* an empty namespace leaves the count */
	freeReplyObject(r);
	redisFree(c);
	cam_memctx_free(m);
}

/* Redis forgot the scripts (SCRIPT FLUSH, a restart without them): the
 * calls on a live connection meet NOSCRIPT and go again by EVAL. */
static void test_noscript(void **state)
{
	cam_memctx *m = fresh(NULL);
	redisContext *c;
	redisReply *r;

	(void)state;
	assert_int_equal(put(m, "ns", "k", "one"), 1);
	c = raw();
	r = redisCommand(c, "CONFIG RESETSTAT");
	freeReplyObject(r);
	r = redisCommand(c, "SCRIPT FLUSH");
	freeReplyObject(r);
	assert_int_equal(put(m, "ns", "k", "two"), 2);
	assert_value(m, "ns", "k", 1, "one");
	r = redisCommand(c, "INFO commandstats");
	assert_non_null(strstr(r->str, "cmdstat_eval:"));  /* the fallback ran */
	freeReplyObject(r);
	redisFree(c);
	cam_memctx_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CONTRACT_TESTS,
		CONTRACT_QUOTA_TESTS,
		cmocka_unit_test(test_key_layout),
		cmocka_unit_test(test_v1_refused),
		cmocka_unit_test(test_bad_urls),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_down_at_start),
		cmocka_unit_test(test_killed_and_restarted),
		cmocka_unit_test(test_hung),
		cmocka_unit_test(test_in_flight_cap),
		cmocka_unit_test(test_owner_key),
		cmocka_unit_test(test_noscript),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
