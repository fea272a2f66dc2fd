/*
 * cam.SyscallService on the gRPC server (kernel/grpc/server.h): Execute,
 * each call decoded and handed to the dispatcher (dispatch.h), and
 * HealthCheck, which reports the components (components.h). Execute's
 * credentials are checked as soon as its headers arrive, so a call
 * without valid ones is refused before any of its message is buffered.
 * Also sets the
 * classifiers that let the scheduler place calls on the I/O thread:
 * Execute by its priority or factors, health probes at priority 9.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_SERVICE_H
#define CAM_SYSCALL_SERVICE_H

#include "kernel/grpc/server.h"
#include "kernel/syscall/components.h"
#include "kernel/syscall/dispatch.h"

typedef struct cam_syscall_service cam_syscall_service;

/* Borrowed pointers: each must outlive the server. */
struct cam_syscall_service_opts {
	cam_grpc_server *server;     /* stopped */
	cam_dispatch *dispatch;
	cam_components *components;
	cam_auth *auth;              /* credentials checked at HEADERS; NULL: not then */
	/* The registry the dispatcher reads: with prioritize, a call of a verb
	 * that never blocks may run on the I/O thread (cam_grpc_sched's
	 * may_inline). NULL: every call goes to a worker. */
	const cam_verbs *verbs;
	bool prioritize;             /* set the scheduler's classifiers */
	const char *instance_id;     /* copied */
	double start_time;           /* wall clock, seconds */
};

/* Adds the two methods (and the classifiers) to the server. 0 or the
 * server's CAM_E* code; *out untouched on failure. Call grpc.health.v1's
 * registration first when it is served, so its Check gets priority 9 too. */
int cam_syscall_service_new(const struct cam_syscall_service_opts *o,
			    cam_syscall_service **out);
/* After the server has shut down (the methods are its until then). NULL
 * is a no-op. */
void cam_syscall_service_free(cam_syscall_service *s);

#endif
