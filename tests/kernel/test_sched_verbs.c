/*
 * Unit tests of the scheduler's verbs (kernel/syscall/sched_verbs.c) over a
 * real scheduler, through the dispatcher: think's score, explain_action
 * over the decisions the dispatcher records, tune_system's checks, and the
 * "Scheduler" health probe.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tests/kernel/verb_harness.h"

#include "kernel/scheduler/scheduler.h"
#include "kernel/syscall/sched_verbs.h"
#include "kernel/syscall/system_verbs.h"

static struct harness h;
static cam_sched *sched;
static cam_sched_verbs *sv;
static cam_system_verbs *sys;

static int setup(void **state)
{
	struct cam_sched_opts o = { .decisions = 16 };

	(void)state;
	h_begin(&h, NULL);
	cam_sched_default_settings(&o.settings);
	o.settings.workers = 1;
	assert_int_equal(cam_sched_new(&o, &sched), 0);
	assert_int_equal(cam_system_verbs_new(&(struct cam_system_verbs_opts){
				     .verbs = h.verbs, .sched = sched, .instance_id = "i" }, &sys),
			 0);
	assert_int_equal(cam_sched_verbs_new(&(struct cam_sched_verbs_opts){
				     .verbs = h.verbs, .components = h.components, .sched = sched },
				     &sv),
			 0);
	h.sched = sched;
	h_ready(&h);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cam_sched_verbs_free(sv);
	cam_system_verbs_free(sys);
	assert_int_equal(cam_verbs_count(h.verbs), 0);
	h_end(&h);
	cam_sched_free(sched);
	return 0;
}

static void test_think(void **state)
{
	const struct answer *r;

	(void)state;
	/* 0.30*1 + 0.25*1 + 0.5*(0.15+0.10) + 0.20*1 = 0.875: priority 8, high. */
	r = h_ex(&h, "think", "task:deploy,urgency:1,importance:1,trust:1");
	assert_answer(r, CAM_GRPC_OK, "score:0.8750,priority:8,class:high");
	assert_string_equal(h_field(r->result, "defaulted"), "efficiency+energy");
	assert_string_equal(h_field(r->result, "contribution_urgency"), "0.3000");
	assert_answer(h_ex(&h, "think", "task:nothing"), CAM_GRPC_INVALID_ARGUMENT,
		      "think needs at least one of urgency");
	assert_answer(h_ex(&h, "think", "urgency:1.5"), CAM_GRPC_INVALID_ARGUMENT,
		      "urgency must be a number from 0 to 1");
	assert_answer(h_ex(&h, "think", "urgency:1,colour:red"), CAM_GRPC_INVALID_ARGUMENT, "colour");
}

static void test_explain_action(void **state)
{
	struct cam_grpc_sched how = { .priority = 8, .source = CAM_SCHED_SRC_FACTORS, .scored = true,
				      .score = 0.875, .klass = CAM_SCHED_HIGH, .queue_len = 2,
				      .enqueued_ns = 1000000, .dequeued_ns = 3500000 };
	struct answer a;
	char p[128];
	const struct answer *r;

	(void)state;
	/* A call as the executor scheduled it: the dispatcher keeps how. */
	h_call(&h, &(struct req){ .verb = "ping", .payload = "urgency:1", .sched = &how }, &a);
	assert_answer(&a, CAM_GRPC_OK, NULL);
	snprintf(p, sizeof(p), "request_id:%s", a.request_id);
	r = h_ex(&h, "explain_action", p);
	assert_answer(r, CAM_GRPC_OK, "verb:ping,priority:8,class:high,source:factors,score:0.8750");
	assert_string_equal(h_field(r->result, "queue_length"), "2");
	assert_string_equal(h_field(r->result, "wait_ms"), "2.500");
	assert_string_equal(h_field(r->result, "status"), "OK");
	assert_non_null(strstr(h_field(r->result, "reason"), "2 calls were ahead of it"));
	/* A failed call is kept with its status. */
	h_call(&h, &(struct req){ .verb = "ping", .payload = "delay_ms:x", .sched = &how }, &a);
	assert_answer(&a, CAM_GRPC_INVALID_ARGUMENT, "delay_ms must be");
	snprintf(p, sizeof(p), "request_id:%s", a.request_id);
	assert_answer(h_ex(&h, "explain_action", p), CAM_GRPC_OK, "status:INVALID_ARGUMENT");
	assert_answer(h_ex(&h, "explain_action", "request_id:nope-1"), CAM_GRPC_NOT_FOUND,
		      "no recent decision for request_id 'nope-1'");
	assert_answer(h_ex(&h, "explain_action", ""), CAM_GRPC_INVALID_ARGUMENT,
		      "needs request_id");
}

