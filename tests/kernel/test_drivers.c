/*
 * Unit tests of kernel/drivers/: manifest parsing (manifest.c) and the
 * runtime (runtime.c) against the real helper program and the test
 * drivers that kernel/drivers/drivers.mk builds beside this binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

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
				    timeout_ms ? cam_dproc_now_ns() + timeout_ms * 1000000 : 0,
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
	assert_int_equal(cam_drivers_load(rt, "text_transform", NULL, NULL, err, sizeof(err)), 6);
	assert_int_equal(invoke(rt, "text_transform", "upper", "abc, def", 0, out, sizeof(out), err), 0);
	assert_string_equal(out, "ABC, DEF");
	assert_int_equal(invoke(rt, "text_transform", "nope", "", 0, out, sizeof(out), err), 3);
	assert_int_equal(invoke(rt, "kv_cache", "get", "", 0, out, sizeof(out), err), 5);

	assert_int_equal(cam_drivers_load(rt, "kv_cache", "max_keys=1", NULL, err, sizeof(err)), 0);
	assert_int_equal(invoke(rt, "kv_cache", "set", "a=1", 0, out, sizeof(out), err), 0);
	assert_int_equal(invoke(rt, "kv_cache", "set", "b=2", 0, out, sizeof(out), err), 8);
	assert_non_null(strstr(err, "cache is full"));

	assert_int_equal(cam_drivers_list(rt, list, 4), 2);
	assert_string_equal(list[0].m.name, "kv_cache");
	assert_int_equal(list[0].invocations, 2);
	assert_int_equal(list[0].revenue_micro_usd, 20);
	assert_string_equal(list[1].m.name, "text_transform");
	assert_int_equal(list[1].up, 2);
	assert_int_equal(list[1].revenue_micro_usd, 50);

	assert_int_equal(cam_drivers_unload(rt, "text_transform", err, sizeof(err)), 0);
	assert_int_equal(cam_drivers_unload(rt, "text_transform", err, sizeof(err)), 5);
	assert_int_equal(invoke(rt, "text_transform", "upper", "x", 0, out, sizeof(out), err), 5);
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
		{ "badinit", 9, "init failed" },
		{ "nosym", 9, "does not export cam_driver_health" },
		{ "badabi", 9, "built for driver ABI v99" },
		{ "nothere", 5, "no driver nothere" },
		{ "Bad", 3, "driver name must match" },
		{ "../x", 3, "driver name must match" },
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
	assert_int_equal(cam_drivers_load(rt, "badinit", NULL, NULL, err, sizeof(err)), 9);
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
	assert_int_equal(cam_drivers_load(rt, "tampered", NULL, NULL, err, sizeof(err)), 9);
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
	assert_int_equal(invoke(rt, "crash", "crash", "", 0, NULL, 0, err), 14);
	assert_non_null(strstr(err, "killed by signal 11"));
	assert_true(comes_back(rt, "crash"));
	assert_int_equal(invoke(rt, "crash", "exit", "", 0, NULL, 0, err), 14);
	assert_non_null(strstr(err, "exited with status 3"));
	assert_true(comes_back(rt, "crash"));
	assert_int_equal(cam_drivers_list(rt, list, 1), 1);
	assert_int_equal(list[0].restarts, 2);
	assert_int_equal(cam_drivers_health(rt, health, sizeof(health)), 1);
	assert_non_null(strstr(health, "1 restarted in the last 5m"));
	cam_drivers_free(rt);
}

static void test_hang_deadline(void **state)
{
	cam_drivers *rt = new_runtime();
	char err[256];
	int64_t t0;

	(void)state;
	assert_int_equal(cam_drivers_load(rt, "hang", NULL, NULL, err, sizeof(err)), 0);
	t0 = cam_dproc_now_ns();
	assert_int_equal(invoke(rt, "hang", "hang", "", 200, NULL, 0, err), 4);
	assert_true(cam_dproc_now_ns() - t0 < 1500 * 1000000LL);
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
	t0 = cam_dproc_now_ns();
	assert_int_equal(cam_drivers_unload(rt, "hang", err, sizeof(err)), 0);
	assert_true(cam_dproc_now_ns() - t0 >= 150 * 1000000LL);
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
		cmocka_unit_test(test_hang_deadline),
		cmocka_unit_test(test_unload_waits),
		cmocka_unit_test(test_concurrent_invokes),
		cmocka_unit_test(test_health_answers),
	};

	return cmocka_run_group_tests(tests, setup_dirs, teardown_dirs);
}
