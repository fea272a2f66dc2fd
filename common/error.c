/*
 * Names, messages and gRPC codes of the CAM_E* errors, from the one table
 * in error.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/error.h"

#include <errno.h>

/* Errors are negative: 0 and positive values mean success or a count. */
#define CAM_ERR_NEGATIVE(name, value, grpc, msg) \
	_Static_assert(value < 0, "CAM_" #name " must be negative");
CAM_ERRNO_MAP(CAM_ERR_NEGATIVE)
#undef CAM_ERR_NEGATIVE

const char *cam_strerror(int err)
{
	switch (err) {
#define CAM_ERR_MSG(name, value, grpc, msg) case value: return msg;
		CAM_ERRNO_MAP(CAM_ERR_MSG)
#undef CAM_ERR_MSG
	case 0:
		return "success";
	}
	return "unknown error";
}

const char *cam_errname(int err)
{
	switch (err) {
#define CAM_ERR_NAME(name, value, grpc, msg) case value: return #name;
		CAM_ERRNO_MAP(CAM_ERR_NAME)
#undef CAM_ERR_NAME
	case 0:
		return "OK";
	}
	return "UNKNOWN";
}

int cam_err_grpc_status(int err)
{
	switch (err) {
#define CAM_ERR_GRPC(name, value, grpc, msg) case value: return CAM_GRPC_##grpc;
		CAM_ERRNO_MAP(CAM_ERR_GRPC)
#undef CAM_ERR_GRPC
	case 0:
		return CAM_GRPC_OK;
	}
	return CAM_GRPC_UNKNOWN;
}

/* Where two codes share a status, the one a status stands for. */
int cam_err_from_grpc_status(int status)
{
	switch (status) {
	case CAM_GRPC_OK: return 0;
	case CAM_GRPC_CANCELLED: return CAM_ECANCELED;
	case CAM_GRPC_INVALID_ARGUMENT: return CAM_EINVAL;
	case CAM_GRPC_DEADLINE_EXCEEDED: return CAM_ETIMEDOUT;
	case CAM_GRPC_NOT_FOUND: return CAM_ENOENT;
	case CAM_GRPC_ALREADY_EXISTS: return CAM_EEXIST;
	case CAM_GRPC_PERMISSION_DENIED: return CAM_EPERM;
	case CAM_GRPC_RESOURCE_EXHAUSTED: return CAM_ELIMIT;
	case CAM_GRPC_FAILED_PRECONDITION: return CAM_EPRECOND;
	case CAM_GRPC_ABORTED: return CAM_ECONFLICT;
	case CAM_GRPC_OUT_OF_RANGE: return CAM_ERANGE;
	case CAM_GRPC_UNIMPLEMENTED: return CAM_ENOTSUP;
	case CAM_GRPC_INTERNAL: return CAM_EINTERNAL;
	case CAM_GRPC_UNAVAILABLE: return CAM_EUNAVAIL;
	case CAM_GRPC_DATA_LOSS: return CAM_EDATALOSS;
	case CAM_GRPC_UNAUTHENTICATED: return CAM_EAUTH;
	}
	return CAM_EUNKNOWN;
}

int cam_err_from_errno(int errnum)
{
	switch (errnum) {
	case 0:
		return 0;
	case EINVAL:
		return CAM_EINVAL;
	case ENOMEM:
		return CAM_ENOMEM;
	case EEXIST:
		return CAM_EEXIST;
	case ENOENT:
		return CAM_ENOENT;
	case ETIMEDOUT:
		return CAM_ETIMEDOUT;
	case EPERM:
	case EACCES:
		return CAM_EPERM;
	case ENOTSUP:
		return CAM_ENOTSUP;
	}
	return CAM_EIO;
}
