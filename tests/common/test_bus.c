/* Unit tests of common/bus.c over a real nng ipc:// socket. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/bus.h"
#include "common/error.h"

static char addr[256];

static int setup(void **state)
{
	char dir[] = "/tmp/cam-bus-test-XXXXXX";

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	/* A folder that does not exist yet: open must create it. */
	snprintf(addr, sizeof(addr), "ipc://%s/sub/bus.ipc", dir);
	return 0;
}

/* Sends until the subscriber has one (its connection is asynchronous). */
static int send_until_received(cam_bus *pub, cam_bus *sub, const char *msg)
{
	for (int i = 0; i < 100; i++) {
		void *buf;
		size_t len;

		assert_int_equal(cam_bus_send(pub, msg, strlen(msg)), 0);
		if (cam_bus_recv(sub, &buf, &len, 50) == 0) {
			int same = len == strlen(msg) && memcmp(buf, msg, len) == 0;
			cam_bus_msg_free(buf, len);
			return same;
		}
	}
	return 0;
}

static void test_pub_first_then_sub(void **state)
{
	cam_bus *pub, *sub;

	(void)state;
	assert_int_equal(cam_bus_pub_new(addr, &pub), 0);
	assert_int_equal(cam_bus_sub_new(addr, &sub), 0);
	assert_true(send_until_received(pub, sub, "hello"));
	cam_bus_free(sub);
	cam_bus_free(pub);
}

static void test_sub_first_then_pub(void **state)
{
	cam_bus *pub, *sub;
	void *buf;
	size_t len;

	(void)state;
	assert_int_equal(cam_bus_sub_new(addr, &sub), 0);
	assert_int_equal(cam_bus_recv(sub, &buf, &len, 20), CAM_ETIMEDOUT);
	assert_int_equal(cam_bus_pub_new(addr, &pub), 0);
	assert_true(send_until_received(pub, sub, "late"));
	/* The publisher restarts: the subscriber reconnects by itself. */
	cam_bus_free(pub);
	assert_int_equal(cam_bus_pub_new(addr, &pub), 0);
	assert_true(send_until_received(pub, sub, "again"));
	cam_bus_free(sub);
	cam_bus_free(pub);
}

static void test_send_without_subscriber_never_blocks(void **state)
{
	cam_bus *pub;
	char big[64 * 1024] = { 0 };

	(void)state;
	assert_int_equal(cam_bus_pub_new(addr, &pub), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(cam_bus_send(pub, big, sizeof(big)), 0);
	cam_bus_free(pub);
	cam_bus_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pub_first_then_sub),
		cmocka_unit_test(test_sub_first_then_pub),
		cmocka_unit_test(test_send_without_subscriber_never_blocks),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
