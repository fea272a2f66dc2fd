/*
 * Unit tests of kernel/tracing/: span batches (span_batch.c) as the
 * exporter unpacks them, syscall spans and exemplars (syscall_trace.c),
 * and the exemplar slot of the metrics core they write.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/metrics.h"
#include "common/snapshot.h"
#include "kernel/tracing/span_ring.h"
#include "kernel/tracing/span_batch.h"
#include "kernel/tracing/syscall_trace.h"

static const char *attr(const Cam__Bus__Span *s, const char *key)
{
	for (size_t i = 0; i < s->n_attributes; i++)
		if (strcmp(s->attributes[i]->key, key) == 0)
			return s->attributes[i]->value;
	return NULL;
}

static void test_batch_round_trip(void **state)
{
	struct cam_span in[2] = { 0 };
	struct cam_span_batch_meta meta = { "inst1", "1.2.3", 7 };
	Cam__Bus__Envelope *env;
	const Cam__Bus__Span *s;
	const char *why = NULL;
	uint8_t *buf;
	size_t len;

	(void)state;
	strcpy(in[0].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	strcpy(in[0].span_id, "00f067aa0ba902b7");
	strcpy(in[0].parent_span_id, "53995c3f42cd8ad8");
	strcpy(in[0].name, "db.query");
	strcpy(in[0].service, "agent-7");
	in[0].start_unix_ns = 1700000000000000000;
	in[0].duration_ns = 12500000;
	in[0].error = 1;
	/* A part with no '=' continues the value before it. */
	strcpy(in[0].attributes, "db=users,rows=3,labels=a,b");
	strcpy(in[1].trace_id, "605624548bf2744df4658e996a4bdaa6");
	strcpy(in[1].span_id, "7f1ef9d006e4a33a");
	strcpy(in[1].name, "syscall ping");
	strcpy(in[1].original_trace_id, "abc123");
	in[1].server = 1;
	assert_int_equal(cam_span_batch_pack(&meta, in, 2, &buf, &len), 0);
	env = cam_snapshot_unpack(buf, len, &why);
	free(buf);
	assert_non_null(env);
	assert_int_equal(env->body_case, CAM__BUS__ENVELOPE__BODY_SPANS);
	assert_string_equal(env->spans->instance_id, "inst1");
	assert_string_equal(env->spans->version, "1.2.3");
	assert_int_equal(env->spans->sequence, 7);
	assert_int_equal(env->spans->n_spans, 2);
	s = env->spans->spans[0];
	assert_string_equal(s->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(s->parent_span_id, "53995c3f42cd8ad8");
	assert_string_equal(s->name, "db.query");
	assert_string_equal(s->service, "agent-7");
	assert_true(s->error);
	assert_int_equal(s->duration_ns, 12500000);
	assert_int_equal(s->kind, CAM__BUS__SPAN_KIND__SPAN_KIND_INTERNAL);
	assert_string_equal(attr(s, "db"), "users");
	assert_string_equal(attr(s, "rows"), "3");
	assert_string_equal(attr(s, "labels"), "a,b");
	s = env->spans->spans[1];
	assert_int_equal(s->kind, CAM__BUS__SPAN_KIND__SPAN_KIND_SERVER);
	assert_string_equal(s->parent_span_id, "");
	assert_string_equal(attr(s, "cam.original_trace_id"), "abc123");
	cam_snapshot_unpacked_free(env);
}

