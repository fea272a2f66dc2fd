/* Unit tests of common/config.c: flags over env over defaults. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/error.h"

static struct cam_option opts[] = {
	{ "CAM_TEST_LISTEN", "127.0.0.1:1", "address", NULL, 0 },
	{ "CAM_TEST_FLAG", "false", "a boolean", NULL, 1 },
	{ "CAM_TEST_UNSET", NULL, "no default", NULL, 0 },
};
#define N (sizeof(opts) / sizeof(opts[0]))

static int parse(int argc, char **argv)
{
	FILE *devnull = fopen("/dev/null", "w");
	int rc = cam_config_parse(opts, N, argc, argv, "usage", devnull);
	fclose(devnull);
	return rc;
}

static void test_defaults_env_flags(void **state)
{
	char *argv1[] = { "p", NULL };
	char *argv2[] = { "p", "--test-listen", "[::1]:9", "--test-flag", NULL };
	char *argv3[] = { "p", "--test-listen=:7", NULL };

	(void)state;
	unsetenv("CAM_TEST_LISTEN");
	assert_int_equal(parse(1, argv1), 0);
	assert_string_equal(cam_config_get(opts, N, "CAM_TEST_LISTEN"), "127.0.0.1:1");
	assert_null(cam_config_get(opts, N, "CAM_TEST_UNSET"));
	setenv("CAM_TEST_LISTEN", "0.0.0.0:2", 1);
	assert_int_equal(parse(1, argv1), 0);
	assert_string_equal(cam_config_get(opts, N, "CAM_TEST_LISTEN"), "0.0.0.0:2");
	assert_int_equal(parse(4, argv2), 0);
	assert_string_equal(cam_config_get(opts, N, "CAM_TEST_LISTEN"), "[::1]:9");
	assert_string_equal(cam_config_get(opts, N, "CAM_TEST_FLAG"), "true");
	assert_int_equal(parse(2, argv3), 0);
	assert_string_equal(cam_config_get(opts, N, "CAM_TEST_LISTEN"), ":7");
	unsetenv("CAM_TEST_LISTEN");
}

static void test_bad_flags(void **state)
{
	char *unknown[] = { "p", "--nope", NULL };
	char *missing[] = { "p", "--test-listen", NULL };
	char *stray[] = { "p", "stray", NULL };

	(void)state;
	assert_int_equal(parse(2, unknown), CAM_EINVAL);
	assert_int_equal(parse(2, missing), CAM_EINVAL);
	assert_int_equal(parse(2, stray), CAM_EINVAL);
}

static void test_values(void **state)
{
	int b;
	long l;
	char buf[128];

	(void)state;
	assert_int_equal(cam_config_bool("TRUE", &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(cam_config_bool("off", &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(cam_config_bool("maybe", &b), CAM_EINVAL);
	assert_int_equal(cam_config_long("1000", 50, 60000, &l), 0);
	assert_int_equal(l, 1000);
	assert_int_equal(cam_config_long("10", 50, 60000, &l), CAM_EINVAL);
	assert_int_equal(cam_config_long("12x", 0, 100, &l), CAM_EINVAL);
	assert_int_equal(cam_config_long("", 0, 100, &l), CAM_EINVAL);
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	assert_string_equal(cam_config_default_bus_addr(buf, sizeof(buf)),
			    "ipc:///run/user/1000/cam-os/bus.ipc");
	unsetenv("XDG_RUNTIME_DIR");
	assert_non_null(strstr(cam_config_default_bus_addr(buf, sizeof(buf)),
			       "ipc:///tmp/cam-os-"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_env_flags),
		cmocka_unit_test(test_bad_flags),
		cmocka_unit_test(test_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
