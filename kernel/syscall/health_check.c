/*
 * cam.SyscallService/HealthCheck and the component probes behind it.
 *
 * Basic: serving status, version, uptime. Detailed adds the seed's four
 * components, each from the probe its subsystem registered; a component
 * with no probe is "disabled" (not configured or not built), never a
 * made-up "healthy". The same probes feed cam_os_component_up{component}
 * and cam_os_component_status{component,status} before every snapshot.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/service.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/version.h"
#include "kernel/grpc/server.h"
#include "proto/cam.pb-c.h"

#define NCOMPONENTS 4

static const char *const status_names[] = { "healthy", "degraded", "unhealthy",
					     "disabled" };

struct component {
	const char *name;
	const char *disabled_why; /* what "disabled" means until a probe exists */
	cam_component_probe fn;
	void *arg;
	cam_series *up;
	cam_series *status[4];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct component components[NCOMPONENTS] = {
	{ "Redis Backend", "memory context subsystem not built yet: no Redis in use", NULL, NULL, NULL, { 0 } },
	{ "TPM Security", "TPM support not built yet (CAM_TPM_TCTI is not read)", NULL, NULL, NULL, { 0 } },
	{ "Driver Runtime", "driver runtime not built yet: no drivers loaded", NULL, NULL, NULL, { 0 } },
	{ "Scheduler", "no scheduler registered", NULL, NULL, NULL, { 0 } },
};

void cam_component_set_probe(const char *name, cam_component_probe fn, void *arg)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < NCOMPONENTS; i++)
		if (strcmp(components[i].name, name) == 0) {
			components[i].fn = fn;
			components[i].arg = arg;
		}
	pthread_mutex_unlock(&lock);
}

/* Runs one probe; returns its status, message and latency. */
static enum cam_component_status probe(size_t i, char *msg, size_t msglen,
				       double *latency_ms)
{
	cam_component_probe fn;
	void *arg;
	enum cam_component_status st;
	double t0 = ((double)cam_mono_ns() / 1e6);

	pthread_mutex_lock(&lock);
	fn = components[i].fn;
	arg = components[i].arg;
	pthread_mutex_unlock(&lock);
	if (!fn) {
		snprintf(msg, msglen, "%s", components[i].disabled_why);
		st = CAM_COMPONENT_DISABLED;
	} else {
		msg[0] = '\0';
		st = fn(arg, msg, msglen);
	}
	*latency_ms = ((double)cam_mono_ns() / 1e6) - t0;
	return st;
}

static void collect_components(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < NCOMPONENTS; i++) {
		char msg[256];
		double ms;
		enum cam_component_status st = probe(i, msg, sizeof(msg), &ms);

		cam_gauge_set(components[i].up,
			      st == CAM_COMPONENT_HEALTHY || st == CAM_COMPONENT_DEGRADED);
		for (size_t s = 0; s < 4; s++)
			cam_gauge_set(components[i].status[s], s == (size_t)st);
	}
}

static void reply_health(struct cam_grpc_call *call, bool detailed)
{
	const struct cam_syscall_env *env = cam_syscall_env();
	Cam__HealthCheckResponse resp = CAM__HEALTH_CHECK_RESPONSE__INIT;
	Cam__ComponentHealth comp[NCOMPONENTS], *compp[NCOMPONENTS];
	char msgs[NCOMPONENTS][256];
	struct timespec ts;
	uint8_t *buf;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	resp.status = "SERVING";
	resp.version = CAM_VERSION;
	resp.uptime_seconds = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - env->start_time;
	resp.instance_id = (char *)env->instance_id;
	if (detailed) {
		for (size_t i = 0; i < NCOMPONENTS; i++) {
			double ms;
			enum cam_component_status st = probe(i, msgs[i], sizeof(msgs[i]), &ms);

			cam__component_health__init(&comp[i]);
			comp[i].name = (char *)components[i].name;
			comp[i].status = (char *)status_names[st];
			comp[i].message = msgs[i];
			comp[i].latency_ms = ms;
			compp[i] = &comp[i];
		}
		resp.n_components = NCOMPONENTS;
		resp.components = compp;
	}
	n = cam__health_check_response__get_packed_size(&resp);
	buf = malloc(n ? n : 1);
	if (!buf) {
		cam_grpc_call_fail(call, CAM_GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	cam__health_check_response__pack(&resp, buf);
	cam_grpc_call_reply(call, buf, n);
	free(buf);
}

static void health_check(void *arg, struct cam_grpc_call *call)
{
	Cam__HealthCheckRequest *req;
	const uint8_t *msg;
	size_t len;

	(void)arg;
	msg = cam_grpc_call_message(call, &len);
	req = cam__health_check_request__unpack(NULL, len, msg);
	if (!req) {
		cam_grpc_call_fail(call, CAM_GRPC_INVALID_ARGUMENT,
				   "request is not a cam.HealthCheckRequest");
		return;
	}
	reply_health(call, req->detailed);
	cam__health_check_request__free_unpacked(req, NULL);
}

static void register_metrics(void)
{
	static const char *const l_up[] = { "component", NULL };
	static const char *const l_status[] = { "component", "status", NULL };
	cam_family *up, *status;

	cam_family_register(&(struct cam_family_desc){
				    .name = "cam_os_component_up",
				    .help = "Whether a HealthCheck component is healthy or degraded (1) or not (0; unhealthy or disabled).",
				    .type = CAM_GAUGE,
				    .label_names = l_up },
			    &up, NULL);
	cam_family_register(&(struct cam_family_desc){
				    .name = "cam_os_component_status",
				    .help = "HealthCheck component status as a state set: 1 for the current status.",
				    .type = CAM_GAUGE,
				    .label_names = l_status },
			    &status, NULL);
	for (size_t i = 0; i < NCOMPONENTS; i++) {
		components[i].up = cam_series_get(up, (const char *[]){ components[i].name });
		for (size_t s = 0; s < 4; s++)
			components[i].status[s] = cam_series_get(
				status, (const char *[]){ components[i].name, status_names[s] });
	}
	cam_metrics_add_collector(collect_components, NULL);
}

int cam_health_check_register(cam_grpc_server *s)
{
	register_metrics();
	return cam_grpc_server_add_method(s, "/cam.SyscallService/HealthCheck", health_check,
					  NULL);
}
