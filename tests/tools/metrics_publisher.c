/*
 * A stand-in kernel for benchmarks: registers N series (nine counters to
 * one histogram), keeps updating them from two threads and publishes
 * snapshots on the bus like cam-kernel does.
 *
 * usage: metrics_publisher BUS_ADDR SERIES INTERVAL_MS
 * Runs until SIGTERM/SIGINT.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/bus.h"
#include "common/log.h"
#include "common/metrics.h"
#include "kernel/publisher.h"

static volatile sig_atomic_t stopping;

struct work {
	cam_series **series;
	int n;
};

static void *updater(void *arg)
{
	struct work *w = arg;

	for (unsigned long i = 0; !stopping; i++) {
		cam_series *s = w->series[i % (unsigned long)w->n];
		if (i % 10 == 9)
			cam_histogram_observe(s, (double)(i % 1000) * 1e-4);
		else
			cam_counter_inc(s);
		if (i % 100000 == 0) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

int main(int argc, char **argv)
{
	static const char *const labels[] = { "verb", "code", NULL };
	cam_family *c, *h;
	cam_bus *bus;
	cam_publisher *pub;
	struct work w;
	pthread_t t[2];
	int n;

	if (argc != 4) {
		fprintf(stderr, "usage: %s BUS_ADDR SERIES INTERVAL_MS\n", argv[0]);
		return 2;
	}
	n = atoi(argv[2]);
	cam_metrics_set_limits((size_t)n + 100, (size_t)n + 1000);
	cam_family_register(&(struct cam_family_desc){ .name = "bench_requests_total",
						       .help = "Benchmark counter.",
						       .type = CAM_COUNTER,
						       .label_names = labels,
						       .max_series = (size_t)n },
			    &c, NULL);
	cam_family_register(&(struct cam_family_desc){ .name = "bench_latency_seconds",
						       .help = "Benchmark histogram.",
						       .type = CAM_HISTOGRAM,
						       .label_names = labels,
						       .max_series = (size_t)n },
			    &h, NULL);
	w.n = n;
	w.series = calloc((size_t)n, sizeof(cam_series *));
	for (int i = 0; i < n; i++) {
		char a[32], b[32];
		snprintf(a, sizeof(a), "verb_%d", i % 100);
		snprintf(b, sizeof(b), "code_%d", i / 100);
		w.series[i] = cam_series_get(i % 10 == 9 ? h : c, (const char *[]){ a, b });
	}
	if (cam_bus_pub_new(argv[1], &bus))
		return 1;
	if (cam_publisher_new(&(struct cam_publisher_opts){ .bus = bus,
							    .interval_ms = (uint32_t)atoi(argv[3]),
							    .instance_id = "bench",
							    .start_time_seconds = 0,
							    .version = "bench" },
			      &pub))
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	pthread_create(&t[0], NULL, updater, &w);
	pthread_create(&t[1], NULL, updater, &w);
	fprintf(stderr, "publishing %d series on %s\n", n, argv[1]);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	cam_publisher_free(pub);
	cam_bus_free(bus);
	free(w.series);
	return 0;
}
