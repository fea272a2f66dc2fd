/*
 * Unit tests of kernel/drivers/: manifest parsing (manifest.c) and the
 * runtime (runtime.c) against the real helper program and the test
 * drivers that kernel/drivers/drivers.mk builds beside this binary.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/error.h"
#include "kernel/drivers/manifest.h"
#include "kernel/drivers/proc.h"
#include "kernel/drivers/runtime.h"

/* ---- manifests -------------------------------------------------------- */

#define HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define GOOD_FIELDS                                                             \
	"\"name\": \"demo\", \"version\": \"1.2.3\", \"author\": \"me\", "       \
	"\"license\": \"MIT\", \"abi_version\": 1, \"library\": \"demo.so\", "  \
	"\"sha256\": \"" HASH "\", \"price_micro_usd\": 25, "                   \
	"\"capabilities\": [\"run\", \"stop\"]"

static int parse(const char *json, struct cam_manifest *m, char *why)
{
	return cam_manifest_parse(json, strlen(json), m, why, 200);
}

static void test_manifest_good(void **state)
{
	struct cam_manifest m;
	char why[200];

	(void)state;
	assert_int_equal(parse("{" GOOD_FIELDS "}", &m, why), 0);
	assert_string_equal(m.name, "demo");
	assert_string_equal(m.version, "1.2.3");
	assert_int_equal(m.abi_version, 1);
	assert_int_equal(m.price_micro_usd, 25);
	assert_int_equal(m.ncaps, 2);
	assert_true(cam_manifest_has_cap(&m, "stop"));
	assert_false(cam_manifest_has_cap(&m, "start"));
	/* Defaults for the optional fields. */
	assert_int_equal(m.timeout_ms, 5000);
	assert_int_equal(m.memory_limit_mb, 256);
	assert_int_equal(m.instances, 1);
	assert_string_equal(m.config, "");
	cam_manifest_free(&m);

	assert_int_equal(parse("{" GOOD_FIELDS ", \"timeout_ms\": 10, \"instances\": 3, "
			       "\"config\": \"a=b\", \"description\": \"d\"}", &m, why), 0);
	assert_int_equal(m.timeout_ms, 10);
	assert_int_equal(m.instances, 3);
	assert_string_equal(m.config, "a=b");
	cam_manifest_free(&m);

	/* Upper-case hex is accepted and kept lower-case. */
	assert_int_equal(parse("{\"name\": \"demo\", \"version\": \"1\", \"author\": \"a\", "
			       "\"license\": \"l\", \"abi_version\": 1, \"library\": \"x.so\", "
			       "\"sha256\": \"ABCDEF6789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\", "
			       "\"price_micro_usd\": 0, \"capabilities\": [\"a\"]}", &m, why), 0);
	assert_memory_equal(m.sha256, "abcdef", 6);
	cam_manifest_free(&m);
}

/* Each bad manifest is refused with a message naming the problem. */
static void test_manifest_bad(void **state)
{
	static const struct {
		const char *json, *why;
	} cases[] = {
		{ "not json", "not valid JSON" },
		{ "[1, 2]", "must be a JSON object" },
		{ "{" GOOD_FIELDS ", \"colour\": 1}", "unknown field \"colour\"" },
		{ "{" GOOD_FIELDS ", \"name\": \"x\"}", "duplicate field \"name\"" },
		{ "{\"version\": \"1\"}", "missing field \"name\"" },
		{ "{" GOOD_FIELDS ", \"timeout_ms\": 0}", "\"timeout_ms\" must be an integer" },
		{ "{" GOOD_FIELDS ", \"instances\": 9}", "\"instances\" must be an integer" },
		{ "{" GOOD_FIELDS ", \"memory_limit_mb\": \"big\"}", "\"memory_limit_mb\" must be an integer" },
		{ "{" GOOD_FIELDS ", \"config\": 5}", "\"config\" must be a string" },
	};
	struct cam_manifest m;
	char why[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		assert_int_equal(parse(cases[i].json, &m, why), CAM_EINVAL);
		if (!strstr(why, cases[i].why))
			fail_msg("case %zu: '%s' does not say '%s'", i, why, cases[i].why);
	}
}

