/*
 * Unit tests of common/notify.c: what a service manager would receive on
 * NOTIFY_SOCKET (a unix datagram socket of the test's own), and that the
 * watchdog thread pings at half of WATCHDOG_USEC and stops at once.
 * tests/integration/test_deploy_systemd.sh checks the same from the two
 * real programs.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/notify.h"

static char dir[48];
static char path[96];
static int sock = -1;

static int setup(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 2 };

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cam-notify-test-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/notify.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return -1;
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setenv("NOTIFY_SOCKET", path, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(sock);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* Next datagram into buf (NUL-terminated); -1 after the 2 s timeout. */
static int next_message(char *buf, size_t cap)
{
	ssize_t n = recv(sock, buf, cap - 1, 0);

	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_ready_and_stopping_without_watchdog(void **state)
{
	cam_notify *n = (cam_notify *)1;
	char buf[256];

	(void)state;
	unsetenv("WATCHDOG_USEC");
	cam_notify_ready("serving", &n);
	assert_null(n);
	assert_int_equal(next_message(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "READY=1\nSTATUS=serving");
	cam_notify_stopping(n);
	assert_int_equal(next_message(buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "STOPPING=1"));
}

static void test_watchdog_pings_at_half_period(void **state)
{
	cam_notify *n = NULL;
	char buf[256];
	int pings = 0;
	double t0, t1;

	(void)state;
	setenv("WATCHDOG_USEC", "100000", 1); /* pings every 50 ms */
	unsetenv("WATCHDOG_PID");
	cam_notify_ready(NULL, &n);
	assert_non_null(n);
	assert_int_equal(next_message(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "READY=1");
	t0 = now();
	while (pings < 5) {
		assert_int_equal(next_message(buf, sizeof(buf)), 0);
		if (!strcmp(buf, "WATCHDOG=1"))
			pings++;
	}
	t1 = now();
	/* 5 pings, the first at once: about 200 ms, well under the 100 ms
	 * period each. */
	assert_true(t1 - t0 >= 0.15 && t1 - t0 < 1.0);
	cam_notify_stopping(n);
	do {
		assert_int_equal(next_message(buf, sizeof(buf)), 0);
	} while (!strstr(buf, "STOPPING=1"));
	unsetenv("WATCHDOG_USEC");
}

/* The thread sleeps 5 s between pings here: stopping must not wait it out. */
static void test_watchdog_stops_at_once(void **state)
{
	cam_notify *n = NULL;
	char buf[256];
	double t0;

	(void)state;
	setenv("WATCHDOG_USEC", "10000000", 1);
	unsetenv("WATCHDOG_PID");
	cam_notify_ready(NULL, &n);
	assert_non_null(n);
	do {
		assert_int_equal(next_message(buf, sizeof(buf)), 0);
	} while (strcmp(buf, "WATCHDOG=1") != 0);
	t0 = now();
	cam_notify_stopping(n);
	assert_true(now() - t0 < 1.0);
	do {
		assert_int_equal(next_message(buf, sizeof(buf)), 0);
	} while (!strstr(buf, "STOPPING=1"));
	unsetenv("WATCHDOG_USEC");
}

static void test_watchdog_for_another_pid_is_ignored(void **state)
{
	cam_notify *n = (cam_notify *)1;
	char buf[256];
	char pid[32];

	(void)state;
	setenv("WATCHDOG_USEC", "100000", 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	cam_notify_ready(NULL, &n);
	assert_null(n);
	assert_int_equal(next_message(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "READY=1");
	cam_notify_stopping(n);
	assert_int_equal(next_message(buf, sizeof(buf)), 0);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static void test_no_manager_is_a_no_op(void **state)
{
	cam_notify *n = (cam_notify *)1;

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "100000", 1);
	cam_notify_ready("serving", &n);
	assert_null(n);
	cam_notify_stopping(n);
	unsetenv("WATCHDOG_USEC");
	setenv("NOTIFY_SOCKET", path, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_and_stopping_without_watchdog),
		cmocka_unit_test(test_watchdog_pings_at_half_period),
		cmocka_unit_test(test_watchdog_stops_at_once),
		cmocka_unit_test(test_watchdog_for_another_pid_is_ignored),
		cmocka_unit_test(test_no_manager_is_a_no_op),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
