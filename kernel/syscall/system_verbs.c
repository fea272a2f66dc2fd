/*
 * ping and observe (system_verbs.h).
 *
 *   ping     any keys -> the same pairs back ("pong:true" for none);
 *            delay_ms:N (0-1000) sleeps first, so tests and benchmarks
 *            can keep workers busy
 *   observe  -> version, instance_id, uptime, transport, metrics, logger,
 *            publisher and scheduler figures
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/system_verbs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/version.h"
#include "common/xmalloc.h"
#include "kernel/security/auth.h"

struct cam_system_verbs {
	struct cam_system_verbs_opts o;
	char instance_id[64];
};

/* ping's delay_ms: simulated work (0-1000 ms); an interrupted sleep just
 * ends early. */
static int ping_delay(struct cam_syscall *sc)
{
	const char *v = cam_payload_get(sc->payload, "delay_ms");
	struct timespec ts;
	char *end;
	long ms;

	if (!v)
		return 0;
	ms = strtol(v, &end, 10);
	if (!*v || *end || ms < 0 || ms > 1000)
		return cam_syscall_fail(sc, CAM_EINVAL, "delay_ms must be a whole number 0-1000");
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	return 0;
}

static int ping(void *ctx, struct cam_syscall *sc)
{
	int rc = ping_delay(sc);

	(void)ctx;
	if (rc)
		return rc;
	/* Echo pair by pair: the result re-joins exactly what was parsed. */
	for (size_t i = 0; i < sc->payload->n; i++)
		cam_result_add(&sc->result, sc->payload->pairs[i].key, sc->payload->pairs[i].value);
	if (sc->payload->n == 0)
		cam_result_add(&sc->result, "pong", "true");
	return 0;
}

static void add_sched_figures(cam_sched *s, struct cam_result *r)
{
	struct cam_sched_stats x;

	cam_sched_get_stats(s, &x);
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++) {
		char key[32];

		snprintf(key, sizeof(key), "queue_%s", cam_sched_class_name((unsigned)c));
		cam_result_addf(r, key, "%lu", x.queued[c]);
		/* Fair share: how many callers hold calls in the class, and
		 * the most any one of them holds. */
		snprintf(key, sizeof(key), "callers_%s", cam_sched_class_name((unsigned)c));
		cam_result_addf(r, key, "%u", x.callers[c]);
		snprintf(key, sizeof(key), "caller_most_%s", cam_sched_class_name((unsigned)c));
		cam_result_addf(r, key, "%u", x.caller_most[c]);
	}
	cam_result_addf(r, "workers", "%u", x.workers);
	cam_result_addf(r, "busy_workers", "%u", x.busy);
	cam_result_addf(r, "rejected_queue_full", "%llu", (unsigned long long)x.rejected_full);
	cam_result_addf(r, "rejected_deadline", "%llu", (unsigned long long)x.rejected_deadline);
	cam_result_addf(r, "rejected_caller_limit", "%llu",
			(unsigned long long)x.rejected_caller);
	cam_result_addf(r, "ran_inline", "%llu", (unsigned long long)x.ran_inline);
}

static int observe(void *ctx, struct cam_syscall *sc)
{
	cam_system_verbs *v = ctx;
	struct cam_grpc_server_stats st = { 0 };
	struct cam_result *r = &sc->result;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (v->o.server)
		cam_grpc_server_stats(v->o.server, &st);
	cam_result_add(r, "version", CAM_VERSION);
	cam_result_add(r, "instance_id", v->instance_id);
	cam_result_addf(r, "uptime_seconds", "%.3f",
			(double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - v->o.start_time);
	cam_result_addf(r, "connections", "%llu", (unsigned long long)st.connections);
	cam_result_addf(r, "streams_in_flight", "%llu", (unsigned long long)st.streams);
	cam_result_addf(r, "calls_total", "%llu", (unsigned long long)st.calls_total);
	cam_result_addf(r, "calls_queued", "%llu", (unsigned long long)st.queued);
	cam_result_addf(r, "metric_series", "%zu", cam_metrics_series_count());
	cam_result_addf(r, "log_lines_dropped", "%llu", (unsigned long long)cam_log_dropped());
	cam_result_addf(r, "snapshots_published", "%llu",
			(unsigned long long)(v->o.publisher ? cam_publisher_sequence(v->o.publisher)
							    : 0));
	if (v->o.sched)
		add_sched_figures(v->o.sched, r);
	return 0;
}

static const char *const K_NONE[] = { NULL };

static const struct cam_verb rows[] = {
	/* delay_ms sleeps: ping may block, though without it it never does. */
	/* Runs inline unless delay_ms asks it to sleep. */
	{ .name = "ping", .fn = ping, .keys = NULL, .scope = CAM_SCOPE_READ,
	  .blocks_with = "delay_ms" },
	{ .name = "observe", .fn = observe, .keys = K_NONE, .scope = CAM_SCOPE_READ },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

int cam_system_verbs_new(const struct cam_system_verbs_opts *o, cam_system_verbs **out)
{
	cam_system_verbs *v = cam_xcalloc(1, sizeof(*v));
	int rc;

	v->o = *o;
	snprintf(v->instance_id, sizeof(v->instance_id), "%s", o->instance_id ? o->instance_id : "");
	if ((rc = cam_verbs_add(o->verbs, "system", rows, NROWS, v))) {
		free(v);
		return rc;
	}
	*out = v;
	return 0;
}

void cam_system_verbs_free(cam_system_verbs *v)
{
	if (!v)
		return;
	cam_verbs_remove(v->o.verbs, rows, NROWS);
	free(v);
}