static void test_manifest_field_checks(void **state)
{
	static const struct {
		const char *from, *to, *why;
	} cases[] = {
		{ "\"name\": \"demo\"", "\"name\": \"Demo\"", "\"name\" must match" },
		{ "\"name\": \"demo\"", "\"name\": \"9lives\"", "\"name\" must match" },
		{ "\"library\": \"demo.so\"", "\"library\": \"../x.so\"", "\"library\" must be a file name" },
		{ "\"sha256\": \"" HASH "\"", "\"sha256\": \"abc\"", "\"sha256\" must be 64 hex" },
		{ "\"price_micro_usd\": 25", "\"price_micro_usd\": -1", "\"price_micro_usd\" must be" },
		{ "\"price_micro_usd\": 25", "\"price_micro_usd\": 2.5", "\"price_micro_usd\" must be" },
		{ "\"abi_version\": 1", "\"abi_version\": \"1\"", "\"abi_version\" must be" },
		{ "[\"run\", \"stop\"]", "[]", "\"capabilities\" must be an array" },
		{ "[\"run\", \"stop\"]", "[\"run\", \"Stop!\"]", "capability 1 must be" },
		{ "\"version\": \"1.2.3\"", "\"version\": \"\"", "\"version\" is empty" },
	};
	struct cam_manifest m;
	char json[1024], why[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *good = "{" GOOD_FIELDS "}";
		const char *at = strstr(good, cases[i].from);

		assert_non_null(at);
		snprintf(json, sizeof(json), "%.*s%s%s", (int)(at - good), good, cases[i].to,
			 at + strlen(cases[i].from));
		why[0] = '\0';
		assert_int_equal(parse(json, &m, why), CAM_EINVAL);
		if (!strstr(why, cases[i].why))
			fail_msg("case %zu: '%s' does not say '%s'", i, why, cases[i].why);
	}
}

/* ---- the runtime with real helpers ------------------------------------ */

static char build_dir[1024];
static char drivers_dir[1024];
static char host[1100];

/* The build folder is three levels above this binary
 * (BUILD/tests/kernel/test_drivers); the test drivers go into a fresh
 * folder as symlinks, beside copies to break. */
static int setup_dirs(void **state)
{
	static const char *const names[] = { "text_transform", "kv_cache", "crash", "hang",
					     "error", "badinit", "nosym", "badabi" };
	char exe[1024], link[1100], target[1100];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	(void)state;
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	for (int i = 0; i < 3; i++)
		*strrchr(exe, '/') = '\0';
	snprintf(build_dir, sizeof(build_dir), "%s", exe);
	snprintf(host, sizeof(host), "%s/cam-driver-host", build_dir);
	snprintf(drivers_dir, sizeof(drivers_dir), "/tmp/cam-test-drivers-XXXXXX");
	if (!mkdtemp(drivers_dir))
		return -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(target, sizeof(target), "%s/%s/%s", build_dir,
			 i < 2 ? "drivers" : "drivers-test", names[i]);
		snprintf(link, sizeof(link), "%s/%s", drivers_dir, names[i]);
		if (symlink(target, link))
			return -1;
	}
	return 0;
}

