/*
 * Benchmark of the exporter's renderer: a 10k-series snapshot (the shape
 * metrics_publisher makes: nine counters to one histogram, here with native
 * buckets too) rendered in each format, plain and gzipped, as the
 * exporter's cache renders each once per snapshot.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/metrics.h"
#include "common/snapshot.h"
#include "exporter/gzip.h"
#include "exporter/render.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	static const char *const labels[] = { "verb", "code", NULL };
	struct cam_snapshot_meta meta = { .instance_id = "bench" };
	const Cam__Bus__Snapshot *snaps[1];
	Cam__Bus__Snapshot *s;
	cam_family *c, *h;

	cam_metrics_set_limits(20000, 30000);
	cam_family_register(&(struct cam_family_desc){ .name = "bench_requests_total",
						       .help = "Benchmark counter.",
						       .type = CAM_COUNTER,
						       .label_names = labels,
						       .max_series = 20000 },
			    &c, NULL);
	cam_family_register_native(&(struct cam_family_desc){ .name = "bench_latency_seconds",
							      .help = "Benchmark histogram.",
							      .type = CAM_HISTOGRAM,
							      .label_names = labels,
							      .max_series = 20000 },
				   &cam_native_defaults, &h, NULL);
	for (int i = 0; i < 10000; i++) {
		char a[32], b[32];
		snprintf(a, sizeof(a), "verb_%d", i % 100);
		snprintf(b, sizeof(b), "code_%d", i / 100);
		if (i % 10 == 9)
			for (int k = 0; k < 20; k++) /* about 20 native buckets each */
				cam_histogram_observe(cam_series_get(h, (const char *[]){ a, b }),
						      (i + 1) * 1e-6 * (1 << (k % 10)) * (1 + k / 10));
		else
			cam_counter_add(cam_series_get(c, (const char *[]){ a, b }), i);
	}
	s = cam_snapshot_build(&meta);
	snaps[0] = s;
	for (int fmt = 0; fmt < CAM_RENDER_FORMATS; fmt++) {
		static const char *const names[] = { "Prometheus text", "OpenMetrics", "protobuf" };
		static const char *const targets[] = { "<= 10 ms", "<= 10 ms", "<= 5 ms" };
		double best = 1e9, best_gz = 1e9;
		size_t len = 0, gz_len = 0;

		for (int r = 0; r < 30; r++) {
			struct cam_render_buf b;
			double t0 = now();

			cam_render_buf_init(&b, 0);
			cam_render(&b, (enum cam_render_format)fmt, snaps, 1, NULL);
			if (now() - t0 < best)
				best = now() - t0;
			len = b.len;
			if (r < 5) {
				void *gz;
				t0 = now();
				if (cam_gzip(b.data, b.len, &gz, &gz_len) == 0) {
					if (now() - t0 < best_gz)
						best_gz = now() - t0;
					free(gz);
				}
			}
			cam_render_buf_free(&b);
		}
		printf("render 10k series, %-29s %10.2f ms  (target %s; %zu bytes)\n", names[fmt],
		       best * 1e3, targets[fmt], len);
		printf("  then gzip it %-33s %10.2f ms  (%zu bytes)\n", "", best_gz * 1e3, gz_len);
	}
	cam_snapshot_free(s);
	return 0;
}
