/*
 * What cam-kernel and a cam-driver-host helper say to each other.
 *
 * One AF_UNIX SOCK_SEQPACKET socketpair per helper: every message is one
 * datagram (no framing to get wrong), delivered in order, and the kernel
 * sees EOF the moment the helper dies. The kernel sends one request and
 * waits for its answer; a helper serves one request at a time.
 *
 * Request:  struct cam_wire_req, then oplen bytes of operation, then len
 *           bytes of input (INIT: the config string).
 * Response: struct cam_wire_resp, then len bytes of text: the result, the
 *           error message, or the health message.
 *
 * At start the helper finds the driver object on fd CAM_WIRE_LIB_FD (opened
 * and hash-checked by the kernel, so what runs is what was checked) and its
 * socket on CAM_WIRE_SOCK_FD.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_DRIVERS_WIRE_H
#define CAM_DRIVERS_WIRE_H

#include <stdint.h>

#include "common/grpc_status.h"
#include "include/cam/driver.h"

#define CAM_WIRE_LIB_FD 3
#define CAM_WIRE_SOCK_FD 4

/* Largest datagram either way (header included). */
#define CAM_WIRE_MAX (CAM_DRIVER_MAX_INPUT + 512)

enum cam_wire_type {
	CAM_WIRE_INIT = 1,     /* dlopen, check symbols and ABI, init(config) */
	CAM_WIRE_INVOKE = 2,   /* invoke(operation, input) */
	CAM_WIRE_HEALTH = 3,   /* health() */
	CAM_WIRE_SHUTDOWN = 4, /* shutdown(), answer, exit */
};

struct cam_wire_req {
	uint32_t type;
	uint32_t oplen;
	uint32_t len;
};

/*
 * status: INIT and INVOKE answer an enum cam_grpc_status (common/grpc_status.h;
 * 0 OK); HEALTH answers a cam_driver_health value.
 */
struct cam_wire_resp {
	int32_t status;
	uint32_t len;
};

#endif
