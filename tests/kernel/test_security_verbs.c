/*
 * Unit tests of the security verbs (kernel/syscall/security_verbs.c)
 * without a TPM, through the dispatcher: whoami says who calls, every TPM
 * verb answers UNAVAILABLE naming the setting (and is counted), and the
 * "TPM Security" component says disabled. The TPM itself is tested with
 * swtpm in tests/kernel/test_tpm.c and tests/integration/test_tpm.sh.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tests/kernel/verb_harness.h"

#include "kernel/syscall/security_verbs.h"

static struct harness h;
static cam_security_verbs *sv;

static int setup(void **state)
{
	(void)state;
	h_begin(&h, NULL);
	assert_int_equal(cam_security_verbs_new(&(struct cam_security_verbs_opts){
				     .verbs = h.verbs, .components = h.components, .tpm = NULL },
				     &sv),
			 0);
	h_ready(&h);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cam_security_verbs_free(sv);
	assert_int_equal(cam_verbs_count(h.verbs), 0);
	h_end(&h);
	return 0;
}

static void test_whoami(void **state)
{
	struct answer a;

	(void)state;
	h_call(&h, &(struct req){ .verb = "whoami", .caller_id = "agent-9" }, &a);
	assert_answer(&a, CAM_GRPC_OK, "caller_id:agent-9,authenticated:false,identified_by:anonymous,scopes:read+write+admin");
	assert_answer(h_ex(&h, "whoami", "x:1"), CAM_GRPC_INVALID_ARGUMENT, "does not take");
	assert_false(cam_verbs_find(h.verbs, "whoami")->may_block);
}

static void test_no_tpm(void **state)
{
	static const char *const verbs[] = { "tpm_sign", "tpm_verify", "tpm_random", "tpm_pcr_read",
					     "tpm_public_key" };
	static const char *const ops[] = { "sign", "verify", "random", "pcr_read", "public_key" };
	char msg[256];
	double ms;

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		assert_answer(h_ex(&h, verbs[i], ""), CAM_GRPC_UNAVAILABLE,
			      "no TPM configured: set CAM_TPM_TCTI");
		assert_true(cam_verbs_find(h.verbs, verbs[i])->may_block);
		assert_true(h_metric("cam_os_security_tpm_operations_total",
				     (const char *[]){ ops[i], "UNAVAILABLE", NULL }) == 1);
	}
	/* Key checks come first, as for every verb. */
	assert_answer(h_ex(&h, "tpm_random", "size:3"), CAM_GRPC_INVALID_ARGUMENT,
		      "does not take payload key 'size'");
	assert_string_equal(cam_components_name(1), "TPM Security");
	assert_int_equal(cam_components_probe(h.components, 1, msg, sizeof(msg), &ms),
			 CAM_COMPONENT_DISABLED);
	assert_non_null(strstr(msg, "CAM_TPM_TCTI is unset"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_whoami, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_tpm, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
