/*
 * Names, messages and gRPC codes of the CAM_E* errors, from the one table
 * in error.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/error.h"

#include <errno.h>

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
#define CAM_ERR_GRPC(name, value, grpc, msg) case value: return grpc;
		CAM_ERRNO_MAP(CAM_ERR_GRPC)
#undef CAM_ERR_GRPC
	case 0:
		return 0;
	}
	return 2; /* UNKNOWN */
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