static int teardown_dirs(void **state)
{
	char cmd[1100];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", drivers_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static cam_drivers *new_runtime(void)
{
	struct cam_drivers_opts o = { .dir = drivers_dir, .host = host };
	cam_drivers *rt = NULL;

	assert_int_equal(cam_drivers_new(&o, &rt), 0);
	return rt;
}

static int invoke(cam_drivers *rt, const char *name, const char *op, const char *in,
		  int64_t timeout_ms, char *out, size_t outcap, char *err)
{
	char *o = NULL;
	size_t len = 0;
	int st = cam_drivers_invoke(rt, name, op, in, strlen(in),
				    timeout_ms ? cam_mono_ns() + timeout_ms * 1000000 : 0,
				    &o, &len, err, 256);

	if (out)
		snprintf(out, outcap, "%s", o ? o : "");
	free(o);
	return st;
}

static void test_load_invoke_unload(void **state)
{
	cam_drivers *rt = new_runtime();
	struct cam_driver_loaded info;
	struct cam_driver_info list[4];
	char out[256], err[256];

	(void)state;
	assert_int_equal(cam_drivers_load(rt, "text_transform", NULL, &info, err, sizeof(err)), 0);
	assert_string_equal(info.version, "1.0.0");
	assert_int_equal(info.instances, 2);
	assert_int_equal(cam_drivers_load(rt, "text_transform", NULL, NULL, err, sizeof(err)), CAM_EEXIST);
	assert_int_equal(invoke(rt, "text_transform", "upper", "abc, def", 0, out, sizeof(out), err), 0);
	assert_string_equal(out, "ABC, DEF");
	assert_int_equal(invoke(rt, "text_transform", "nope", "", 0, out, sizeof(out), err), CAM_EINVAL);
	assert_int_equal(invoke(rt, "kv_cache", "get", "", 0, out, sizeof(out), err), CAM_ENOENT);

	assert_int_equal(cam_drivers_load(rt, "kv_cache", "max_keys=1", NULL, err, sizeof(err)), 0);
	assert_int_equal(invoke(rt, "kv_cache", "set", "a=1", 0, out, sizeof(out), err), 0);
	assert_int_equal(invoke(rt, "kv_cache", "set", "b=2", 0, out, sizeof(out), err), CAM_ELIMIT);
	assert_non_null(strstr(err, "cache is full"));

	assert_int_equal(cam_drivers_list(rt, list, 4), 2);
	assert_string_equal(list[0].m.name, "kv_cache");
	assert_int_equal(list[0].invocations, 2);
	assert_int_equal(list[0].revenue_micro_usd, 20);
	assert_string_equal(list[1].m.name, "text_transform");
	assert_int_equal(list[1].up, 2);
	assert_int_equal(list[1].revenue_micro_usd, 50);

	assert_int_equal(cam_drivers_unload(rt, "text_transform", err, sizeof(err)), 0);
	assert_int_equal(cam_drivers_unload(rt, "text_transform", err, sizeof(err)), CAM_ENOENT);
	assert_int_equal(invoke(rt, "text_transform", "upper", "x", 0, out, sizeof(out), err), CAM_ENOENT);
	assert_int_equal(cam_drivers_list(rt, list, 4), 1);
	cam_drivers_free(rt);
}

static void test_refused_loads(void **state)
{
	static const struct {
		const char *name;
		int status;
		const char *why;
	} cases[] = {
		{ "badinit", CAM_EPRECOND, "init failed" },
		{ "nosym", CAM_EPRECOND, "does not export cam_driver_health" },
		{ "badabi", CAM_EPRECOND, "built for driver ABI v99" },
		{ "nothere", CAM_ENOENT, "no driver nothere" },
		{ "Bad", CAM_EINVAL, "driver name must match" },
		{ "../x", CAM_EINVAL, "driver name must match" },
	};
	cam_drivers *rt = new_runtime();
	struct cam_driver_info list[1];
	char err[256], health[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(cam_drivers_load(rt, cases[i].name, NULL, NULL, err, sizeof(err)),
				 cases[i].status);
		if (!strstr(err, cases[i].why))
			fail_msg("%s: '%s' does not say '%s'", cases[i].name, err, cases[i].why);
	}
	assert_int_equal(cam_drivers_list(rt, list, 1), 0);
	/* A refused load frees its name for the next try. */
	assert_int_equal(cam_drivers_load(rt, "badinit", NULL, NULL, err, sizeof(err)), CAM_EPRECOND);
	assert_int_equal(cam_drivers_health(rt, health, sizeof(health)), 1);
	assert_non_null(strstr(health, "0 loaded, 5 failed loads"));
	cam_drivers_free(rt);
}

/* A copy of text_transform whose manifest has another hash. */
static void test_wrong_hash(void **state)
{
	char path[1100], cmd[8192], err[256];
	cam_drivers *rt;

	(void)state;
	snprintf(path, sizeof(path), "%s/tampered", drivers_dir);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s' && cp '%s/drivers/text_transform/text_transform.so' '%s/' && "
		 "sed -e 's/\"name\": \"text_transform\"/\"name\": \"tampered\"/' "
		 "-e 's/\"sha256\": \"[0-9a-f]*\"/\"sha256\": \"" HASH "\"/' "
		 "'%s/drivers/text_transform/manifest.json' > '%s/manifest.json'",
		 path, build_dir, path, build_dir, path);
	assert_int_equal(system(cmd), 0);
	rt = new_runtime();
	assert_int_equal(cam_drivers_load(rt, "tampered", NULL, NULL, err, sizeof(err)), CAM_EPRECOND);
	assert_non_null(strstr(err, "the manifest says " HASH));
	cam_drivers_free(rt);
}

/* Waits up to 10 s for an invoke of echo to succeed (the restart). */
static int comes_back(cam_drivers *rt, const char *name)
{
	char out[64], err[256];

	for (int i = 0; i < 200; i++) {
		if (invoke(rt, name, "echo", "hi", 0, out, sizeof(out), err) == 0)
			return strcmp(out, "hi") == 0;
		usleep(50000);
	}
	return 0;
}

