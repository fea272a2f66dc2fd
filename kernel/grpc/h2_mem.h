/*
 * nghttp2's allocator: the per-thread free lists of common/tcache.h.
 *
 * nghttp2 allocates about eight blocks per call (stream, header buffers,
 * frame items) and frees them when the stream closes; through glibc that
 * was ~1.4k of the ~23k instructions a ping cost.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_GRPC_H2_MEM_H
#define CAM_GRPC_H2_MEM_H

#include <nghttp2/nghttp2.h>

/* The allocator to pass to nghttp2_session_server_new3 (static storage). */
nghttp2_mem *cam_grpc_h2_mem(void);

#endif
