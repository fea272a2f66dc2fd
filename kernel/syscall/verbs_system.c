/*
 * The system verbs: ping (echoes its payload; the benchmark verb) and
 * observe (the kernel's own figures, in the payload grammar).
 */
#include <stdio.h>
#include <time.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/version.h"
#include "kernel/grpc/server.h"
#include "kernel/syscall/service.h"
#include "kernel/syscall/syscall.h"

int cam_verb_ping(struct cam_syscall *sc)
{
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
	return 0;
}

/* Until the priority scheduler exists, the Scheduler component reports the
 * transport's plain worker pool: real figures, not a made-up status. */
static enum cam_component_status pool_probe(void *arg, char *msg, size_t msglen)
{
	struct cam_grpc_server_stats st;

	cam_grpc_server_stats(arg, &st);
	snprintf(msg, msglen,
		 "plain worker pool (priority scheduler not built yet): %llu calls queued, %llu in flight",
		 (unsigned long long)st.queued, (unsigned long long)st.streams);
	return CAM_COMPONENT_HEALTHY;
}

void cam_system_register_probes(cam_grpc_server *s)
{
	cam_component_set_probe("Scheduler", pool_probe, s);
}
