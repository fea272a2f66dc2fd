/*
 * Tests of exporter/subscriber.c: garbage, truncated and invalid messages
 * are counted and dropped while the last good snapshot keeps being served;
 * restarts, references that outlive a swap, stale transitions; and the same
 * through a real nng bus on an ipc:// socket in a temporary folder.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/bus.h"
#include "common/error.h"
#include "common/log.h"
#include "exporter/render.h"
#include "exporter/subscriber.h"
#include "tests/exporter/fixture.h"

#define MS 1000000ull
#define S (1000 * MS)

static const char *const verb_label[] = {"verb", NULL};
static const char *const ping[] = {"ping", NULL};

/* A valid snapshot of one counter, packed in an Envelope. */
static uint8_t *good_message(const char *instance, uint64_t seq,
			     uint32_t interval_ms, size_t *len)
{
	Cam__Bus__Snapshot *s = fx_snapshot(instance, seq);
	Cam__Bus__Family *f;
	uint8_t *buf;

	s->publish_interval_ms = interval_ms;
	f = fx_family(s, "cam_os_syscall_total", "Syscalls.",
		      CAM__BUS__METRIC_TYPE__COUNTER, verb_label);
	fx_series(f, ping, (double)seq);
	buf = fx_pack(s, len);
	fx_free(s);
	return buf;
}

static uint64_t latest_sequence(cam_subscriber *sub)
{
	struct cam_sub_snapshot *snap = cam_subscriber_latest(sub);
	uint64_t seq;

	assert_non_null(snap);
	seq = snap->snapshot->sequence;
	cam_sub_snapshot_release(snap);
	return seq;
}

static int quiet_logs(void **state)
{
	(void)state;
	cam_log_set_level(CAM_LOG_ERROR);
	return 0;
}

static void test_good_snapshot_is_latest(void **state)
{
	cam_subscriber *sub = cam_subscriber_new(1000);
	struct cam_subscriber_stats st;
	struct cam_sub_snapshot *snap;
	size_t len;
	uint8_t *msg = good_message("k1", 7, 250, &len);

	(void)state;
	assert_null(cam_subscriber_latest(sub));
	assert_int_equal(cam_subscriber_feed(sub, msg, len, 5 * S), 0);
	snap = cam_subscriber_latest(sub);
	assert_non_null(snap);
	assert_int_equal(snap->snapshot->sequence, 7);
	assert_string_equal(snap->snapshot->instance_id, "k1");
	assert_int_equal(snap->received_ns, 5 * S);
	assert_int_equal(snap->interval_ms, 250);
	assert_int_equal(snap->snapshot->n_families, 1);
	cam_sub_snapshot_release(snap);
	cam_subscriber_stats(sub, &st);
	assert_int_equal(st.received, 1);
	assert_int_equal(st.decode_errors, 0);
	assert_int_equal(st.instances, 1);
	assert_int_equal(st.last_sequence, 7);
	free(msg);
	cam_subscriber_free(sub);
}

static void count_batch(void *arg, Cam__Bus__Envelope *env)
{
	*(size_t *)arg += env->spans->n_spans;
	cam__bus__envelope__free_unpacked(env, NULL);
}

/* A span batch goes to the sink, and never replaces the snapshot. */
static void test_span_batch_to_sink(void **state)
{
	cam_subscriber *sub = cam_subscriber_new(1000);
	Cam__Bus__Envelope env = CAM__BUS__ENVELOPE__INIT;
	Cam__Bus__SpanBatch batch = CAM__BUS__SPAN_BATCH__INIT;
	Cam__Bus__Span span = CAM__BUS__SPAN__INIT, *spans[] = { &span };
	struct cam_subscriber_stats st;
	uint8_t buf[512];
	size_t len, seen = 0;

	(void)state;
	span.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
	span.span_id = "00f067aa0ba902b7";
	span.name = "op";
	batch.n_spans = 1;
	batch.spans = spans;
	env.body_case = CAM__BUS__ENVELOPE__BODY_SPANS;
	env.spans = &batch;
	len = cam__bus__envelope__pack(&env, buf);
	/* No sink (tracing off): taken and dropped. */
	assert_int_equal(cam_subscriber_feed(sub, buf, len, S), 0);
	cam_subscriber_set_span_sink(sub, count_batch, &seen);
	assert_int_equal(cam_subscriber_feed(sub, buf, len, S), 0);
	assert_int_equal(seen, 1);
	assert_null(cam_subscriber_latest(sub));
	/* A bad span id: a decode error, the sink never sees it. */
	span.span_id = "xyz";
	len = cam__bus__envelope__pack(&env, buf);
	assert_int_equal(cam_subscriber_feed(sub, buf, len, S), CAM_EPROTO);
	assert_int_equal(seen, 1);
	cam_subscriber_stats(sub, &st);
	assert_int_equal(st.received, 0);
	assert_int_equal(st.decode_errors, 1);
	cam_subscriber_free(sub);
}

