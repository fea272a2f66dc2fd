/*
 * The system verbs: ping (echoes its payload; the benchmark verb) and
 * observe (the kernel's own figures, in the payload grammar).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_SYSTEM_VERBS_H
#define CAM_SYSCALL_SYSTEM_VERBS_H

#include "kernel/grpc/server.h"
#include "kernel/publisher.h"
#include "kernel/scheduler/scheduler.h"
#include "kernel/syscall/verbs.h"

typedef struct cam_system_verbs cam_system_verbs;

/* Borrowed pointers: each must outlive the object. */
struct cam_system_verbs_opts {
	cam_verbs *verbs;          /* the rows go here */
	cam_grpc_server *server;   /* may be NULL: no transport figures */
	cam_sched *sched;          /* may be NULL: no scheduler figures */
	cam_publisher *publisher;  /* may be NULL */
	const char *instance_id;   /* copied */
	double start_time;         /* wall clock, seconds */
};

/* Adds ping and observe. 0 or cam_verbs_add's code. */
int cam_system_verbs_new(const struct cam_system_verbs_opts *o, cam_system_verbs **out);
/* Removes the rows; NULL is a no-op. */
void cam_system_verbs_free(cam_system_verbs *v);

#endif
