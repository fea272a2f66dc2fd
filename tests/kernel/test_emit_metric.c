/*
 * Unit tests of emit_metric (kernel/syscall/emit_metric.c) through the
 * dispatcher: counters add, gauges set, histograms observe (natively when
 * asked), shapes are fixed by the first emit, the kernel's names and the
 * limits are refused (the family limit counted with its reason), and a
 * refused emit changes nothing.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tests/kernel/verb_harness.h"

#include "kernel/syscall/emit_metric.h"

static struct harness h;
static cam_emit_metric *em;

static int setup(void **state)
{
	(void)state;
	h_begin(&h, NULL);
	assert_int_equal(cam_emit_metric_new(&(struct cam_emit_metric_opts){
				     .verbs = h.verbs, .families_max = 3, .series_max = 2 },
				     &em),
			 0);
	h_ready(&h);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cam_emit_metric_free(em);
	assert_int_equal(cam_verbs_count(h.verbs), 0);
	h_end(&h);
	return 0;
}

static void test_counter_and_gauge(void **state)
{
	(void)state;
	/* The seed's own example. */
	assert_answer(h_ex(&h, "emit_metric", "metric_name:custom_counter,value:1,labels:app=myapp,env=prod"),
		      CAM_GRPC_OK, "metric_name:custom_counter,type:counter,accepted:true");
	assert_answer(h_ex(&h, "emit_metric", "metric_name:custom_counter,value:2.5,labels:env=prod,app=myapp"),
		      CAM_GRPC_OK, NULL);
	/* Label order does not make a new series. */
	assert_true(h_metric("custom_counter", (const char *[]){ "myapp", "prod", NULL }) == 3.5);
	assert_answer(h_ex(&h, "emit_metric", "metric_name:temp,value:7.5,type:gauge"), CAM_GRPC_OK,
		      "type:gauge");
	assert_answer(h_ex(&h, "emit_metric", "metric_name:temp,value:-2,type:gauge"), CAM_GRPC_OK,
		      NULL);
	assert_true(h_metric("temp", NULL) == -2);
}

