/*
 * Error codes shared by every CAM-OS module.
 *
 * Functions return 0 (or a count) on success and a negative CAM_E* code on
 * failure. One X-macro table gives the codes, their names, their messages
 * and the gRPC status each maps to, so none of them can drift apart.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_ERROR_H
#define CAM_ERROR_H

#include "common/grpc_status.h"

/*
 * X(name, value, gRPC status it is answered with, message). Every gRPC
 * status but OK has a code here, so a status that crosses a process
 * boundary (the driver helper's wire) comes back as a CAM_E* code and
 * goes out again as the same status (cam_err_from_grpc_status).
 */
#define CAM_ERRNO_MAP(X)                                                      \
	X(EINVAL, -1, INVALID_ARGUMENT, "invalid argument")                   \
	X(ENOMEM, -2, RESOURCE_EXHAUSTED, "out of memory")                    \
	X(ELIMIT, -3, RESOURCE_EXHAUSTED, "limit reached")                    \
	X(EEXIST, -4, ALREADY_EXISTS, "already exists")                       \
	X(ENOENT, -5, NOT_FOUND, "not found")                                 \
	X(ETYPE, -6, FAILED_PRECONDITION, "conflicts with an existing definition") \
	X(EIO, -7, UNAVAILABLE, "input/output error")                         \
	X(EPROTO, -8, INTERNAL, "malformed message")                          \
	X(EUNAVAIL, -9, UNAVAILABLE, "unavailable")                           \
	X(ETIMEDOUT, -10, DEADLINE_EXCEEDED, "timed out")                     \
	X(ENOTSUP, -11, UNIMPLEMENTED, "not supported")                       \
	X(EPERM, -12, PERMISSION_DENIED, "permission denied")                 \
	X(EAUTH, -13, UNAUTHENTICATED, "unauthenticated")                     \
	X(ECLOSED, -14, CANCELLED, "closed")                                  \
	X(EINTERNAL, -15, INTERNAL, "internal error")                         \
	X(ECONFLICT, -16, ABORTED, "conflicting concurrent change")           \
	X(ECANCELED, -17, CANCELLED, "cancelled by the caller")               \
	X(EPRECOND, -18, FAILED_PRECONDITION, "failed precondition")          \
	X(ERANGE, -19, OUT_OF_RANGE, "out of range")                          \
	X(EDATALOSS, -20, DATA_LOSS, "data lost")                             \
	X(EUNKNOWN, -21, UNKNOWN, "failure of no known kind")

enum cam_err {
#define CAM_ERR_ENUM(name, value, grpc, msg) CAM_##name = value,
	CAM_ERRNO_MAP(CAM_ERR_ENUM)
#undef CAM_ERR_ENUM
};

/* Message for a code; "unknown error" for anything not in the table. */
const char *cam_strerror(int err);
/* "EINVAL" and so on; "UNKNOWN" for anything not in the table. */
const char *cam_errname(int err);
/* The gRPC status (enum cam_grpc_status) a CAM_E* code is answered with:
 * CAM_GRPC_OK for 0, CAM_GRPC_UNKNOWN for anything not in the table. */
int cam_err_grpc_status(int err);
/* The CAM_E* code a gRPC status stands for (0 for OK, CAM_EUNKNOWN outside
 * 0-16); cam_err_grpc_status gives the status back. */
int cam_err_from_grpc_status(int status);
/* Maps an errno value to a CAM_E* code (once, at the syscall boundary). */
int cam_err_from_errno(int errnum);

#endif
