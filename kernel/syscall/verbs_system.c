/*
 * The system verbs: ping (echoes its payload; the benchmark verb) and
 * observe (the kernel's own figures, in the payload grammar); and the
 * Scheduler component's health probe.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/version.h"
#include "kernel/grpc/server.h"
#include "kernel/scheduler/scheduler.h"
#include "kernel/syscall/service.h"
#include "kernel/syscall/syscall.h"

/* ping's delay_ms: simulated work (0-1000 ms) so tests and benchmarks can
 * keep workers busy; an interrupted sleep just ends early. */
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
		return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT,
					"delay_ms must be a whole number 0-1000");
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	return 0;
}

int cam_verb_ping(struct cam_syscall *sc)
{
	int status = ping_delay(sc);

	if (status)
		return status;
	/* Echo pair by pair: the result re-joins exactly what was parsed. */
	for (size_t i = 0; i < sc->payload->n; i++)
		cam_result_add(&sc->result, sc->payload->pairs[i].key,
			       sc->payload->pairs[i].value);
	if (sc->payload->n == 0)
		cam_result_add(&sc->result, "pong", "true");
	return 0;
}

int cam_verb_observe(struct cam_syscall *sc)
{
	const struct cam_syscall_env *env = cam_syscall_env();
	struct cam_grpc_server_stats st = { 0 };
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (env->server)
		cam_grpc_server_stats(env->server, &st);
	cam_result_add(&sc->result, "version", CAM_VERSION);
	cam_result_add(&sc->result, "instance_id", env->instance_id);
	cam_result_addf(&sc->result, "uptime_seconds", "%.3f",
			(double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - env->start_time);
	cam_result_addf(&sc->result, "connections", "%llu", (unsigned long long)st.connections);
	cam_result_addf(&sc->result, "streams_in_flight", "%llu", (unsigned long long)st.streams);
	cam_result_addf(&sc->result, "calls_total", "%llu", (unsigned long long)st.calls_total);
	cam_result_addf(&sc->result, "calls_queued", "%llu", (unsigned long long)st.queued);
	cam_result_addf(&sc->result, "metric_series", "%zu", cam_metrics_series_count());
	cam_result_addf(&sc->result, "log_lines_dropped", "%llu",
			(unsigned long long)cam_log_dropped());
	cam_result_addf(&sc->result, "snapshots_published", "%llu",
			(unsigned long long)(env->publisher ? cam_publisher_sequence(env->publisher) : 0));
	if (env->scheduler) {
		struct cam_sched_stats x;

		cam_sched_get_stats(env->scheduler, &x);
		for (int c = 0; c < CAM_SCHED_NCLASSES; c++) {
			char key[32];

			snprintf(key, sizeof(key), "queue_%s", cam_sched_class_name((unsigned)c));
			cam_result_addf(&sc->result, key, "%lu", x.queued[c]);
		}
		cam_result_addf(&sc->result, "workers", "%u", x.workers);
		cam_result_addf(&sc->result, "busy_workers", "%u", x.busy);
		cam_result_addf(&sc->result, "rejected_queue_full", "%llu",
				(unsigned long long)x.rejected_full);
		cam_result_addf(&sc->result, "rejected_deadline", "%llu",
				(unsigned long long)x.rejected_deadline);
	}
	return 0;
}

/* The Scheduler component: degraded above 80 % queue fill, unhealthy when
 * work is queued and nothing was dequeued for the stall time. Without the
 * scheduler (tests), the transport's plain pool, reported as it is. */
static enum cam_component_status sched_probe(void *arg, char *msg, size_t msglen)
{
	(void)arg;
	switch (cam_sched_health(cam_syscall_env()->scheduler, msg, msglen)) {
	case CAM_SCHED_OK:
		return CAM_COMPONENT_HEALTHY;
	case CAM_SCHED_DEGRADED:
		return CAM_COMPONENT_DEGRADED;
	default:
		return CAM_COMPONENT_UNHEALTHY;
	}
}

static enum cam_component_status pool_probe(void *arg, char *msg, size_t msglen)
{
	struct cam_grpc_server_stats st;

	cam_grpc_server_stats(arg, &st);
	snprintf(msg, msglen, "plain FIFO worker pool: %llu calls queued, %llu in flight",
		 (unsigned long long)st.queued, (unsigned long long)st.streams);
	return CAM_COMPONENT_HEALTHY;
}

void cam_system_register_probes(cam_grpc_server *s)
{
	if (cam_syscall_env()->scheduler)
		cam_component_set_probe("Scheduler", sched_probe, NULL);
	else
		cam_component_set_probe("Scheduler", pool_probe, s);
}
