/*
 * gRPC status codes: the one definition of their numbers and names.
 *
 * The transport answers with them (kernel/grpc/server.h), the driver
 * helper process sends them on its wire (kernel/drivers/wire.h), and the
 * `code` label of the syscall metrics and the access log spell them. Inside
 * the kernel, modules and verb handlers speak CAM_E* codes
 * (common/error.h); the status a call is answered with is derived from
 * those in one place (kernel/syscall/dispatch.c).
 *
 * Numbers from grpc/doc/statuscodes.md. This header needs no object file
 * (the helper process includes it alone); the names are in grpc_status.c.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_GRPC_STATUS_H
#define CAM_GRPC_STATUS_H

/* X(name, number) */
#define CAM_GRPC_STATUS_MAP(X)                                                \
	X(OK, 0)                                                              \
	X(CANCELLED, 1)                                                       \
	X(UNKNOWN, 2)                                                         \
	X(INVALID_ARGUMENT, 3)                                                \
	X(DEADLINE_EXCEEDED, 4)                                               \
	X(NOT_FOUND, 5)                                                       \
	X(ALREADY_EXISTS, 6)                                                  \
	X(PERMISSION_DENIED, 7)                                               \
	X(RESOURCE_EXHAUSTED, 8)                                              \
	X(FAILED_PRECONDITION, 9)                                             \
	X(ABORTED, 10)                                                        \
	X(OUT_OF_RANGE, 11)                                                   \
	X(UNIMPLEMENTED, 12)                                                  \
	X(INTERNAL, 13)                                                       \
	X(UNAVAILABLE, 14)                                                    \
	X(DATA_LOSS, 15)                                                      \
	X(UNAUTHENTICATED, 16)

enum cam_grpc_status {
#define CAM_GRPC_STATUS_ENUM(name, number) CAM_GRPC_##name = number,
	CAM_GRPC_STATUS_MAP(CAM_GRPC_STATUS_ENUM)
#undef CAM_GRPC_STATUS_ENUM
	CAM_GRPC_STATUS_COUNT
};

/* "OK", "INVALID_ARGUMENT", ...; "UNKNOWN" for a number outside 0-16. */
const char *cam_grpc_status_name(int status);

#endif
