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

/* X(name, value, grpc status code, message) */
#define CAM_ERRNO_MAP(X)                                                      \
	X(EINVAL, -1, 3, "invalid argument")                                  \
	X(ENOMEM, -2, 8, "out of memory")                                     \
	X(ELIMIT, -3, 8, "limit reached")                                     \
	X(EEXIST, -4, 6, "already exists")                                    \
	X(ENOENT, -5, 5, "not found")                                         \
	X(ETYPE, -6, 9, "conflicts with an existing definition")              \
	X(EIO, -7, 14, "input/output error")                                  \
	X(EPROTO, -8, 13, "malformed message")                                \
	X(EUNAVAIL, -9, 14, "unavailable")                                    \
	X(ETIMEDOUT, -10, 4, "timed out")                                     \
	X(ENOTSUP, -11, 12, "not supported")                                  \
	X(EPERM, -12, 7, "permission denied")                                 \
	X(EAUTH, -13, 16, "unauthenticated")                                  \
	X(ECLOSED, -14, 1, "closed")                                          \
	X(EINTERNAL, -15, 13, "internal error")                               \
	X(ECONFLICT, -16, 10, "conflicting concurrent change")

enum cam_err {
#define CAM_ERR_ENUM(name, value, grpc, msg) CAM_##name = value,
	CAM_ERRNO_MAP(CAM_ERR_ENUM)
#undef CAM_ERR_ENUM
};

/* Message for a code; "unknown error" for anything not in the table. */
const char *cam_strerror(int err);
/* "EINVAL" and so on; "UNKNOWN" for anything not in the table. */
const char *cam_errname(int err);
/* The gRPC status code (0..16) a CAM_E* code is answered with. */
int cam_err_grpc_status(int err);
/* Maps an errno value to a CAM_E* code (once, at the syscall boundary). */
int cam_err_from_errno(int errnum);

#endif