static void test_tune_system(void **state)
{
	struct cam_sched_settings st;
	const struct answer *r;

	(void)state;
	r = h_ex(&h, "tune_system", "weights:4:2:1,queue_limit_low:10");
	assert_answer(r, CAM_GRPC_OK, "weights:4:2:1");
	assert_string_equal(h_field(r->result, "changed"), "true");
	cam_sched_get_settings(sched, &st);
	assert_int_equal(st.weights[0], 4);
	assert_int_equal(st.queue_limit[CAM_SCHED_LOW], 10);
	/* Unchanged settings: nothing to do, said. */
	assert_answer(h_ex(&h, "tune_system", "weight_high:4"), CAM_GRPC_OK, "changed:false");
	/* Bad values change nothing. */
	assert_answer(h_ex(&h, "tune_system", "weights:1:2"), CAM_GRPC_INVALID_ARGUMENT,
		      "weights (high:normal:low");
	assert_answer(h_ex(&h, "tune_system", "workers:0"), CAM_GRPC_INVALID_ARGUMENT,
		      "workers must be 1-256; nothing changed");
	assert_answer(h_ex(&h, "tune_system", "weight_low:5000"), CAM_GRPC_INVALID_ARGUMENT,
		      "nothing changed");
	cam_sched_get_settings(sched, &st);
	assert_int_equal(st.weights[CAM_SCHED_LOW], 1);
	assert_int_equal(st.workers, 1);
	/* The share per caller: set, shown as in force, 0 back to a quarter. */
	r = h_ex(&h, "tune_system", "queue_limit_per_caller:7,queue_limit_per_caller_low:2");
	assert_answer(r, CAM_GRPC_OK, "queue_limit_per_caller:7:7:2");
	cam_sched_get_settings(sched, &st);
	assert_int_equal(st.queue_limit_per_caller[CAM_SCHED_HIGH], 7);
	assert_int_equal(st.queue_limit_per_caller[CAM_SCHED_LOW], 2);
	assert_answer(h_ex(&h, "tune_system", "queue_limit_per_caller:1:2"),
		      CAM_GRPC_INVALID_ARGUMENT, "queue_limit_per_caller (one number");
	assert_answer(h_ex(&h, "tune_system", "queue_limit_per_caller:0"), CAM_GRPC_OK,
		      "queue_limit_per_caller:256:256:2,");
	/* observe shows the scheduler's figures, the shares' too. */
	r = h_ex(&h, "observe", "");
	assert_answer(r, CAM_GRPC_OK, "workers:1");
	assert_non_null(h_field(r->result, "callers_normal"));
	assert_non_null(h_field(r->result, "caller_most_low"));
	assert_string_equal(h_field(r->result, "rejected_caller_limit"), "0");
}

static void test_probe(void **state)
{
	char msg[256];
	double ms;

	(void)state;
	assert_string_equal(cam_components_name(3), "Scheduler");
	assert_int_equal(cam_components_probe(h.components, 3, msg, sizeof(msg), &ms),
			 CAM_COMPONENT_HEALTHY);
	assert_int_equal(cam_sched_verbs_new(&(struct cam_sched_verbs_opts){ .verbs = h.verbs },
					     &(cam_sched_verbs *){ NULL }),
			 CAM_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_think, setup, teardown),
		cmocka_unit_test_setup_teardown(test_explain_action, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tune_system, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
