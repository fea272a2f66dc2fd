/* Unit tests of kernel/syscall/payload.c: the payload grammar. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "kernel/syscall/payload.h"

static int parse(const char *s, struct cam_payload *p, char *err)
{
	return cam_payload_parse(s, strlen(s), p, err, 200);
}

static void test_seed_payloads(void **state)
{
	struct cam_payload p;
	char err[200];

	(void)state;
	assert_int_equal(parse("metric_name:custom_counter,value:1,labels:app=myapp,env=prod", &p, err), 0);
	assert_int_equal(p.n, 3);
	assert_string_equal(cam_payload_get(&p, "metric_name"), "custom_counter");
	assert_string_equal(cam_payload_get(&p, "value"), "1");
	assert_string_equal(cam_payload_get(&p, "labels"), "app=myapp,env=prod");
	cam_payload_free(&p);

	assert_int_equal(parse("trace_id:abc123,span_id:def456,operation:syscall_execution", &p, err), 0);
	assert_string_equal(cam_payload_get(&p, "operation"), "syscall_execution");
	assert_null(cam_payload_get(&p, "parent_span_id"));
	cam_payload_free(&p);
}

static void test_first_colon_splits(void **state)
{
	struct cam_payload p;
	char err[200];

	(void)state;
	assert_int_equal(parse("url:http://x:80/a,b:", &p, err), 0);
	assert_string_equal(cam_payload_get(&p, "url"), "http://x:80/a");
	assert_string_equal(cam_payload_get(&p, "b"), "");
	cam_payload_free(&p);
	/* Continuations keep their commas, several in a row, and a trailing one. */
	assert_int_equal(parse("a:1,2,3,b:x,", &p, err), 0);
	assert_string_equal(cam_payload_get(&p, "a"), "1,2,3");
	assert_string_equal(cam_payload_get(&p, "b"), "x,");
	cam_payload_free(&p);
	assert_int_equal(parse("", &p, err), 0);
	assert_int_equal(p.n, 0);
	cam_payload_free(&p);
}

static void expect_bad(const char *s, const char *needle)
{
	struct cam_payload p;
	char err[200] = "";

	assert_int_equal(parse(s, &p, err), CAM_EINVAL);
	assert_int_equal(p.n, 0);
	assert_non_null(strstr(err, needle));
}

static void test_bad_payloads(void **state)
{
	char *big;

	(void)state;
	expect_bad("a:1,a:2", "duplicate payload key 'a'");
	expect_bad(":x", "empty payload key");
	expect_bad("a:1,:x", "empty payload key");
	expect_bad("Key:1", "invalid payload key 'Key'");
	expect_bad("9a:1", "invalid payload key '9a'");
	expect_bad("a-b:1", "invalid payload key 'a-b'");
	expect_bad("novalue", "has no key");
	expect_bad(",a:1", "has no key");
	big = malloc(CAM_PAYLOAD_MAX_BYTES + 2);
	memset(big, 'x', CAM_PAYLOAD_MAX_BYTES + 1);
	memcpy(big, "a:", 2);
	big[CAM_PAYLOAD_MAX_BYTES + 1] = '\0';
	expect_bad(big, "more than");
	free(big);
}

static void test_nul_and_too_many_keys(void **state)
{
	struct cam_payload p;
	char err[200], many[1024] = "";

	(void)state;
	assert_int_equal(cam_payload_parse("a:1\0b:2", 7, &p, err, sizeof(err)), CAM_EINVAL);
	for (int i = 0; i < CAM_PAYLOAD_MAX_PAIRS + 1; i++) {
		char kv[16];
		snprintf(kv, sizeof(kv), "%sk%d:1", i ? "," : "", i);
		strcat(many, kv);
	}
	assert_int_equal(parse(many, &p, err), CAM_EINVAL);
	assert_non_null(strstr(err, "more than 32"));
}

static void test_result_builder(void **state)
{
	struct cam_result r = { 0 };

	(void)state;
	assert_string_equal(cam_result_str(&r), "");
	cam_result_add(&r, "trace_id", "abc");
	cam_result_addf(&r, "n", "%d", 42);
	assert_string_equal(cam_result_str(&r), "trace_id:abc,n:42");
	for (int i = 0; i < 100; i++)
		cam_result_add(&r, "k", "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
	assert_true(strlen(cam_result_str(&r)) > 4000);
	cam_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_payloads),
		cmocka_unit_test(test_first_colon_splits),
		cmocka_unit_test(test_bad_payloads),
		cmocka_unit_test(test_nul_and_too_many_keys),
		cmocka_unit_test(test_result_builder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
