/*
 * Benchmarks of the metrics core: the hot-path costs and the cost of
 * collecting and packing a snapshot of 10k series. Prints one line per
 * figure with its target; `make bench` runs it. Native buckets are measured
 * beside classic ones in the same run, on the same spread of values.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/metrics.h"
#include "common/snapshot.h"

/* Calls per figure; CAM_BENCH_ITERS lowers it for a run under callgrind
 * (instructions per call, which the machine's load does not move). */
static long ITERS = 50000000L;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, double value, const char *unit,
		   const char *target)
{
	printf("%-48s %10.2f %-3s (target %s)\n", what, value, unit, target);
}

struct job {
	cam_series *s;
	long iters;
	double ns;
	pthread_barrier_t *start;
};

static void *counter_worker(void *arg)
{
	struct job *j = arg;
	double t0;

	cam_counter_inc(j->s); /* first touch allocates; not measured */
	if (j->start)
		pthread_barrier_wait(j->start);
	t0 = now();
	for (long i = 0; i < j->iters; i++)
		cam_counter_inc(j->s);
	j->ns = (now() - t0) * 1e9 / (double)j->iters;
	return NULL;
}

/* Observes 10 us .. 10 ms in steps, as the classic figure always did. */
static void *histogram_worker(void *arg)
{
	struct job *j = arg;
	double t0;

	cam_histogram_observe(j->s, 0.001); /* first touch allocates; not measured */
	if (j->start)
		pthread_barrier_wait(j->start);
	t0 = now();
	for (long i = 0; i < j->iters; i++)
		cam_histogram_observe(j->s, (double)(i & 1023) * 1e-5 + 1e-5);
	j->ns = (now() - t0) * 1e9 / (double)j->iters;
	return NULL;
}

static double run_threads(void *(*fn)(void *), cam_series *s, int threads)
{
	pthread_t t[8];
	struct job j[8];
	pthread_barrier_t b;
	double worst = 0;

	pthread_barrier_init(&b, NULL, (unsigned)threads);
	for (int i = 0; i < threads; i++) {
		j[i] = (struct job){ s, ITERS, 0, &b };
		pthread_create(&t[i], NULL, fn, &j[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		if (j[i].ns > worst)
			worst = j[i].ns;
	}
	pthread_barrier_destroy(&b);
	return worst;
}

static void noop_series(void *arg, const struct cam_family_info *i,
			const struct cam_series_value *v)
{
	(void)i;
	(void)v;
	(*(size_t *)arg)++;
}

static void bench_snapshot_10k(void)
{
	static const char *const labels[] = { "verb", "code", NULL };
	cam_family *c, *h;
	char a[32], b[32];
	size_t n = 0;
	double t0, best_collect = 1e9, best_build = 1e9;
	struct cam_metrics_visitor v = { NULL, noop_series, &n };
	struct cam_snapshot_meta meta = { .instance_id = "bench" };

	cam_metrics_set_limits(20000, 30000);
	cam_family_register(&(struct cam_family_desc){ .name = "bench_total",
						       .type = CAM_COUNTER,
						       .label_names = labels,
						       .max_series = 20000 },
			    &c, NULL);
	cam_family_register(&(struct cam_family_desc){ .name = "bench_seconds",
						       .type = CAM_HISTOGRAM,
						       .label_names = labels,
						       .max_series = 20000 },
			    &h, NULL);
	/* 9000 counters and 1000 histograms: 10k series. */
	for (int i = 0; i < 10000; i++) {
		snprintf(a, sizeof(a), "v%d", i % 100);
		snprintf(b, sizeof(b), "c%d", i / 100);
		if (i < 9000)
			cam_counter_inc(cam_series_get(c, (const char *[]){ a, b }));
		else
			cam_histogram_observe(cam_series_get(h, (const char *[]){ a, b }), 0.01);
	}
	for (int r = 0; r < 20; r++) {
		Cam__Bus__Snapshot *s;
		uint8_t *buf;
		size_t len;

		t0 = now();
		cam_metrics_collect(&v);
		if (now() - t0 < best_collect)
			best_collect = now() - t0;
		t0 = now();
		s = cam_snapshot_build(&meta);
		cam_snapshot_pack(s, &buf, &len);
		if (now() - t0 < best_build)
			best_build = now() - t0;
		if (r == 0)
			printf("snapshot of %zu series packs to %zu bytes\n",
			       cam_metrics_series_count(), len);
		cam_snapshot_free(s);
		free(buf);
	}
	report("aggregate 10k series (sum all shards)", best_collect * 1e3, "ms", "<= 5 ms");
	report("build + pack 10k-series snapshot", best_build * 1e3, "ms", "(no target)");
}

static double counter_ns(cam_series *s, int threads)
{
	return run_threads(counter_worker, s, threads);
}

/* Classic alone against classic + native, side by side in one run. */
static void bench_native(cam_series *classic)
{
	cam_family *n;
	cam_series *ns;
	double c1, n1, n2;

	cam_family_register_native(&(struct cam_family_desc){ .name = "bench_native_seconds",
							      .type = CAM_HISTOGRAM },
				   &cam_native_defaults, &n, NULL);
	ns = cam_series_get(n, NULL);
	c1 = run_threads(histogram_worker, classic, 1);
	n1 = run_threads(histogram_worker, ns, 1);
	n2 = run_threads(histogram_worker, ns, 2);
	report("histogram observe, classic, 1 thread", c1, "ns", "(3.3 ns before)");
	report("histogram observe, classic+native, 1 thread", n1, "ns", "<= 10 ns");
	report("histogram observe, classic+native, 2 threads", n2, "ns", "<= 1.5x one thread");
	printf("%-48s %10.2f x\n", "  ratio native / classic", n1 / c1);
	printf("%-48s %10.2f x\n", "  ratio two threads / one thread", n2 / n1);
}

int main(void)
{
	cam_family *f, *h;
	cam_series *s, *hs;
	double t0, one, two;
	const char *iters = getenv("CAM_BENCH_ITERS");

	if (iters && atol(iters) > 0)
		ITERS = atol(iters);

	cam_family_register(&(struct cam_family_desc){ .name = "bench_counter_total",
						       .type = CAM_COUNTER },
			    &f, NULL);
	cam_family_register(&(struct cam_family_desc){ .name = "bench_latency_seconds",
						       .type = CAM_HISTOGRAM },
			    &h, NULL);
	s = cam_series_get(f, NULL);
	hs = cam_series_get(h, NULL);

	one = counter_ns(s, 1);
	report("counter increment, 1 thread", one, "ns", "<= 5 ns");

	cam_histogram_observe(hs, 0.001);
	t0 = now();
	for (long i = 0; i < ITERS; i++)
		cam_histogram_observe(hs, (double)(i & 1023) * 1e-5);
	report("histogram observe, 1 thread", (now() - t0) * 1e9 / ITERS, "ns", "<= 20 ns");

	two = counter_ns(s, 2);
	report("counter increment, 2 threads on one series", two, "ns", "<= 1.5x one thread");
	printf("%-48s %10.2f x\n", "  ratio two threads / one thread", two / one);

	bench_native(hs);
	bench_snapshot_10k();
	return 0;
}
