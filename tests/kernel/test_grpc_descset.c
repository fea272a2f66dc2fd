/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kernel/grpc/descset.c over the descriptor set embedded at
 * build time (cam.proto, health, both reflection protos). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "kernel/grpc/descset.h"
#include "kernel/grpc/reflection.h"

static int setup(void **state)
{
	cam_grpc_descset *d;

	if (cam_grpc_descset_new(cam_grpc_descriptor_set, cam_grpc_descriptor_set_len, &d))
		return -1;
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	cam_grpc_descset_free(*state);
	return 0;
}

static void test_files(void **state)
{
	cam_grpc_descset *d = *state;

	assert_int_equal(cam_grpc_descset_nfiles(d), 4);
	assert_true(cam_grpc_descset_find_file(d, "cam.proto") >= 0);
	assert_true(cam_grpc_descset_find_file(d, "grpc/health/v1/health.proto") >= 0);
	assert_true(cam_grpc_descset_find_file(d, "grpc/reflection/v1/reflection.proto") >= 0);
	assert_true(cam_grpc_descset_find_file(d, "grpc/reflection/v1alpha/reflection.proto") >= 0);
	assert_int_equal(cam_grpc_descset_find_file(d, "nope.proto"), -1);
}

static void test_symbols(void **state)
{
	cam_grpc_descset *d = *state;
	int cam = cam_grpc_descset_find_file(d, "cam.proto");
	int health = cam_grpc_descset_find_file(d, "grpc/health/v1/health.proto");

	assert_int_equal(cam_grpc_descset_find_symbol(d, "cam.SyscallService"), cam);
	assert_int_equal(cam_grpc_descset_find_symbol(d, "cam.SyscallService.Execute"), cam);
	assert_int_equal(cam_grpc_descset_find_symbol(d, "cam.SyscallRequest"), cam);
	assert_int_equal(cam_grpc_descset_find_symbol(d, ".cam.ComponentHealth"), cam);
	assert_int_equal(cam_grpc_descset_find_symbol(
				 d, "grpc.health.v1.HealthCheckResponse.ServingStatus"),
			 health);
	assert_int_equal(cam_grpc_descset_find_symbol(d, "cam.Nope"), -1);
	assert_int_equal(cam_grpc_descset_find_symbol(d, "cam"), -1);
	assert_true(cam_grpc_descset_is_message(d, "cam.SyscallRequest"));
	assert_false(cam_grpc_descset_is_message(d, "cam.SyscallService"));
}

static void test_services(void **state)
{
	cam_grpc_descset *d = *state;
	const char *want[] = { "cam.SyscallService", "grpc.health.v1.Health",
			       "grpc.reflection.v1.ServerReflection",
			       "grpc.reflection.v1alpha.ServerReflection" };
	size_t n = cam_grpc_descset_nservices(d);

	assert_int_equal(n, 4);
	for (size_t i = 0; i < 4; i++) {
		int found = 0;

		for (size_t j = 0; j < n; j++)
			found |= strcmp(cam_grpc_descset_service(d, j), want[i]) == 0;
		assert_true(found);
	}
	assert_null(cam_grpc_descset_service(d, n));
}

static void test_closure(void **state)
{
	cam_grpc_descset *d = *state;
	size_t idx[8];
	int cam = cam_grpc_descset_find_file(d, "cam.proto");

	assert_int_equal(cam_grpc_descset_closure(d, (size_t)cam, idx, 8), 1);
	assert_int_equal(idx[0], (size_t)cam);
	assert_int_equal(cam_grpc_descset_closure(d, 99, idx, 8), 0);
}

static void test_malformed(void **state)
{
	static const uint8_t bad[] = { 0x0a, 0x05, 0x0a, 0x10, 'x' };
	cam_grpc_descset *d = NULL;

	(void)state;
	assert_int_equal(cam_grpc_descset_new(bad, sizeof(bad), &d), CAM_EPROTO);
	assert_int_equal(cam_grpc_descset_new(bad, 1, &d), CAM_EPROTO);
	assert_int_equal(cam_grpc_descset_new(bad, 0, &d), 0);
	assert_int_equal(cam_grpc_descset_nfiles(d), 0);
	cam_grpc_descset_free(d);
	cam_grpc_descset_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symbols, setup, teardown),
		cmocka_unit_test_setup_teardown(test_services, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closure, setup, teardown),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