static void test_crash_restarts(void **state)
{
	cam_drivers *rt = new_runtime();
	struct cam_driver_info list[1];
	char err[256], health[256];

	(void)state;
	assert_int_equal(cam_drivers_load(rt, "crash", NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(invoke(rt, "crash", "crash", "", 0, NULL, 0, err), CAM_EUNAVAIL);
	assert_non_null(strstr(err, "killed by signal 11"));
	assert_true(comes_back(rt, "crash"));
	assert_int_equal(invoke(rt, "crash", "exit", "", 0, NULL, 0, err), CAM_EUNAVAIL);
	assert_non_null(strstr(err, "exited with status 3"));
	assert_true(comes_back(rt, "crash"));
	assert_int_equal(cam_drivers_list(rt, list, 1), 1);
	assert_int_equal(list[0].restarts, 2);
	assert_int_equal(cam_drivers_health(rt, health, sizeof(health)), 1);
	assert_non_null(strstr(health, "1 restarted in the last 5m"));
	cam_drivers_free(rt);
}

/* The helper dies while the kernel waits for the late answer to a call
 * whose client deadline passed: the caller already has its
 * DEADLINE_EXCEEDED, the helper is recycled and restarts. */
static void test_crash_after_deadline(void **state)
{
	cam_drivers *rt = new_runtime();
	struct cam_driver_info list[1];
	char err[256];
	int64_t t0;

	(void)state;
	assert_int_equal(cam_drivers_load(rt, "crash", NULL, NULL, err, sizeof(err)), 0);
	t0 = cam_mono_ns();
	assert_int_equal(invoke(rt, "crash", "late_crash", "300", 100, NULL, 0, err), CAM_ETIMEDOUT);
	assert_true(cam_mono_ns() - t0 < 280 * 1000000LL);
	assert_non_null(strstr(err, "did not answer late_crash before the deadline"));
	assert_true(comes_back(rt, "crash"));
	assert_int_equal(cam_drivers_list(rt, list, 1), 1);
	assert_int_equal(list[0].restarts, 1);
	cam_drivers_free(rt);
}

static void test_hang_deadline(void **state)
{
	cam_drivers *rt = new_runtime();
	char err[256];
	int64_t t0;

	(void)state;
	assert_int_equal(cam_drivers_load(rt, "hang", NULL, NULL, err, sizeof(err)), 0);
	t0 = cam_mono_ns();
	assert_int_equal(invoke(rt, "hang", "hang", "", 200, NULL, 0, err), CAM_ETIMEDOUT);
	assert_true(cam_mono_ns() - t0 < 1500 * 1000000LL);
	assert_non_null(strstr(err, "did not answer hang before the deadline"));
	assert_true(comes_back(rt, "hang"));
	cam_drivers_free(rt);
}

struct sleeper {
	cam_drivers *rt;
	int status;
	char out[64];
};

static void *sleep_invoke(void *arg)
{
	struct sleeper *s = arg;
	char err[256];

	s->status = invoke(s->rt, "hang", "sleep", "400", 0, s->out, sizeof(s->out), err);
	return NULL;
}

static void test_unload_waits(void **state)
{
	cam_drivers *rt = new_runtime();
	struct sleeper s = { .rt = rt, .status = -1 };
	pthread_t t;
	char err[256];
	int64_t t0;

	(void)state;
	assert_int_equal(cam_drivers_load(rt, "hang", NULL, NULL, err, sizeof(err)), 0);
	pthread_create(&t, NULL, sleep_invoke, &s);
	usleep(100000);
	t0 = cam_mono_ns();
	assert_int_equal(cam_drivers_unload(rt, "hang", err, sizeof(err)), 0);
	assert_true(cam_mono_ns() - t0 >= 150 * 1000000LL);
	pthread_join(t, NULL);
	assert_int_equal(s.status, 0);
	assert_string_equal(s.out, "slept");
	cam_drivers_free(rt);
}

static void *hammer(void *arg)
{
	cam_drivers *rt = arg;
	char out[64], err[256];
	long bad = 0;

	for (int i = 0; i < 100; i++)
		bad += invoke(rt, "text_transform", "lower", "ABC", 0, out, sizeof(out), err) != 0 ||
		       strcmp(out, "abc") != 0;
	return (void *)bad;
}

static void test_concurrent_invokes(void **state)
{
	cam_drivers *rt = new_runtime();
	struct cam_driver_info list[1];
	pthread_t t[8];
	char err[256];
	void *bad;

	(void)state;
	assert_int_equal(cam_drivers_load(rt, "text_transform", NULL, NULL, err, sizeof(err)), 0);
	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, hammer, rt);
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], &bad);
		assert_int_equal((long)bad, 0);
	}
	assert_int_equal(cam_drivers_list(rt, list, 1), 1);
	assert_int_equal(list[0].invocations, 800);
	assert_int_equal(list[0].revenue_micro_usd, 800 * 50);
	cam_drivers_free(rt);
}

