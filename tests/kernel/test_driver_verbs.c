/*
 * Unit tests of the driver verbs (kernel/syscall/driver_verbs.c) through
 * the dispatcher, over a real driver runtime: the payload checks of each
 * verb, and one driver loaded, invoked and unloaded the way a client does
 * it (load and unload on threads of their own, invoke deferred to the
 * runtime), then refused once the verbs are stopping.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tests/kernel/verb_harness.h"

#include <unistd.h>

#include "kernel/drivers/runtime.h"
#include "kernel/syscall/driver_verbs.h"

static struct harness h;
static cam_drivers *rt;
static cam_driver_verbs *dv;
static char dir[1024];

/* A drivers folder holding text_transform (a link to the build's). */
static int setup_dir(void **state)
{
	char exe[1024], target[1100], link[1100];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	(void)state;
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	for (int i = 0; i < 3; i++) /* BUILD/tests/kernel/test_driver_verbs */
		*strrchr(exe, '/') = '\0';
	snprintf(dir, sizeof(dir), "/tmp/cam-test-driver-verbs-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(target, sizeof(target), "%s/drivers/text_transform", exe);
	snprintf(link, sizeof(link), "%s/text_transform", dir);
	if (symlink(target, link))
		return -1;
	snprintf(link, sizeof(link), "%s/cam-driver-host", dir);
	snprintf(target, sizeof(target), "%s/cam-driver-host", exe);
	return symlink(target, link);
}

static int teardown_dir(void **state)
{
	char cmd[1100];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	char host[1100];

	(void)state;
	h_begin(&h, NULL);
	snprintf(host, sizeof(host), "%s/cam-driver-host", dir);
	assert_int_equal(cam_drivers_new(&(struct cam_drivers_opts){ .dir = dir, .host = host }, &rt),
			 0);
	assert_int_equal(cam_driver_verbs_new(&(struct cam_driver_verbs_opts){
				     .verbs = h.verbs, .components = h.components, .drivers = rt },
				     &dv),
			 0);
	h_ready(&h);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cam_driver_verbs_free(dv);
	cam_drivers_free(rt);
	assert_int_equal(cam_verbs_count(h.verbs), 0);
	h_end(&h);
	return 0;
}

static void test_argument_checks(void **state)
{
	static const struct {
		const char *verb, *payload;
		int status;
		const char *says;
	} cases[] = {
		{ "driver_load", "", CAM_GRPC_INVALID_ARGUMENT, "payload key 'driver' is missing" },
		{ "driver_load", "driver:", CAM_GRPC_INVALID_ARGUMENT, "payload key 'driver' is missing" },
		{ "driver_load", "driver:x,colour:red", CAM_GRPC_INVALID_ARGUMENT, "colour" },
		{ "driver_unload", "", CAM_GRPC_INVALID_ARGUMENT, "payload key 'driver' is missing" },
		{ "driver_invoke", "operation:upper", CAM_GRPC_INVALID_ARGUMENT, "'driver' is missing" },
		{ "driver_invoke", "driver:,operation:upper", CAM_GRPC_INVALID_ARGUMENT,
		  "'driver' is missing" },
		{ "driver_invoke", "driver:text_transform", CAM_GRPC_INVALID_ARGUMENT,
		  "'operation' is missing" },
		{ "driver_invoke", "driver:text_transform,operation:upper,timeout_ms:0",
		  CAM_GRPC_INVALID_ARGUMENT, "timeout_ms must be a number from 1 to 600000" },
		{ "driver_invoke", "driver:text_transform,operation:upper,timeout_ms:9999999",
		  CAM_GRPC_INVALID_ARGUMENT, "timeout_ms must be" },
		{ "driver_invoke", "driver:text_transform,operation:upper,timeout_ms:5s",
		  CAM_GRPC_INVALID_ARGUMENT, "timeout_ms must be" },
		{ "driver_list", "x:1", CAM_GRPC_INVALID_ARGUMENT, "does not take payload key 'x'" },
		/* Checked by the runtime, answered the same way. */
		{ "driver_invoke", "driver:text_transform,operation:upper", CAM_GRPC_NOT_FOUND,
		  "driver text_transform is not loaded" },
		{ "driver_load", "driver:Bad", CAM_GRPC_INVALID_ARGUMENT, "driver name must match" },
		{ "driver_load", "driver:nothere", CAM_GRPC_NOT_FOUND, "no driver nothere" },
		{ "driver_unload", "driver:text_transform", CAM_GRPC_NOT_FOUND, "is not loaded" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_answer(h_ex(&h, cases[i].verb, cases[i].payload), cases[i].status,
			      cases[i].says);
	}
	assert_answer(h_ex(&h, "driver_list", ""), CAM_GRPC_OK, "loaded:0,available:text_transform");
	/* Rows: all on a worker, never inline on an I/O thread (list reads
	 * the folder, the others take the driver table's lock). */
	assert_true(cam_verbs_find(h.verbs, "driver_list")->may_block);
	assert_true(cam_verbs_find(h.verbs, "driver_invoke")->may_block);
	assert_int_equal(cam_verbs_find(h.verbs, "driver_load")->scope, CAM_SCOPE_ADMIN);
}

static void test_load_invoke_unload(void **state)
{
	struct answer a;
	const struct answer *r;
	char msg[256];
	double ms;

	(void)state;
	r = h_ex(&h, "driver_load", "driver:text_transform");
	assert_answer(r, CAM_GRPC_OK, "driver:text_transform");
	assert_non_null(h_field(r->result, "sha256"));
	assert_answer(h_ex(&h, "driver_load", "driver:text_transform"), CAM_GRPC_ALREADY_EXISTS, NULL);
	/* The payload key last: it may hold commas. */
	assert_answer(h_ex(&h, "driver_invoke", "driver:text_transform,operation:upper,payload:abc, def"),
		      CAM_GRPC_OK, "output:ABC, DEF");
	/* Without a payload key, the request's binary data is the input. */
	h_call(&h, &(struct req){ .verb = "driver_invoke",
				  .payload = "driver:text_transform,operation:reverse",
				  .data = "xyz", .data_len = 3 }, &a);
	assert_answer(&a, CAM_GRPC_OK, "output:zyx");
	assert_answer(h_ex(&h, "driver_invoke", "driver:text_transform,operation:nope"),
		      CAM_GRPC_INVALID_ARGUMENT, NULL);
	assert_answer(h_ex(&h, "driver_list", ""), CAM_GRPC_OK, "loaded:1");
	assert_true(h_metric("cam_os_driver_invocations_total",
			     (const char *[]){ "text_transform", "OK", NULL }) == 2);
	assert_true(h_metric("cam_os_driver_load_time_seconds",
			     (const char *[]){ "text_transform", NULL }) == 1);
	assert_string_equal(cam_components_name(2), "Driver Runtime");
	assert_int_equal(cam_components_probe(h.components, 2, msg, sizeof(msg), &ms),
			 CAM_COMPONENT_HEALTHY);
	assert_non_null(strstr(msg, "1 loaded"));
	assert_answer(h_ex(&h, "driver_unload", "driver:text_transform"), CAM_GRPC_OK,
		      "unloaded:true");
	/* Stopping: loads and unloads are refused, said so. */
	cam_driver_verbs_stop(dv);
	assert_answer(h_ex(&h, "driver_load", "driver:text_transform"), CAM_GRPC_UNAVAILABLE,
		      "the kernel is stopping");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_argument_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_invoke_unload, setup, teardown),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
