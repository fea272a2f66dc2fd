/*
 * Unit tests of the publisher (kernel/publisher.c) over a real nng bus: it
 * publishes cumulative snapshots every interval, ships the span ring in
 * span batches, counts its own work, and publishes a final snapshot when
 * freed. The test reads the bus as the exporter does (cam_bus_sub_new,
 * cam_snapshot_unpack).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
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
#include "common/clock.h"
#include "common/metrics.h"
#include "common/snapshot.h"
#include "kernel/publisher.h"
#include "kernel/tracing/span_ring.h"

static char dir[64], addr[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cam-test-publisher-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(addr, sizeof(addr), "ipc://%s/bus.ipc", dir);
	return 0;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/bus.ipc", dir);
	unlink(path);
	return rmdir(dir);
}

/* The next envelope on the bus within ms, or NULL. */
static Cam__Bus__Envelope *next(cam_bus *sub, int ms)
{
	int64_t until = cam_mono_ns() + (int64_t)ms * 1000000;

	while (cam_mono_ns() < until) {
		Cam__Bus__Envelope *e;
		const char *why = NULL;
		void *buf;
		size_t len;

		if (cam_bus_recv(sub, &buf, &len, 50) != 0)
			continue;
		e = cam_snapshot_unpack(buf, len, &why);
		cam_bus_msg_free(buf, len);
		if (!e)
			fail_msg("the publisher sent a bad envelope: %s", why);
		return e;
	}
	return NULL;
}

static const Cam__Bus__Family *family(const Cam__Bus__Snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_families; i++)
		if (strcmp(s->families[i]->name, name) == 0)
			return s->families[i];
	return NULL;
}

static void test_snapshots_and_spans(void **state)
{
	struct cam_span span = { .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
				 .span_id = "00f067aa0ba902b7", .name = "op" };
	uint64_t seq = 0, last = 0;
	size_t spans_seen = 0;
	cam_span_ring *ring;
	cam_publisher *p;
	cam_family *f;
	cam_bus *pub, *sub;

	(void)state;
	cam_metrics_reset();
	assert_int_equal(cam_family_register(&(struct cam_family_desc){
				     .name = "t_events_total", .help = "h", .type = CAM_COUNTER },
				     &f, NULL), 0);
	cam_counter_add(cam_series_get(f, NULL), 3);
	assert_int_equal(cam_span_ring_new(16, &ring), 0);
	assert_int_equal(cam_bus_pub_new(addr, &pub), 0);
	assert_int_equal(cam_bus_sub_new(addr, &sub), 0);
	assert_int_equal(cam_publisher_new(&(struct cam_publisher_opts){
				     .bus = pub, .spans = ring, .interval_ms = 50,
				     .instance_id = "test-instance", .start_time_seconds = 7,
				     .version = "9.9" }, &p),
			 0);
	/* Pub/sub: what goes out before the subscriber is connected is
	 * lost, so the spans go in once a snapshot has come through. */
	{
		Cam__Bus__Envelope *first = next(sub, 5000);

		assert_non_null(first);
		cam_snapshot_unpacked_free(first);
	}
	for (int i = 0; i < 3; i++)
		cam_span_ring_push(ring, &span);
	/* Snapshots keep coming, sequence growing, cumulative; the spans
	 * arrive once, in a batch. */
	for (int i = 0; i < 100 && (seq < 3 || spans_seen < 3); i++) {
		Cam__Bus__Envelope *e = next(sub, 2000);

		assert_non_null(e);
		if (e->body_case == CAM__BUS__ENVELOPE__BODY_SNAPSHOT) {
			const Cam__Bus__Snapshot *s = e->snapshot;
			const Cam__Bus__Family *ev = family(s, "t_events_total");

			assert_true(s->sequence > seq);
			seq = s->sequence;
			assert_string_equal(s->instance_id, "test-instance");
			assert_string_equal(s->version, "9.9");
			assert_int_equal(s->publish_interval_ms, 50);
			assert_true(s->start_time_seconds == 7);
			assert_non_null(ev);
			assert_true(ev->series[0]->value == 3);
			assert_non_null(family(s, "cam_os_bus_snapshots_published_total"));
		} else {
			assert_int_equal(e->body_case, CAM__BUS__ENVELOPE__BODY_SPANS);
			for (size_t k = 0; k < e->spans->n_spans; k++)
				assert_string_equal(e->spans->spans[k]->trace_id, span.trace_id);
			spans_seen += e->spans->n_spans;
		}
		cam_snapshot_unpacked_free(e);
	}
	assert_true(seq >= 3);
	assert_int_equal(spans_seen, 3);
	assert_int_equal(cam_span_ring_pending(ring), 0);
	/* The count is set after the send: the bus can be quicker. */
	for (int i = 0; i < 100 && cam_publisher_sequence(p) < seq; i++)
		usleep(10 * 1000);
	assert_true(cam_publisher_sequence(p) >= seq);
	/* Freed: one last snapshot, after every one before it. */
	last = cam_publisher_sequence(p);
	cam_publisher_free(p);
	seq = 0;
	for (int i = 0; i < 100; i++) {
		Cam__Bus__Envelope *e = next(sub, 300);

		if (!e)
			break;
		if (e->body_case == CAM__BUS__ENVELOPE__BODY_SNAPSHOT)
			seq = e->snapshot->sequence;
		cam_snapshot_unpacked_free(e);
	}
	assert_true(seq > last);
	cam_bus_free(sub);
	cam_bus_free(pub);
	cam_span_ring_free(ring);
	cam_publisher_free(NULL);
	cam_metrics_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshots_and_spans),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