static void test_refusals_change_nothing(void **state)
{
	static const struct {
		const char *payload;
		int status;
		const char *says;
	} cases[] = {
		{ "value:1", CAM_GRPC_INVALID_ARGUMENT, "'metric_name' is missing" },
		{ "metric_name:1bad,value:1", CAM_GRPC_INVALID_ARGUMENT, "invalid metric_name" },
		{ "metric_name:a:b,value:1", CAM_GRPC_INVALID_ARGUMENT, "invalid metric_name" },
		{ "metric_name:cam_os_mine,value:1", CAM_GRPC_INVALID_ARGUMENT, "cam_os_ prefix" },
		{ "metric_name:cam_os_syscall_total,value:1", CAM_GRPC_INVALID_ARGUMENT, "cam_os_" },
		{ "metric_name:jobs,value:1,type:summary", CAM_GRPC_INVALID_ARGUMENT,
		  "type must be counter, gauge or histogram" },
		{ "metric_name:jobs", CAM_GRPC_INVALID_ARGUMENT, "'value' is missing" },
		{ "metric_name:jobs,value:nan", CAM_GRPC_INVALID_ARGUMENT, "not a finite decimal number" },
		{ "metric_name:jobs,value:-1", CAM_GRPC_INVALID_ARGUMENT, "only goes up" },
		{ "metric_name:jobs,value:1,labels:novalue", CAM_GRPC_INVALID_ARGUMENT,
		  "is not name=value" },
		{ "metric_name:jobs,value:1,labels:__x=1", CAM_GRPC_INVALID_ARGUMENT,
		  "invalid label name" },
		{ "metric_name:jobs,value:1,labels:a=1,a=2", CAM_GRPC_INVALID_ARGUMENT,
		  "duplicate label 'a'" },
		/* The kernel's own families are not for emit_metric. */
		{ "metric_name:cam_os_build_info_x,value:1", CAM_GRPC_INVALID_ARGUMENT, "cam_os_" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_answer(h_ex(&h, "emit_metric", cases[i].payload), cases[i].status,
			      cases[i].says);
	assert_true(h_metric("jobs", NULL) == -1);
	/* A family of the kernel that lacks the prefix (process_*). */
	{
		cam_family *f;

		assert_int_equal(cam_family_register(&(struct cam_family_desc){
					     .name = "process_open_fds", .help = "h",
					     .type = CAM_GAUGE }, &f, NULL), 0);
		assert_answer(h_ex(&h, "emit_metric", "metric_name:process_open_fds,value:1,type:gauge"),
			      CAM_GRPC_INVALID_ARGUMENT, "belongs to the kernel");
	}
	/* The first emit fixes the shape. */
	assert_answer(h_ex(&h, "emit_metric", "metric_name:jobs,value:1,labels:queue=a"),
		      CAM_GRPC_OK, NULL);
	assert_answer(h_ex(&h, "emit_metric", "metric_name:jobs,value:1,type:gauge,labels:queue=a"),
		      CAM_GRPC_INVALID_ARGUMENT, "is a counter; it cannot be emitted as a gauge");
	assert_answer(h_ex(&h, "emit_metric", "metric_name:jobs,value:1"),
		      CAM_GRPC_INVALID_ARGUMENT, "has 1 labels; this emit gives 0");
	assert_answer(h_ex(&h, "emit_metric", "metric_name:jobs,value:1,labels:other=a"),
		      CAM_GRPC_INVALID_ARGUMENT, "has no label 'other'");
	assert_true(h_metric("jobs", (const char *[]){ "a", NULL }) == 1);
}

/* Names and labels Prometheus reserves or that would mislead, numbers
 * that are not plain decimals, and a counter fed past the largest finite
 * double are refused, change nothing, and are counted by reason. */
static void test_strict_names_labels_values(void **state)
{
	static const struct {
		const char *payload, *says, *reason;
	} cases[] = {
		{ "metric_name:up,value:1,type:gauge", "what Prometheus itself records", "reserved_name" },
		{ "metric_name:scrape_duration_seconds,value:1,type:gauge", "what Prometheus itself",
		  "reserved_name" },
		{ "metric_name:__secret,value:1", "the __ prefix", "reserved_name" },
		{ "metric_name:req_bucket,value:1", "_bucket, _count, _sum, _created", "reserved_name" },
		{ "metric_name:req_count,value:1", "_bucket, _count", "reserved_name" },
		{ "metric_name:req_sum,value:1,type:gauge", "_sum", "reserved_name" },
		{ "metric_name:req_created,value:1,type:gauge", "_created", "reserved_name" },
		{ "metric_name:temp_total,value:1,type:gauge", "only a counter may", "reserved_name" },
		{ "metric_name:reqs,value:1,labels:le=0.5", "label le is reserved", "reserved_label" },
		{ "metric_name:reqs,value:1,labels:quantile=0.9", "label quantile", "reserved_label" },
		{ "metric_name:reqs,value:0x10", "not a finite decimal number", "invalid_value" },
		{ "metric_name:reqs,value: 5", "not a finite decimal number", "invalid_value" },
		{ "metric_name:reqs,value:5 ", "not a finite decimal number", "invalid_value" },
		{ "metric_name:reqs,value:inf", "not a finite decimal number", "invalid_value" },
		{ "metric_name:reqs,value:1e999", "not a finite decimal number", "invalid_value" },
		{ "metric_name:reqs,value:.", "not a finite decimal number", "invalid_value" },
		{ "metric_name:reqs,value:1e", "not a finite decimal number", "invalid_value" },
	};
	const char *R = "cam_os_metrics_series_rejected_total";

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double before = h_metric(R, (const char *[]){ "", cases[i].reason, NULL });

		assert_answer(h_ex(&h, "emit_metric", cases[i].payload), CAM_GRPC_INVALID_ARGUMENT,
			      cases[i].says);
		assert_true(h_metric(R, (const char *[]){ "", cases[i].reason, NULL }) ==
			    (before < 0 ? 0 : before) + 1);
	}
	/* Plain decimals of every form are fine; a counter may end in _total. */
	assert_answer(h_ex(&h, "emit_metric", "metric_name:reqs_total,value:1.5e2"), CAM_GRPC_OK, NULL);
	assert_answer(h_ex(&h, "emit_metric", "metric_name:reqs_total,value:+.5"), CAM_GRPC_OK, NULL);
	assert_answer(h_ex(&h, "emit_metric", "metric_name:reqs_total,value:2."), CAM_GRPC_OK, NULL);
	assert_true(h_metric("reqs_total", NULL) == 152.5);
	/* A counter never reaches +Inf: the add that would is refused. */
	assert_answer(h_ex(&h, "emit_metric", "metric_name:big_total,value:1e308"), CAM_GRPC_OK, NULL);
	assert_answer(h_ex(&h, "emit_metric", "metric_name:big_total,value:1e308"),
		      CAM_GRPC_OUT_OF_RANGE, "past the largest finite number");
	assert_true(h_metric("big_total", NULL) == 1e308);
	assert_true(h_metric(R, (const char *[]){ "big_total", "overflow", NULL }) == 1);
	/* A gauge x_total beside a counter x: the clash is the reason given. */
	assert_answer(h_ex(&h, "emit_metric", "metric_name:hits,value:1"), CAM_GRPC_OK, NULL);
	assert_answer(h_ex(&h, "emit_metric", "metric_name:hits_total,value:1,type:gauge"),
		      CAM_GRPC_INVALID_ARGUMENT, "exposed names clash with the counter hits");
	assert_true(h_metric(R, (const char *[]){ "", "type_clash", NULL }) >= 1);
	assert_null(cam_family_find("hits_total"));
}

/* Histograms observe, with native buckets when asked; bad native payloads
 * are refused and change nothing. */
static void test_histograms(void **state)
{
	cam_family *f;

	(void)state;
	assert_answer(h_ex(&h, "emit_metric", "metric_name:lat_seconds,type:histogram,native:true,value:0.25"),
		      CAM_GRPC_OK, "metric_name:lat_seconds,type:histogram,accepted:true");
	assert_answer(h_ex(&h, "emit_metric", "metric_name:lat_seconds,type:histogram,native:true,value:0.5"),
		      CAM_GRPC_OK, NULL);
	assert_true(h_metric("lat_seconds", NULL) == 2); /* histograms: the count */
	f = cam_family_find("lat_seconds");
	assert_non_null(f);
	assert_true(cam_family_native(f));
	assert_answer(h_ex(&h, "emit_metric", "metric_name:lat_seconds,type:histogram,value:1"),
		      CAM_GRPC_INVALID_ARGUMENT, "was first emitted with native:true");
	assert_answer(h_ex(&h, "emit_metric", "metric_name:lat_seconds,value:1"),
		      CAM_GRPC_INVALID_ARGUMENT, "is a histogram; it cannot be emitted as a counter");
	assert_answer(h_ex(&h, "emit_metric", "metric_name:lat_seconds,type:histogram,native:true,value:-1"),
		      CAM_GRPC_INVALID_ARGUMENT, "a histogram observes values >= 0");
	assert_answer(h_ex(&h, "emit_metric", "metric_name:other,type:histogram,native:yes,value:1"),
		      CAM_GRPC_INVALID_ARGUMENT, "native must be true or false");
	assert_answer(h_ex(&h, "emit_metric", "metric_name:other,type:gauge,native:true,value:1"),
		      CAM_GRPC_INVALID_ARGUMENT, "native:true is for type:histogram only");
	assert_answer(h_ex(&h, "emit_metric", "metric_name:other,type:summary,value:1"),
		      CAM_GRPC_INVALID_ARGUMENT, "type must be counter, gauge or histogram");
	assert_null(cam_family_find("other"));
	assert_true(h_metric("lat_seconds", NULL) == 2);
	assert_answer(h_ex(&h, "emit_metric", "metric_name:plain_seconds,type:histogram,native:false,value:1"),
		      CAM_GRPC_OK, NULL);
	assert_false(cam_family_native(cam_family_find("plain_seconds")));
}

static void test_limits(void **state)
{
	(void)state;
	/* Two series per family (series_max = 2). */
	assert_answer(h_ex(&h, "emit_metric", "metric_name:hits,value:1,labels:k=1"), CAM_GRPC_OK, NULL);
	assert_answer(h_ex(&h, "emit_metric", "metric_name:hits,value:1,labels:k=2"), CAM_GRPC_OK, NULL);
	assert_answer(h_ex(&h, "emit_metric", "metric_name:hits,value:1,labels:k=3"),
		      CAM_GRPC_RESOURCE_EXHAUSTED, "series limit reached for hits");
	assert_true(h_metric("cam_os_metrics_series_rejected_total",
			     (const char *[]){ "hits", "series_limit", NULL }) == 1);
	/* Three families (families_max = 3). */
	assert_answer(h_ex(&h, "emit_metric", "metric_name:f2,value:1"), CAM_GRPC_OK, NULL);
	assert_answer(h_ex(&h, "emit_metric", "metric_name:f3,value:1"), CAM_GRPC_OK, NULL);
	assert_answer(h_ex(&h, "emit_metric", "metric_name:f4,value:1"), CAM_GRPC_RESOURCE_EXHAUSTED,
		      "custom metric limit reached (3 families)");
	assert_true(h_metric("cam_os_metrics_series_rejected_total",
			     (const char *[]){ "", "family_limit", NULL }) == 1);
	assert_answer(h_ex(&h, "emit_metric", "metric_name:f3,value:1"), CAM_GRPC_OK, NULL);
	assert_true(h_metric("f3", NULL) == 2);
	assert_true(h_metric("f4", NULL) == -1);
}

/* The series quota per caller: exact per name (two callers never share a
 * count), and one caller's concurrent calls cannot pass it together. */
static struct answer *as(const char *caller, const char *payload)
{
	static __thread struct answer a;

	h_call(&h, &(struct req){ .verb = "emit_metric", .payload = payload, .caller_id = caller },
	       &a);
	return &a;
}

static void *racer(void *arg)
{
	char p[64];

	for (int i = 0; i < 20; i++) {
		snprintf(p, sizeof(p), "metric_name:race_total,value:1,labels:t=%d-%d",
			 (int)(intptr_t)arg, i);
		(void)as("racer", p);
	}
	return NULL;
}

static void test_series_quota(void **state)
{
	pthread_t t[4];
	char p[64];
	int ok = 0;

	(void)state;
	cam_emit_metric_free(em);
	assert_int_equal(cam_emit_metric_new(&(struct cam_emit_metric_opts){
				     .verbs = h.verbs, .families_max = 10, .series_max = 1000,
				     .series_per_caller = 3 }, &em), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "metric_name:q_total,value:1,labels:k=a%d", i);
		assert_answer(as("agent-a", p), CAM_GRPC_OK, NULL);
	}
	assert_answer(as("agent-a", "metric_name:q_total,value:1,labels:k=a3"),
		      CAM_GRPC_RESOURCE_EXHAUSTED, "agent-a has made 3 series");
	/* Its own series still take values. */
	assert_answer(as("agent-a", "metric_name:q_total,value:1,labels:k=a0"), CAM_GRPC_OK, NULL);
	/* Thousands of other callers each get their own three: no shared slot. */
	for (int i = 0; i < 5000; i++) {
		snprintf(p, sizeof(p), "agent-%d", i);
		if (as(p, "metric_name:q_total,value:1,labels:k=a0")->status == CAM_GRPC_OK)
			ok++; /* an existing series: always fine */
	}
	assert_int_equal(ok, 5000);
	assert_answer(as("agent-8191", "metric_name:q_total,value:1,labels:k=b0"), CAM_GRPC_OK, NULL);
	/* One caller racing itself on four threads: exactly three series. */
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, racer, (void *)(intptr_t)i);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ok = 0;
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 20; j++) {
			snprintf(p, sizeof(p), "%d-%d", i, j);
			ok += h_metric("race_total", (const char *[]){ p, NULL }) == 1;
		}
	assert_int_equal(ok, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_counter_and_gauge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_change_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strict_names_labels_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_series_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_histograms, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