/* Messages that must never replace the latest snapshot. */
static void test_bad_messages_counted_and_ignored(void **state)
{
	cam_subscriber *sub = cam_subscriber_new(1000);
	struct cam_subscriber_stats st;
	Cam__Bus__Snapshot *s;
	Cam__Bus__Family *f;
	uint8_t *good, *bad, *empty;
	size_t len, bad_len, empty_len, n;
	static const char garbage[] = "GET / HTTP/1.1\r\n\r\n\xff\xff\xff";
	Cam__Bus__Envelope env = CAM__BUS__ENVELOPE__INIT;

	(void)state;
	good = good_message("k1", 3, 1000, &len);
	assert_int_equal(cam_subscriber_feed(sub, good, len, S), 0);

	/* garbage */
	assert_int_equal(cam_subscriber_feed(sub, garbage, sizeof(garbage), S),
			 CAM_EPROTO);
	/* every truncation of a good message */
	for (n = 1; n < len; n++)
		assert_int_equal(cam_subscriber_feed(sub, good, n, S),
				 CAM_EPROTO);
	/* well-formed protobuf, nonsense snapshot: a bad metric name */
	s = fx_snapshot("k1", 4);
	f = fx_family(s, "bad name", "", CAM__BUS__METRIC_TYPE__GAUGE, NULL);
	fx_series(f, NULL, 1);
	bad = fx_pack(s, &bad_len);
	fx_free(s);
	assert_int_equal(cam_subscriber_feed(sub, bad, bad_len, S), CAM_EPROTO);
	/* an envelope with no snapshot */
	empty_len = cam__bus__envelope__get_packed_size(&env);
	empty = malloc(empty_len + 1);
	assert_non_null(empty);
	cam__bus__envelope__pack(&env, empty);
	assert_int_equal(cam_subscriber_feed(sub, empty, empty_len, S),
			 CAM_EPROTO);

	cam_subscriber_stats(sub, &st);
	assert_int_equal(st.received, 1);
	assert_int_equal(st.decode_errors, 1 + (len - 1) + 1 + 1);
	assert_int_equal(st.last_sequence, 3);
	assert_int_equal(latest_sequence(sub), 3);

	/* a good one after all that is taken */
	free(good);
	good = good_message("k1", 4, 1000, &len);
	assert_int_equal(cam_subscriber_feed(sub, good, len, 2 * S), 0);
	assert_int_equal(latest_sequence(sub), 4);
	free(good);
	free(bad);
	free(empty);
	cam_subscriber_free(sub);
}

/* A new instance id (kernel restart) is taken even with a lower sequence. */
static void test_restart_taken(void **state)
{
	cam_subscriber *sub = cam_subscriber_new(1000);
	struct cam_subscriber_stats st;
	size_t len;
	uint8_t *a = good_message("k1", 500, 1000, &len);
	uint8_t *b;
	struct cam_sub_snapshot *snap;

	(void)state;
	assert_int_equal(cam_subscriber_feed(sub, a, len, S), 0);
	free(a);
	b = good_message("k2", 1, 1000, &len);
	assert_int_equal(cam_subscriber_feed(sub, b, len, 2 * S), 0);
	free(b);
	snap = cam_subscriber_latest(sub);
	assert_string_equal(snap->snapshot->instance_id, "k2");
	assert_int_equal(snap->snapshot->sequence, 1);
	cam_sub_snapshot_release(snap);
	cam_subscriber_stats(sub, &st);
	assert_int_equal(st.instances, 2);
	assert_int_equal(st.received, 2);
	cam_subscriber_free(sub);
}

