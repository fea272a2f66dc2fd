/* Unit tests of common/error.c and common/grpc_status.c: one status space. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/grpc_status.h"

static const int codes[] = {
#define CODE(name, value, grpc, msg) CAM_##name,
	CAM_ERRNO_MAP(CODE)
#undef CODE
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

/* Every code is negative, named, explained, and answered with an error. */
static void test_codes(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCODES; i++) {
		int e = codes[i];

		assert_true(e < 0);
		assert_string_not_equal(cam_errname(e), "UNKNOWN");
		assert_string_not_equal(cam_strerror(e), "unknown error");
		assert_int_not_equal(cam_err_grpc_status(e), CAM_GRPC_OK);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(codes[j], e);
	}
	assert_int_equal(cam_err_grpc_status(0), CAM_GRPC_OK);
	assert_int_equal(cam_err_grpc_status(-1000), CAM_GRPC_UNKNOWN);
	assert_int_equal(cam_err_grpc_status(7), CAM_GRPC_UNKNOWN);
	assert_string_equal(cam_errname(-1000), "UNKNOWN");
	assert_string_equal(cam_errname(CAM_EINVAL), "EINVAL");
	assert_int_equal(cam_err_grpc_status(CAM_EINVAL), CAM_GRPC_INVALID_ARGUMENT);
	assert_int_equal(cam_err_grpc_status(CAM_EUNAVAIL), CAM_GRPC_UNAVAILABLE);
}

/* A status that comes in (the driver helper's wire) goes out unchanged. */
static void test_round_trip(void **state)
{
	(void)state;
	for (int s = 0; s < CAM_GRPC_STATUS_COUNT; s++) {
		int e = cam_err_from_grpc_status(s);

		assert_true(s == CAM_GRPC_OK ? e == 0 : e < 0);
		assert_int_equal(cam_err_grpc_status(e), s);
	}
	assert_int_equal(cam_err_from_grpc_status(-1), CAM_EUNKNOWN);
	assert_int_equal(cam_err_from_grpc_status(17), CAM_EUNKNOWN);
	assert_int_equal(cam_err_from_grpc_status(CAM_GRPC_FAILED_PRECONDITION), CAM_EPRECOND);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(cam_grpc_status_name(CAM_GRPC_OK), "OK");
	assert_string_equal(cam_grpc_status_name(3), "INVALID_ARGUMENT");
	assert_string_equal(cam_grpc_status_name(CAM_GRPC_UNAUTHENTICATED), "UNAUTHENTICATED");
	assert_string_equal(cam_grpc_status_name(17), "UNKNOWN");
	assert_string_equal(cam_grpc_status_name(-3), "UNKNOWN");
	for (int s = 0; s < CAM_GRPC_STATUS_COUNT; s++)
		assert_non_null(cam_grpc_status_name(s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
