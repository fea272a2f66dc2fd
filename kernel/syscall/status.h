/* gRPC status code names, as the `code` label and logs spell them. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CAM_SYSCALL_STATUS_H
#define CAM_SYSCALL_STATUS_H

/* "OK", "INVALID_ARGUMENT", ...; "UNKNOWN" outside 0-16. */
const char *cam_grpc_code_name(int code);

#endif
