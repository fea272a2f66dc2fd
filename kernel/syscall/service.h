/*
 * cam.SyscallService on the gRPC server: Execute (dispatch.c) and
 * HealthCheck (health_check.c), and what they need from the kernel.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_SERVICE_H
#define CAM_SYSCALL_SERVICE_H

#include "kernel/grpc/server.h"
#include "kernel/kernel_metrics.h"
#include "kernel/publisher.h"

enum cam_access_log {
	CAM_ACCESS_LOG_ALL,
	CAM_ACCESS_LOG_ERRORS,
	CAM_ACCESS_LOG_NONE,
};

/* Borrowed pointers: all must outlive the server. */
struct cam_syscall_env {
	struct cam_kernel_metrics *metrics;
	cam_grpc_server *server;
	struct cam_sched *scheduler; /* NULL: plain FIFO pool, no scheduler verbs */
	cam_publisher *publisher;
	const char *instance_id;
	double start_time;        /* wall clock, seconds */
	enum cam_access_log access_log;
	size_t custom_families_max; /* emit_metric: custom families allowed */
	size_t custom_series_max;   /* emit_metric: series per custom family */
};

/* Registers Execute and HealthCheck (call before the server starts). */
int cam_syscall_service_register(cam_grpc_server *s, const struct cam_syscall_env *env);
/* The environment given at registration. */
const struct cam_syscall_env *cam_syscall_env(void);

/* HealthCheck and its component probes (health_check.c). */
int cam_health_check_register(cam_grpc_server *s);

enum cam_component_status {
	CAM_COMPONENT_HEALTHY,
	CAM_COMPONENT_DEGRADED,
	CAM_COMPONENT_UNHEALTHY,
	CAM_COMPONENT_DISABLED,
};

/* A probe fills status and a message (msg has msglen bytes); it must be
 * quick: HealthCheck and every metrics publish run it. */
typedef enum cam_component_status (*cam_component_probe)(void *arg, char *msg,
							 size_t msglen);
/* Subsystems register their probe under a seed component name ("Redis
 * Backend", "TPM Security", "Driver Runtime", "Scheduler"); a component
 * with no probe reports disabled. */
void cam_component_set_probe(const char *name, cam_component_probe fn, void *arg);

/* The Scheduler component's probe: the scheduler's health, or the plain pool's. */
void cam_system_register_probes(cam_grpc_server *s);

#endif