static void test_bad_batches_refused(void **state)
{
	struct cam_span in = { 0 };
	struct cam_span_batch_meta meta = { "i", "v", 1 };
	const char *why = NULL;
	uint8_t *buf;
	size_t len;

	(void)state;
	strcpy(in.trace_id, "NOT-HEX");
	strcpy(in.span_id, "00f067aa0ba902b7");
	assert_int_equal(cam_span_batch_pack(&meta, &in, 1, &buf, &len), 0);
	assert_null(cam_snapshot_unpack(buf, len, &why));
	assert_non_null(why);
	free(buf);
	/* An attribute that is not UTF-8 is left out, not the batch. */
	strcpy(in.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	strcpy(in.attributes, "ok=1,bad=\xff\xfe");
	assert_int_equal(cam_span_batch_pack(&meta, &in, 1, &buf, &len), 0);
	{
		Cam__Bus__Envelope *env = cam_snapshot_unpack(buf, len, &why);
		assert_non_null(env);
		assert_int_equal(env->spans->spans[0]->n_attributes, 1);
		cam_snapshot_unpacked_free(env);
	}
	free(buf);
}

/* Finds the histogram series' exemplar in a built snapshot. */
static const Cam__Bus__Exemplar *exemplar_of(Cam__Bus__Snapshot *snap, const char *family,
					     const char *value)
{
	for (size_t i = 0; i < snap->n_families; i++) {
		Cam__Bus__Family *f = snap->families[i];
		if (strcmp(f->name, family) != 0)
			continue;
		for (size_t k = 0; k < f->n_series; k++)
			if (strcmp(f->series[k]->label_values[0], value) == 0)
				return f->series[k]->exemplar;
	}
	fail_msg("no series %s{%s}", family, value);
	return NULL;
}

static void test_syscall_trace(void **state)
{
	static const char *const labels[] = { "verb", NULL };
	struct cam_snapshot_meta meta = { .instance_id = "t" };
	struct cam_span out[4];
	Cam__Bus__Snapshot *snap;
	const Cam__Bus__Exemplar *ex;
	cam_span_ring *ring;
	cam_family *f;
	cam_series *plain, *traced;

	(void)state;
	cam_metrics_reset();
	assert_int_equal(cam_span_ring_new(16, &ring), 0);
	assert_int_equal(cam_family_register(&(struct cam_family_desc){
		.name = "d_seconds", .type = CAM_HISTOGRAM, .label_names = labels }, &f, NULL), 0);
	plain = cam_series_get(f, (const char *[]){ "ping" });
	traced = cam_series_get(f, (const char *[]){ "emit_trace" });
	/* Untraced: observed, no span, no exemplar. */
	cam_syscall_trace_done(ring, &(struct cam_syscall_done){
		.verb = "ping", .request_id = "r-1", .caller_id = "me", .seconds = 0.002,
		.duration = plain, .trace_id = "" });
	assert_int_equal(cam_span_ring_pending(ring), 0);
	/* A malformed traceparent is no trace either. */
	cam_syscall_trace_done(ring, &(struct cam_syscall_done){
		.verb = "ping", .request_id = "r-1", .seconds = 0.002, .duration = plain,
		.traceparent = "00-xyz-00f067aa0ba902b7-01" });
	assert_int_equal(cam_span_ring_pending(ring), 0);
	/* A trace id from the payload, with its span id as the parent. */
	cam_syscall_trace_done(ring, &(struct cam_syscall_done){
		.verb = "emit_trace", .request_id = "r-2", .caller_id = "me", .error = "bad",
		.status = 3, .seconds = 0.0042, .duration = traced,
		.trace_id = "605624548bf2744df4658e996a4bdaa6", .span_id = "def456" });
	assert_int_equal(cam_span_ring_drain(ring, out, 4), 1);
	assert_string_equal(out[0].trace_id, "605624548bf2744df4658e996a4bdaa6");
	assert_string_equal(out[0].parent_span_id, "7f1ef9d006e4a33a");
	assert_int_equal(strlen(out[0].span_id), 16);
	assert_string_equal(out[0].name, "syscall emit_trace");
	assert_true(out[0].server);
	assert_true(out[0].error);
	assert_int_equal(out[0].duration_ns, 4200000);
	assert_non_null(strstr(out[0].attributes, "cam.syscall=emit_trace"));
	assert_non_null(strstr(out[0].attributes, "cam.caller_id=me"));
	assert_non_null(strstr(out[0].attributes, "rpc.grpc.status_code=3"));
	assert_non_null(strstr(out[0].attributes, "error.message=bad"));
	/* A traceparent wins: its trace, its span as the parent. */
	cam_syscall_trace_done(ring, &(struct cam_syscall_done){
		.verb = "ping", .request_id = "r-3", .seconds = 0.001, .duration = plain,
		.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		.trace_id = "605624548bf2744df4658e996a4bdaa6", .span_id = "def456" });
	assert_int_equal(cam_span_ring_drain(ring, out, 4), 1);
	assert_string_equal(out[0].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(out[0].parent_span_id, "00f067aa0ba902b7");
	snap = cam_snapshot_build(&meta);
	ex = exemplar_of(snap, "d_seconds", "emit_trace");
	assert_non_null(ex);
	assert_string_equal(ex->trace_id, "605624548bf2744df4658e996a4bdaa6");
	assert_true(ex->value == 0.0042);
	assert_true(ex->timestamp_ms > 1600000000000);
	ex = exemplar_of(snap, "d_seconds", "ping");
	assert_non_null(ex);
	assert_string_equal(ex->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	cam_snapshot_free(snap);
	cam_span_ring_free(ring);
	cam_metrics_reset();
}

/* The ring keeps the newest spans and counts what it overwrote. */
static void test_span_ring_bounded(void **state)
{
	struct cam_span s = { 0 }, out[8];
	cam_span_ring *ring;

	(void)state;
	cam_metrics_reset();
	assert_int_equal(cam_span_ring_new(4, &ring), 0);
	for (int i = 0; i < 6; i++) {
		snprintf(s.name, sizeof(s.name), "s%d", i);
		cam_span_ring_push(ring, &s);
	}
	assert_int_equal(cam_span_ring_pending(ring), 4);
	assert_int_equal(cam_span_ring_drain(ring, out, 3), 3);
	assert_string_equal(out[0].name, "s2");
	assert_int_equal(cam_span_ring_drain(ring, out, 8), 1);
	assert_string_equal(out[0].name, "s5");
	assert_int_equal(cam_span_ring_drain(ring, out, 8), 0);
	cam_span_ring_free(ring);
	cam_span_ring_free(NULL);
	cam_metrics_reset();
}

static void *observe_many(void *arg)
{
	for (int i = 0; i < 20000; i++)
		cam_histogram_observe_traced(arg, 0.001 * (i % 7), "4bf92f3577b34da6a3ce929d0e0e4736",
					     i % 2 ? "00f067aa0ba902b7" : NULL);
	return NULL;
}

/* Writers on two threads and a collector: every exemplar read is whole. */
static void test_exemplar_threads(void **state)
{
	struct cam_snapshot_meta meta = { .instance_id = "t" };
	pthread_t th[2];
	cam_family *f;
	cam_series *s;

	(void)state;
	cam_metrics_reset();
	assert_int_equal(cam_family_register(&(struct cam_family_desc){
		.name = "e_seconds", .type = CAM_HISTOGRAM }, &f, NULL), 0);
	s = cam_series_get(f, NULL);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, observe_many, s), 0);
	for (int i = 0; i < 50; i++) {
		Cam__Bus__Snapshot *snap = cam_snapshot_build(&meta);
		for (size_t k = 0; k < snap->n_families; k++) {
			const Cam__Bus__Exemplar *ex;
			if (strcmp(snap->families[k]->name, "e_seconds") != 0 ||
			    !snap->families[k]->n_series)
				continue;
			ex = snap->families[k]->series[0]->exemplar;
			if (ex) {
				assert_string_equal(ex->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
				assert_true(!ex->span_id[0] ||
					    strcmp(ex->span_id, "00f067aa0ba902b7") == 0);
			}
		}
		cam_snapshot_free(snap);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	cam_metrics_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_round_trip),
		cmocka_unit_test(test_bad_batches_refused),
		cmocka_unit_test(test_syscall_trace),
		cmocka_unit_test(test_span_ring_bounded),
		cmocka_unit_test(test_exemplar_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