static void test_health_answers(void **state)
{
	cam_drivers *rt = new_runtime();
	char err[256], msg[256];
	int st = -1;

	(void)state;
	assert_int_equal(cam_drivers_health(rt, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "0 loaded"));
	assert_int_equal(cam_drivers_load(rt, "error", NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(invoke(rt, "error", "sick", "", 0, NULL, 0, err), 0);
	/* The supervisor polls every 2 s. */
	for (int i = 0; i < 60 && !strstr(msg, "unhealthy"); i++) {
		usleep(100000);
		st = cam_drivers_health(rt, msg, sizeof(msg));
	}
	assert_non_null(strstr(msg, "error: unhealthy (told to be sick)"));
	assert_int_equal(st, 2);
	cam_drivers_free(rt);
}

/* ---- asynchronous invokes --------------------------------------------- */

#define MS_NS 1000000LL

struct answers;

/* One asynchronous invoke and what its done callback was told. Written by
 * the callback under answers.lock; cancel is set before the invoke and
 * only read afterwards. */
struct call {
	struct answers *a;
	bool cancel;          /* what cancelled() answers */
	int calls;            /* done callbacks so far: must end at exactly 1 */
	int status;
	char text[200];       /* out on OK, err otherwise */
	bool bad_args;        /* out/err not as the contract says */
	bool on_caller;       /* done ran on the thread that invoked */
	int64_t at_ns;        /* when done ran */
	int seq;              /* its rank among the answers of the batch */
};

/* A batch of calls; lock guards every call's answer and n. */
struct answers {
	pthread_mutex_t lock;
	pthread_cond_t cond;  /* an answer came (CLOCK_MONOTONIC) */
	pthread_t caller;     /* the test's thread */
	int n;                /* answers so far */
};

static void answers_init(struct answers *a, struct call *c, size_t n)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	a->caller = pthread_self();
	a->n = 0;
	memset(c, 0, n * sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		c[i].a = a;
		c[i].status = -1;
		c[i].seq = -1;
	}
}

static void answers_destroy(struct answers *a)
{
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
}

static void on_done(void *arg, int status, const char *out, size_t outlen, const char *err)
{
	struct call *c = arg;
	struct answers *a = c->a;

	pthread_mutex_lock(&a->lock);
	c->calls++;
	c->status = status;
	if (status == 0) {
		c->bad_args = !out || out[outlen] != '\0' || strlen(out) != outlen;
		snprintf(c->text, sizeof(c->text), "%s", out ? out : "");
	} else {
		c->bad_args = out != NULL || outlen != 0 || !err;
		snprintf(c->text, sizeof(c->text), "%s", err ? err : "");
	}
	c->on_caller = pthread_equal(pthread_self(), a->caller) != 0;
	c->at_ns = cam_mono_ns();
	c->seq = a->n++;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

static bool is_cancelled(void *arg)
{
	return ((const struct call *)arg)->cancel;
}

static void start(cam_drivers *rt, struct call *c, const char *name, const char *op,
		  const char *in, int64_t deadline_ns)
{
	struct cam_driver_done cb = { on_done, is_cancelled, c };

	cam_drivers_invoke_async(rt, name, op, in, in ? strlen(in) : 0, deadline_ns, &cb);
}

/* How many answers came so far. */
static int answered(struct answers *a)
{
	int n;

	pthread_mutex_lock(&a->lock);
	n = a->n;
	pthread_mutex_unlock(&a->lock);
	return n;
}

/* Waits up to timeout_ms for n answers; returns how many came. */
static int wait_answers(struct answers *a, int n, int64_t timeout_ms)
{
	int64_t until = cam_mono_ns() + timeout_ms * MS_NS;
	struct timespec ts = { until / 1000000000LL, until % 1000000000LL };
	int got;

	pthread_mutex_lock(&a->lock);
	while (a->n < n && pthread_cond_timedwait(&a->cond, &a->lock, &ts) == 0)
		;
	got = a->n;
	pthread_mutex_unlock(&a->lock);
	return got;
}

/* Each call answered exactly once, as the contract says, on a runtime
 * thread (not refused at once on the caller's). */
static void assert_answered_async(const struct call *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (c[i].calls != 1)
			fail_msg("call %zu: done ran %d times", i, c[i].calls);
		if (c[i].bad_args)
			fail_msg("call %zu: out/err do not match status %d", i, c[i].status);
		if (c[i].on_caller)
			fail_msg("call %zu: answered on the caller's thread (%d: %s)", i,
				 c[i].status, c[i].text);
	}
}

/* Waits up to 5 s for driver name to be loaded, up and idle: its first
 * health poll (run as soon as its instance threads start) answered. The
 * next poll is 2 s away, so an invoke made now is handed straight to the
 * idle instance rather than queued. */
static void wait_idle(cam_drivers *rt, const char *name)
{
	struct cam_driver_info list[4];

	for (int i = 0; i < 500; i++) {
		size_t n = cam_drivers_list(rt, list, 4);

		for (size_t k = 0; k < n && k < 4; k++)
			if (strcmp(list[k].m.name, name) == 0 && list[k].health >= 0 &&
			    list[k].up == list[k].m.instances)
				return;
		usleep(10000);
	}
	fail_msg("driver %s was not idle within 5 s", name);
}

static uint64_t invocations_of(cam_drivers *rt, const char *name)
{
	struct cam_driver_info list[4];
	size_t n = cam_drivers_list(rt, list, 4);

	for (size_t k = 0; k < n && k < 4; k++)
		if (strcmp(list[k].m.name, name) == 0)
			return list[k].invocations;
	fail_msg("driver %s is not loaded", name);
	return 0;
}

/* Five hang invokes on the one instance of hang: the calls return at once,
 * and each is answered on its own when its deadline passes. */
static void test_async_never_waits(void **state)
{
	cam_drivers *rt = new_runtime();
	struct answers a;
	struct call c[5];
	int64_t t0, spent, deadline;
	char err[256];
	int got;

	(void)state;
	assert_int_equal(cam_drivers_load(rt, "hang", NULL, NULL, err, sizeof(err)), 0);
	answers_init(&a, c, 5);
	t0 = cam_mono_ns();
	deadline = t0 + 300 * MS_NS;
	for (int i = 0; i < 5; i++)
		start(rt, &c[i], "hang", "hang", "", deadline);
	spent = cam_mono_ns() - t0;
	got = wait_answers(&a, 5, 5000);
	if (got != 5)
		fail_msg("%d of 5 hang invokes answered within 5 s", got);
	if (spent >= 100 * MS_NS)
		fail_msg("5 invoke_async calls took %lld ms", (long long)(spent / MS_NS));
	assert_answered_async(c, 5);
	for (int i = 0; i < 5; i++) {
		if (c[i].status != CAM_ETIMEDOUT && c[i].status != CAM_EUNAVAIL)
			fail_msg("call %d: status %d (%s)", i, c[i].status, c[i].text);
		/* Nothing is answered before its deadline (the driver never answers). */
		assert_true(c[i].at_ns >= deadline);
	}
	assert_true(comes_back(rt, "hang"));
	cam_drivers_free(rt);
	answers_destroy(&a);
}

/* An invoke waiting in the queue is answered at its deadline by the
 * sweeper, not when the instance frees up. */
static void test_queue_deadline_on_time(void **state)
{
	cam_drivers *rt = new_runtime();
	struct answers a;
	struct call c[2];
	int64_t t0, t1;
	char err[256];
	int got;

	(void)state;
	assert_int_equal(cam_drivers_load(rt, "hang", NULL, NULL, err, sizeof(err)), 0);
	wait_idle(rt, "hang");
	answers_init(&a, c, 2);
	t0 = cam_mono_ns();
	start(rt, &c[0], "hang", "sleep", "600", 0);
	t1 = cam_mono_ns();
	start(rt, &c[1], "hang", "echo", "late", t1 + 100 * MS_NS);
	got = wait_answers(&a, 2, 5000);
	if (got != 2)
		fail_msg("%d of 2 invokes answered within 5 s", got);
	assert_answered_async(c, 2);
	assert_int_equal(c[1].status, CAM_ETIMEDOUT);
	assert_non_null(strstr(c[1].text, "no instance of driver hang was free before the deadline"));
	assert_true(c[1].at_ns >= t1 + 100 * MS_NS);
	if (c[1].at_ns - t1 >= 450 * MS_NS)
		fail_msg("the queued invoke was answered after %lld ms",
			 (long long)((c[1].at_ns - t1) / MS_NS));
	assert_int_equal(c[1].seq, 0); /* before the sleep ended */
	assert_int_equal(c[0].status, 0);
	assert_string_equal(c[0].text, "slept");
	assert_true(c[0].at_ns - t0 >= 600 * MS_NS);
	/* The sleep reached the driver; the echo never did. */
	assert_int_equal(invocations_of(rt, "hang"), 1);
	cam_drivers_free(rt);
	answers_destroy(&a);
}

/* 64 invokes wait per instance; the 65th is refused at once. */
static void test_queue_limit(void **state)
{
	enum { QUEUED = 64 };
	cam_drivers *rt = new_runtime();
	struct answers a;
	struct call *c = calloc(QUEUED + 2, sizeof(*c)); /* sleep, 64 queued, refused */
	struct call *over = &c[QUEUED + 1];
	bool over_at_once, over_on_caller;
	int over_status, got;
	char err[256], in[16], expect[16];
	int64_t deadline;

	(void)state;
	assert_non_null(c);
	assert_int_equal(cam_drivers_load(rt, "hang", NULL, NULL, err, sizeof(err)), 0);
	wait_idle(rt, "hang");
	answers_init(&a, c, QUEUED + 2);
	start(rt, &c[0], "hang", "sleep", "500", 0);
	deadline = cam_mono_ns() + 4000 * MS_NS;
	for (int i = 1; i <= QUEUED; i++) {
		snprintf(in, sizeof(in), "e%d", i);
		start(rt, &c[i], "hang", "echo", in, deadline);
	}
	start(rt, over, "hang", "echo", "one too many", deadline);
	pthread_mutex_lock(&a.lock);
	over_at_once = over->calls == 1;
	over_on_caller = over->on_caller;
	over_status = over->status;
	pthread_mutex_unlock(&a.lock);
	got = wait_answers(&a, QUEUED + 2, 10000);
	if (got != QUEUED + 2)
		fail_msg("%d of %d invokes answered within 10 s", got, QUEUED + 2);
	assert_true(over_at_once);
	assert_true(over_on_caller);
	assert_int_equal(over_status, CAM_ELIMIT);
	assert_int_equal(over->calls, 1);
	assert_non_null(strstr(over->text, "driver hang has 64 invokes waiting already"));
	assert_answered_async(c, QUEUED + 1);
	assert_int_equal(c[0].status, 0);
	assert_string_equal(c[0].text, "slept");
	for (int i = 1; i <= QUEUED; i++) {
		snprintf(expect, sizeof(expect), "e%d", i);
		if (c[i].status != 0 || strcmp(c[i].text, expect) != 0)
			fail_msg("queued %d: status %d (%s)", i, c[i].status, c[i].text);
		/* One instance takes the queue in order, after the sleep. */
		assert_int_equal(c[i].seq, c[i - 1].seq + 1);
	}
	assert_int_equal(invocations_of(rt, "hang"), QUEUED + 1);
	cam_drivers_free(rt);
	answers_destroy(&a);
	free(c);
}

/* cancelled() true: CANCELLED without calling the driver, whether an idle
 * instance takes the invoke or the sweeper finds it in the queue. */
static void test_cancelled(void **state)
{
	cam_drivers *rt = new_runtime();
	struct answers a;
	struct call c[5]; /* handed over, sleep, queued: kept, cancelled, kept */
	char err[256];
	int got;

	(void)state;
	assert_int_equal(cam_drivers_load(rt, "hang", NULL, NULL, err, sizeof(err)), 0);
	wait_idle(rt, "hang");
	answers_init(&a, c, 5);
	c[0].cancel = true;
	start(rt, &c[0], "hang", "echo", "gone", 0);
	got = wait_answers(&a, 1, 3000);
	if (got != 1)
		fail_msg("the cancelled invoke was not answered within 3 s");

	c[3].cancel = true;
	start(rt, &c[1], "hang", "sleep", "400", 0);
	start(rt, &c[2], "hang", "echo", "a", 0);
	start(rt, &c[3], "hang", "echo", "b", 0);
	start(rt, &c[4], "hang", "echo", "c", 0);
	got = wait_answers(&a, 5, 5000);
	if (got != 5)
		fail_msg("%d of 5 invokes answered within 5 s", got);
	assert_answered_async(c, 5);
	assert_int_equal(c[0].status, CAM_ECANCELED);
	assert_int_equal(c[3].status, CAM_ECANCELED);
	/* The sweeper answers the queued one at once, not after the sleep. */
	assert_true(c[3].seq < c[1].seq);
	assert_int_equal(c[1].status, 0);
	assert_string_equal(c[1].text, "slept");
	assert_int_equal(c[2].status, 0);
	assert_string_equal(c[2].text, "a");
	assert_int_equal(c[4].status, 0);
	assert_string_equal(c[4].text, "c");
	/* sleep, a and c reached the driver; the cancelled ones did not. */
	assert_int_equal(invocations_of(rt, "hang"), 3);
	cam_drivers_free(rt);
	answers_destroy(&a);
}

/* Unload answers the queued invokes UNAVAILABLE at once, lets the running
 * one finish and returns after it. */
static void test_unload_with_queue(void **state)
{
	cam_drivers *rt = new_runtime();
	struct answers a;
	struct call c[5];
	struct cam_driver_info list[1];
	int64_t t0, spent;
	int rc, at_return, got;
	char err[256];

	(void)state;
	assert_int_equal(cam_drivers_load(rt, "hang", NULL, NULL, err, sizeof(err)), 0);
	wait_idle(rt, "hang");
	answers_init(&a, c, 5);
	t0 = cam_mono_ns();
	start(rt, &c[0], "hang", "sleep", "400", 0);
	for (int i = 1; i <= 3; i++)
		start(rt, &c[i], "hang", "echo", "queued", 0);
	rc = cam_drivers_unload(rt, "hang", err, sizeof(err));
	spent = cam_mono_ns() - t0;
	at_return = answered(&a);
	got = wait_answers(&a, 4, 3000);
	if (got != 4)
		fail_msg("%d of 4 invokes answered within 3 s", got);
	assert_int_equal(rc, 0);
	assert_int_equal(at_return, 4); /* all answered when unload returned */
	if (spent < 350 * MS_NS)
		fail_msg("unload returned after %lld ms, before the sleep of 400 ms",
			 (long long)(spent / MS_NS));
	assert_answered_async(c, 1);
	assert_int_equal(c[0].status, 0);
	assert_string_equal(c[0].text, "slept");
	for (int i = 1; i <= 3; i++) {
		/* Answered by unload itself, on the thread that unloads. */
		assert_int_equal(c[i].calls, 1);
		assert_false(c[i].bad_args);
		assert_int_equal(c[i].status, CAM_EUNAVAIL);
		assert_non_null(strstr(c[i].text, "driver hang is being unloaded"));
		assert_true(c[i].seq < c[0].seq);
	}
	/* Gone: the next invoke is refused at once. */
	start(rt, &c[4], "hang", "echo", "x", 0);
	assert_int_equal(answered(&a), 5);
	assert_int_equal(c[4].status, CAM_ENOENT);
	assert_true(c[4].on_caller);
	assert_int_equal(cam_drivers_list(rt, list, 1), 0);
	cam_drivers_free(rt);
	answers_destroy(&a);
}

/* A refusal is answered on the caller's thread before invoke_async
 * returns. */
static void test_refused_at_once(void **state)
{
	static const struct {
		const char *name, *op;
		int64_t deadline_ns;
		int status;
		const char *why;
	} cases[] = {
		{ "nothere", "echo", 0, CAM_ENOENT, "driver nothere is not loaded" },
		{ NULL, "echo", 0, CAM_ENOENT, "is not loaded" },
		{ "hang", "nope", 0, CAM_EINVAL, "driver hang has no operation 'nope'" },
		{ "hang", NULL, 0, CAM_EINVAL, "has no operation" },
		{ "hang", "echo", 1, CAM_ETIMEDOUT, "the deadline passed before driver hang was called" },
		{ "hang", "echo", 0, CAM_EINVAL, "input is larger than 65536 bytes" },
	};
	enum { N = sizeof(cases) / sizeof(cases[0]) };
	cam_drivers *rt = new_runtime();
	size_t big_len = 64 * 1024 + 1;
	char *big = malloc(big_len + 1);
	struct answers a;
	struct call c[N];
	char err[256];

	(void)state;
	assert_non_null(big);
	memset(big, 'x', big_len);
	big[big_len] = '\0';
	assert_int_equal(cam_drivers_load(rt, "hang", NULL, NULL, err, sizeof(err)), 0);
	answers_init(&a, c, N);
	for (size_t i = 0; i < N; i++) {
		int calls;

		start(rt, &c[i], cases[i].name, cases[i].op, i == N - 1 ? big : "hi",
		      cases[i].deadline_ns);
		pthread_mutex_lock(&a.lock);
		calls = c[i].calls;
		pthread_mutex_unlock(&a.lock);
		if (calls != 1)
			fail_msg("case %zu: done ran %d times before invoke_async returned", i, calls);
		assert_true(c[i].on_caller);
		assert_false(c[i].bad_args);
		assert_int_equal(c[i].status, cases[i].status);
		if (!strstr(c[i].text, cases[i].why))
			fail_msg("case %zu: '%s' does not say '%s'", i, c[i].text, cases[i].why);
	}
	/* None of them reached the driver. */
	assert_int_equal(invocations_of(rt, "hang"), 0);
	cam_drivers_free(rt);
	answers_destroy(&a);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(c[i].calls, 1);
	free(big);
}

/* When the only instance crashes, an invoke queued behind the crash is
 * answered UNAVAILABLE (down), not left waiting for the restart. */
/* The only instance crashes with invokes queued: those that can wait for
 * the restart (100 ms away) get it, those whose deadline comes first are
 * failed at once. */
static void test_queued_when_down(void **state)
{
	cam_drivers *rt = new_runtime();
	struct answers a;
	struct call c[3];
	char err[256];
	int got;

	(void)state;
	assert_int_equal(cam_drivers_load(rt, "crash", NULL, NULL, err, sizeof(err)), 0);
	wait_idle(rt, "crash");
	answers_init(&a, c, 3);
	start(rt, &c[0], "crash", "crash", "", 0);
	start(rt, &c[1], "crash", "echo", "behind", 0);
	start(rt, &c[2], "crash", "echo", "in a hurry", cam_mono_ns() + 50 * MS_NS);
	got = wait_answers(&a, 3, 5000);
	if (got != 3)
		fail_msg("%d of 3 invokes answered within 5 s", got);
	for (int i = 0; i < 3; i++)
		assert_int_equal(c[i].calls, 1);
	assert_int_equal(c[0].status, CAM_EUNAVAIL);
	assert_non_null(strstr(c[0].text, "killed by signal 11"));
	/* Its 2 s deadline outlasts the 100 ms back-off: served by the new helper. */
	assert_int_equal(c[1].status, 0);
	assert_string_equal(c[1].text, "behind");
	/* Failed from the queue when the instance went down or, if this
	 * thread got there later, refused at once while it is down. */
	assert_int_equal(c[2].status, CAM_EUNAVAIL);
	if (!strstr(c[2].text, "driver crash is down") || !strstr(c[2].text, "deadline"))
		fail_msg("hurried invoke: '%s'", c[2].text);
	cam_drivers_free(rt);
	answers_destroy(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_good),
		cmocka_unit_test(test_manifest_bad),
		cmocka_unit_test(test_manifest_field_checks),
		cmocka_unit_test(test_load_invoke_unload),
		cmocka_unit_test(test_refused_loads),
		cmocka_unit_test(test_wrong_hash),
		cmocka_unit_test(test_crash_restarts),
		cmocka_unit_test(test_crash_after_deadline),
		cmocka_unit_test(test_hang_deadline),
		cmocka_unit_test(test_unload_waits),
		cmocka_unit_test(test_concurrent_invokes),
		cmocka_unit_test(test_health_answers),
		cmocka_unit_test(test_async_never_waits),
		cmocka_unit_test(test_queue_deadline_on_time),
		cmocka_unit_test(test_queue_limit),
		cmocka_unit_test(test_cancelled),
		cmocka_unit_test(test_unload_with_queue),
		cmocka_unit_test(test_refused_at_once),
		cmocka_unit_test(test_queued_when_down),
	};

	return cmocka_run_group_tests(tests, setup_dirs, teardown_dirs);
}
