/*
 * Names of the gRPC status codes, from the table in grpc_status.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/grpc_status.h"

static const char *const names[CAM_GRPC_STATUS_COUNT] = {
#define CAM_GRPC_STATUS_NAME(name, number) [number] = #name,
	CAM_GRPC_STATUS_MAP(CAM_GRPC_STATUS_NAME)
#undef CAM_GRPC_STATUS_NAME
};

const char *cam_grpc_status_name(int status)
{
	if (status < 0 || status >= CAM_GRPC_STATUS_COUNT)
		return "UNKNOWN";
	return names[status];
}
