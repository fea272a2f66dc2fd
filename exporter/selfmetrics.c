/*
 * The exporter's families, each described once in the table below, and the
 * glue that mirrors subscriber state into them at scrape time.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/selfmetrics.h"

#include <math.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/metrics_table.h"
#include "common/snapshot.h"
#include "common/version.h"

static const char *const encoding_labels[] = {"encoding", NULL};
static const char *const encoding_values[][2] = {
	[CAM_SCRAPE_IDENTITY] = {"identity", NULL},
	[CAM_SCRAPE_GZIP] = {"gzip", NULL},
};
static const double scrape_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
					0.025, 0.05, 0.1, 0.25, 0.5, 1};

/* The exporter's own families, one table (common/metrics_table.h). */
enum {
	M_KERNEL_UP, M_RECEIVED, M_DECODE_ERRORS, M_AGE, M_LAST_SEQUENCE,
	M_SCRAPE_DURATION, M_SCRAPES, M_CONFLICTS, M_LOG_DROPPED, NFAMILIES
};
static const struct cam_family_desc families[NFAMILIES] = {
	[M_KERNEL_UP] = { .name = "cam_os_kernel_up", .type = CAM_GAUGE,
			  .help = "1 while the exporter holds a fresh kernel snapshot, 0 when "
				  "none came or the latest is older than 3 publish intervals." },
	[M_RECEIVED] = { .name = "cam_os_exporter_snapshots_received_total", .type = CAM_COUNTER,
			 .help = "Valid snapshots received from the kernel over the bus." },
	[M_DECODE_ERRORS] = { .name = "cam_os_exporter_decode_errors_total", .type = CAM_COUNTER,
			      .help = "Bus messages dropped because they were not a valid snapshot." },
	[M_AGE] = { .name = "cam_os_exporter_snapshot_age_seconds", .type = CAM_GAUGE,
		    .unit = "seconds",
		    .help = "Time since the latest kernel snapshot arrived (+Inf before the first)." },
	[M_LAST_SEQUENCE] = { .name = "cam_os_exporter_last_snapshot_sequence", .type = CAM_GAUGE,
			      .help = "Sequence number of the latest kernel snapshot." },
	[M_SCRAPE_DURATION] = { .name = "cam_os_exporter_scrape_duration_seconds",
				.type = CAM_HISTOGRAM, .unit = "seconds",
				.buckets = scrape_buckets,
				.nbuckets = sizeof(scrape_buckets) / sizeof(scrape_buckets[0]),
				.help = "Time to render and compress one /metrics response." },
	[M_SCRAPES] = { .name = "cam_os_exporter_scrapes_total", .type = CAM_COUNTER,
			.label_names = encoding_labels,
			.help = "/metrics responses served, by content encoding." },
	[M_CONFLICTS] = { .name = "cam_os_exporter_family_conflicts_total", .type = CAM_COUNTER,
			  .help = "Kernel families left out of a scrape because the exporter "
				  "serves one of the same name." },
	[M_LOG_DROPPED] = { .name = "cam_os_exporter_log_lines_dropped_total", .type = CAM_COUNTER,
			    .help = "Log lines of the exporter dropped because the log ring was "
				    "full." },
};

int cam_selfmetrics_register(struct cam_selfmetrics *m)
{
	cam_family *f[NFAMILIES];
	char why[160];
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = cam_metrics_table_register(families, NFAMILIES, f, why, sizeof(why)))) {
		cam_log(CAM_LOG_ERROR, "exporter", "%s", why);
		return rc;
	}
	m->kernel_up = cam_series_get(f[M_KERNEL_UP], NULL);
	m->received = cam_series_get(f[M_RECEIVED], NULL);
	m->decode_errors = cam_series_get(f[M_DECODE_ERRORS], NULL);
	m->age = cam_series_get(f[M_AGE], NULL);
	m->last_sequence = cam_series_get(f[M_LAST_SEQUENCE], NULL);
	m->scrape_duration = cam_series_get(f[M_SCRAPE_DURATION], NULL);
	for (size_t e = 0; e < 2; e++)
		m->scrapes[e] = cam_series_get(f[M_SCRAPES], encoding_values[e]);
	m->conflicts = cam_series_get(f[M_CONFLICTS], NULL);
	m->log_dropped = cam_series_get(f[M_LOG_DROPPED], NULL);
	return 0;
}

bool cam_selfmetrics_owns(const char *family)
{
	size_t i;

	for (i = 0; i < NFAMILIES; i++)
		if (strcmp(families[i].name, family) == 0)
			return true;
	/* The span shipper's (traces.c), the profiler proxy's (pprof.c) and
	 * the OTLP pushers' (otlp_push.c). */
	return strncmp(family, "cam_os_exporter_spans_", 22) == 0 ||
	       strncmp(family, "cam_os_exporter_pprof_", 22) == 0 ||
	       strncmp(family, "cam_os_otlp_", 12) == 0;
}

void cam_selfmetrics_update(const struct cam_selfmetrics *m,
			    const struct cam_subscriber_stats *st,
			    enum cam_kernel_state state, double age_s)
{
	cam_gauge_set(m->received, (double)st->received);
	cam_gauge_set(m->decode_errors, (double)st->decode_errors);
	cam_gauge_set(m->kernel_up, state == CAM_KERNEL_FRESH ? 1 : 0);
	cam_gauge_set(m->age, state == CAM_KERNEL_ABSENT ? INFINITY : age_s);
	cam_gauge_set(m->last_sequence, (double)st->last_sequence);
	cam_gauge_set(m->log_dropped, (double)cam_log_dropped());
}

Cam__Bus__Snapshot *cam_selfmetrics_snapshot(size_t *nowned)
{
	struct cam_snapshot_meta meta = {
		.instance_id = "cam-exporter",
		.version = CAM_VERSION,
	};
	Cam__Bus__Snapshot *s = cam_snapshot_build(&meta);
	Cam__Bus__Family *f;
	size_t i, j, n = 0;

	/* A stable partition: owned families slide to the front in order. */
	for (i = 0; i < s->n_families; i++) {
		if (!cam_selfmetrics_owns(s->families[i]->name))
			continue;
		f = s->families[i];
		for (j = i; j > n; j--)
			s->families[j] = s->families[j - 1];
		s->families[n++] = f;
	}
	*nowned = n;
	return s;
}
