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
#include "common/snapshot.h"
#include "common/version.h"

static const char *const encoding_labels[] = {"encoding", NULL};
static const char *const encoding_values[][2] = {
	[CAM_SCRAPE_IDENTITY] = {"identity", NULL},
	[CAM_SCRAPE_GZIP] = {"gzip", NULL},
};
static const double scrape_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
					0.025, 0.05, 0.1, 0.25, 0.5, 1};

/* Where each family's series goes in struct cam_selfmetrics. */
enum slot {
	SLOT_RECEIVED,
	SLOT_DECODE_ERRORS,
	SLOT_AGE,
	SLOT_KERNEL_UP,
	SLOT_LAST_SEQUENCE,
	SLOT_CONFLICTS,
	SLOT_LOG_DROPPED,
	SLOT_SCRAPE_DURATION,
	SLOT_SCRAPES,
};

static const struct self_family {
	enum slot slot;
	struct cam_family_desc desc;
} families[] = {
	{SLOT_KERNEL_UP, {.name = "cam_os_kernel_up", .type = CAM_GAUGE,
	  .help = "1 while the exporter holds a fresh kernel snapshot, 0 when "
		  "none came or the latest is older than 3 publish intervals."}},
	{SLOT_RECEIVED, {.name = "cam_os_exporter_snapshots_received_total",
	  .type = CAM_COUNTER,
	  .help = "Valid snapshots received from the kernel over the bus."}},
	{SLOT_DECODE_ERRORS, {.name = "cam_os_exporter_decode_errors_total",
	  .type = CAM_COUNTER,
	  .help = "Bus messages dropped because they were not a valid snapshot."}},
	{SLOT_AGE, {.name = "cam_os_exporter_snapshot_age_seconds",
	  .type = CAM_GAUGE, .unit = "seconds",
	  .help = "Time since the latest kernel snapshot arrived (+Inf before "
		  "the first)."}},
	{SLOT_LAST_SEQUENCE, {.name = "cam_os_exporter_last_snapshot_sequence",
	  .type = CAM_GAUGE,
	  .help = "Sequence number of the latest kernel snapshot."}},
	{SLOT_SCRAPE_DURATION, {.name = "cam_os_exporter_scrape_duration_seconds",
	  .type = CAM_HISTOGRAM, .unit = "seconds", .buckets = scrape_buckets,
	  .nbuckets = sizeof(scrape_buckets) / sizeof(scrape_buckets[0]),
	  .help = "Time to render and compress one /metrics response."}},
	{SLOT_SCRAPES, {.name = "cam_os_exporter_scrapes_total",
	  .type = CAM_COUNTER, .label_names = encoding_labels,
	  .help = "/metrics responses served, by content encoding."}},
	{SLOT_CONFLICTS, {.name = "cam_os_exporter_family_conflicts_total",
	  .type = CAM_COUNTER,
	  .help = "Kernel families left out of a scrape because the exporter "
		  "serves one of the same name."}},
	{SLOT_LOG_DROPPED, {.name = "cam_os_exporter_log_lines_dropped_total",
	  .type = CAM_COUNTER,
	  .help = "Log lines of the exporter dropped because the log ring was "
		  "full."}},
};

#define NFAMILIES (sizeof(families) / sizeof(families[0]))

static cam_series **slot_of(struct cam_selfmetrics *m, enum slot slot)
{
	switch (slot) {
	case SLOT_RECEIVED:
		return &m->received;
	case SLOT_DECODE_ERRORS:
		return &m->decode_errors;
	case SLOT_AGE:
		return &m->age;
	case SLOT_KERNEL_UP:
		return &m->kernel_up;
	case SLOT_LAST_SEQUENCE:
		return &m->last_sequence;
	case SLOT_CONFLICTS:
		return &m->conflicts;
	case SLOT_LOG_DROPPED:
		return &m->log_dropped;
	case SLOT_SCRAPE_DURATION:
		return &m->scrape_duration;
	case SLOT_SCRAPES:
		break;
	}
	return NULL;
}

int cam_selfmetrics_register(struct cam_selfmetrics *m)
{
	cam_family *f;
	const char *why = NULL;
	size_t i, e;
	int rc;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < NFAMILIES; i++) {
		rc = cam_family_register(&families[i].desc, &f, &why);
		if (rc < 0) {
			cam_log(CAM_LOG_ERROR, "exporter",
				"cannot register %s: %s%s%s",
				families[i].desc.name, cam_strerror(rc),
				why ? ": " : "", why ? why : "");
			return rc;
		}
		if (families[i].slot == SLOT_SCRAPES) {
			for (e = 0; e < 2; e++)
				m->scrapes[e] = cam_series_get(f, encoding_values[e]);
			continue;
		}
		*slot_of(m, families[i].slot) = cam_series_get(f, NULL);
	}
	return 0;
}

bool cam_selfmetrics_owns(const char *family)
{
	size_t i;

	for (i = 0; i < NFAMILIES; i++)
		if (strcmp(families[i].desc.name, family) == 0)
			return true;
	/* The span shipper's (traces.c) and the profiler proxy's (pprof.c). */
	return strncmp(family, "cam_os_exporter_spans_", 22) == 0 ||
	       strncmp(family, "cam_os_exporter_pprof_", 22) == 0;
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
