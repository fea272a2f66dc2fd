/*
 * Tests of exporter/listen.c: CAM_EXPORTER_LISTEN forms, binding on port 0
 * and the report of an address in use.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "exporter/listen.h"

static void test_parse_forms(void **state)
{
	static const struct {
		const char *in;
		const char *host;
		const char *port;
	} good[] = {
		{":8080", "", "8080"},
		{"0.0.0.0:9100", "0.0.0.0", "9100"},
		{"127.0.0.1:0", "127.0.0.1", "0"},
		{"localhost:65535", "localhost", "65535"},
		{"[::1]:8080", "::1", "8080"},
		{"[::]:80", "::", "80"},
		{"[fe80::1%eth0]:8080", "fe80::1%eth0", "8080"},
	};
	static const char *const bad[] = {
		"", "8080", "localhost", ":", "host:", ":65536", ":80a",
		"::1:8080", "[::1]8080", "[]:80", "[::1:80", ":-1", ":123456",
	};
	struct cam_listen_spec spec;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (cam_listen_parse(good[i].in, &spec, &why) != 0)
			fail_msg("%s refused: %s", good[i].in, why);
		assert_string_equal(spec.host, good[i].host);
		assert_string_equal(spec.port, good[i].port);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cam_listen_parse(bad[i], &spec, &why) != CAM_EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(cam_listen_parse(NULL, &spec, NULL), CAM_EINVAL);
}

static void test_open_port_zero_and_in_use(void **state)
{
	struct cam_listen_spec spec;
	char name[96], err[256];
	uint16_t port;
	int fd, fd2;

	(void)state;
	assert_int_equal(cam_listen_parse("127.0.0.1:0", &spec, NULL), 0);
	assert_int_equal(cam_listen_open(&spec, &fd, err, sizeof(err)), 0);
	port = cam_listen_name(fd, name, sizeof(name));
	assert_true(port > 0);
	assert_non_null(strstr(name, "127.0.0.1:"));

	snprintf(spec.port, sizeof(spec.port), "%u", port);
	assert_int_equal(cam_listen_open(&spec, &fd2, err, sizeof(err)),
			 CAM_EEXIST);
	assert_non_null(strstr(err, "Address already in use"));
	assert_non_null(strstr(err, name));
	close(fd);
}

/* ":0" listens everywhere: [::] with IPv4 mapped in, or 0.0.0.0. */
static void test_open_wildcard(void **state)
{
	struct cam_listen_spec spec;
	char name[96], err[256];
	int fd;

	(void)state;
	assert_int_equal(cam_listen_parse(":0", &spec, NULL), 0);
	assert_int_equal(cam_listen_open(&spec, &fd, err, sizeof(err)), 0);
	assert_true(cam_listen_name(fd, name, sizeof(name)) > 0);
	assert_true(strncmp(name, "[::]:", 5) == 0 ||
		    strncmp(name, "0.0.0.0:", 8) == 0);
	close(fd);
}

static void test_open_unresolvable(void **state)
{
	struct cam_listen_spec spec;
	char err[256];
	int fd;

	(void)state;
	assert_int_equal(cam_listen_parse("no-such-host.invalid:0", &spec, NULL),
			 0);
	assert_true(cam_listen_open(&spec, &fd, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "no-such-host.invalid"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_open_port_zero_and_in_use),
		cmocka_unit_test(test_open_wildcard),
		cmocka_unit_test(test_open_unresolvable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
