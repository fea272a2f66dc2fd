/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kernel/memctx/ with the in-memory backend: the contract
 * suite (memctx_contract.h). */
#include "tests/kernel/memctx_contract.h"

static cam_memctx *contract_store(const struct cam_memctx_limits *l)
{
	struct cam_memctx_opts o = { .limits = *l };
	char why[CAM_MEMCTX_WHY];
	cam_memctx *m;

	if (cam_memctx_new(&o, &m, why))
		fail_msg("cam_memctx_new: %s", why);
	assert_string_equal(cam_memctx_backend(m), "memory");
	return m;
}

/* Each store starts empty. */
static void contract_reset(void)
{
}

/* The in-memory store is healthy, and says it is volatile. */
static void test_health_disabled(void **state)
{
	cam_memctx *m = contract_store(&default_limits);
	char msg[256];

	(void)state;
	assert_int_equal(cam_memctx_health(m, msg, sizeof(msg)), CAM_COMPONENT_HEALTHY);
	assert_non_null(strstr(msg, "volatile"));
	cam_memctx_free(m);
}

static void test_bad_limits(void **state)
{
	struct cam_memctx_opts o = { .limits = default_limits };
	char why[CAM_MEMCTX_WHY];
	cam_memctx *m;

	(void)state;
	o.limits.keep_versions = 0;
	assert_int_equal(cam_memctx_new(&o, &m, why), CAM_EINVAL);
	o.limits = default_limits;
	o.limits.max_keys = 0;
	assert_int_equal(cam_memctx_new(&o, &m, why), CAM_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CONTRACT_TESTS,
		CONTRACT_QUOTA_TESTS,
		cmocka_unit_test(test_health_disabled),
		cmocka_unit_test(test_bad_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