/* A scrape's reference stays valid across a swap and the subscriber's end. */
static void test_reference_outlives_swap(void **state)
{
	cam_subscriber *sub = cam_subscriber_new(1000);
	struct cam_sub_snapshot *held;
	size_t alen, blen;
	uint8_t *a = good_message("k1", 1, 1000, &alen);
	uint8_t *b = good_message("k1", 2, 1000, &blen);

	(void)state;
	assert_int_equal(cam_subscriber_feed(sub, a, alen, S), 0);
	held = cam_subscriber_latest(sub);
	assert_int_equal(cam_subscriber_feed(sub, b, blen, S), 0);
	assert_int_equal(latest_sequence(sub), 2);
	assert_int_equal(held->snapshot->sequence, 1);
	assert_string_equal(held->snapshot->families[0]->name,
			    "cam_os_syscall_total");
	cam_subscriber_free(sub);
	assert_int_equal(held->snapshot->families[0]->series[0]->value, 1);
	cam_sub_snapshot_release(held);
	cam_sub_snapshot_release(NULL);
	free(a);
	free(b);
}

/* tick judges the latest snapshot by the interval it carries. */
static void test_tick_goes_stale_and_back(void **state)
{
	cam_subscriber *sub = cam_subscriber_new(5000);
	struct cam_sub_snapshot *snap;
	size_t alen, blen;
	uint8_t *a = good_message("k1", 1, 200, &alen);
	uint8_t *b = good_message("k1", 2, 0, &blen);

	(void)state;
	assert_int_equal(cam_subscriber_tick(sub, S), CAM_KERNEL_ABSENT);
	assert_int_equal(cam_subscriber_feed(sub, a, alen, 10 * S), 0);
	assert_int_equal(cam_subscriber_tick(sub, 10 * S + 600 * MS),
			 CAM_KERNEL_FRESH);
	assert_int_equal(cam_subscriber_tick(sub, 10 * S + 601 * MS),
			 CAM_KERNEL_STALE);
	snap = cam_subscriber_latest(sub);
	assert_int_equal(cam_sub_snapshot_state(snap, 11 * S), CAM_KERNEL_STALE);
	cam_sub_snapshot_release(snap);
	/* No interval in the snapshot: the configured 5000 ms apply. */
	assert_int_equal(cam_subscriber_feed(sub, b, blen, 20 * S), 0);
	assert_int_equal(cam_subscriber_tick(sub, 34 * S), CAM_KERNEL_FRESH);
	assert_int_equal(cam_subscriber_tick(sub, 36 * S), CAM_KERNEL_STALE);
	assert_int_equal(cam_sub_snapshot_state(NULL, S), CAM_KERNEL_ABSENT);
	free(a);
	free(b);
	cam_subscriber_free(sub);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/*
 * Publishes msg until the subscriber has counted `want` more of
 * received + decode_errors (a pub socket drops what it sends before the
 * dialer connects); false after about 5 s.
 */
static bool publish_until_counted(cam_bus *pub, cam_subscriber *sub,
				  const void *msg, size_t len, bool good)
{
	struct cam_subscriber_stats before, now;
	int i;

	cam_subscriber_stats(sub, &before);
	for (i = 0; i < 250; i++) {
		assert_int_equal(cam_bus_send(pub, msg, len), 0);
		sleep_ms(20);
		cam_subscriber_stats(sub, &now);
		if (good ? now.received > before.received
			 : now.decode_errors > before.decode_errors)
			return true;
	}
	return false;
}

static void test_real_bus(void **state)
{
	char dir[] = "/tmp/cam-test-subscriber-XXXXXX";
	char addr[128], path[160];
	cam_subscriber *sub = cam_subscriber_new(1000);
	cam_bus *pub = NULL;
	struct cam_subscriber_stats st;
	static const char garbage[] = "\x0a\xff\xff\xff\xff\x0f not protobuf";
	size_t len;
	uint8_t *good = good_message("k1", 42, 1000, &len);

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(addr, sizeof(addr), "ipc://%s/bus.ipc", dir);
	/* The exporter may start first. */
	assert_int_equal(cam_subscriber_start(sub, addr), 0);
	assert_int_equal(cam_subscriber_start(sub, addr), CAM_EEXIST);
	assert_int_equal(cam_bus_pub_new(addr, &pub), 0);

	assert_true(publish_until_counted(pub, sub, good, len, true));
	assert_int_equal(latest_sequence(sub), 42);
	assert_true(publish_until_counted(pub, sub, garbage, sizeof(garbage),
					  false));
	assert_true(publish_until_counted(pub, sub, good, len / 2, false));
	assert_int_equal(latest_sequence(sub), 42);
	assert_int_equal(cam_subscriber_tick(sub, cam_staleness_now_ns()),
			 CAM_KERNEL_FRESH);
	cam_subscriber_stats(sub, &st);
	assert_true(st.decode_errors >= 2);
	assert_int_equal(st.last_sequence, 42);

	cam_subscriber_stop(sub);
	cam_subscriber_stop(sub);
	cam_subscriber_free(sub);
	cam_bus_free(pub);
	free(good);
	snprintf(path, sizeof(path), "%s/bus.ipc", dir);
	unlink(path);
	rmdir(dir);
}

static void render_latest(cam_subscriber *sub)
{
	struct cam_sub_snapshot *snap = cam_subscriber_latest(sub);
	const Cam__Bus__Snapshot *snaps[1];
	struct cam_render_buf b;

	assert_non_null(snap);
	snaps[0] = snap->snapshot;
	cam_render_buf_init(&b, 0);
	cam_render(&b, CAM_RENDER_TEXT, snaps, 1, NULL);
	cam_render(&b, CAM_RENDER_OPENMETRICS, snaps, 1, NULL);
	cam_render_buf_free(&b);
	cam_sub_snapshot_release(snap);
}

/*
 * Random bytes and bit flips of a good message: never a crash (run it under
 * ASan), every message either taken or counted, and whatever is taken
 * renders in both formats.
 */
static void test_mutations_never_break(void **state)
{
	cam_subscriber *sub = cam_subscriber_new(1000);
	struct cam_subscriber_stats st;
	struct cam_sub_snapshot *snap;
	unsigned seed = 12345;
	size_t len, i, j;
	uint8_t *good = good_message("k1", 1, 1000, &len);
	uint8_t *buf = malloc(len);
	uint8_t noise[256];

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < 2000; i++) {
		memcpy(buf, good, len);
		for (j = 0; j < 1 + i % 4; j++)
			buf[rand_r(&seed) % len] ^= (uint8_t)(1u << (rand_r(&seed) % 8));
		if (cam_subscriber_feed(sub, buf, len, S) == 0)
			render_latest(sub);
		for (j = 0; j < sizeof(noise); j++)
			noise[j] = (uint8_t)rand_r(&seed);
		cam_subscriber_feed(sub, noise, 1 + i % sizeof(noise), S);
	}
	cam_subscriber_stats(sub, &st);
	assert_int_equal(st.received + st.decode_errors, 4000);
	assert_true(st.decode_errors > 2000);
	snap = cam_subscriber_latest(sub);
	if (snap) {
		for (i = 0; i < snap->snapshot->n_families; i++)
			assert_non_null(snap->snapshot->families[i]->name);
		cam_sub_snapshot_release(snap);
	}
	free(buf);
	free(good);
	cam_subscriber_free(sub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_snapshot_is_latest),
		cmocka_unit_test(test_bad_messages_counted_and_ignored),
		cmocka_unit_test(test_span_batch_to_sink),
		cmocka_unit_test(test_restart_taken),
		cmocka_unit_test(test_reference_outlives_swap),
		cmocka_unit_test(test_tick_goes_stale_and_back),
		cmocka_unit_test(test_mutations_never_break),
		cmocka_unit_test(test_real_bus),
	};

	return cmocka_run_group_tests(tests, quiet_logs, NULL);
}
