/*
 * nghttp2's allocator: per-thread free lists of small blocks.
 *
 * nghttp2 allocates about eight blocks per call (stream, header buffers,
 * frame items) and frees them when the stream closes; through glibc that
 * was ~1.4k of the ~23k instructions a ping costs. Here a block freed on a
 * thread is kept, by size class (32 bytes to 1 KiB, powers of two), for
 * that thread's next allocation of its class: a pop or a push, no lock.
 * A block may be freed on another thread than the one that allocated it
 * (it joins that thread's list). Each thread keeps at most
 * CAM_H2_MEM_KEEP blocks per class (about 0.5 MiB in all); a thread that
 * exits gives its lists back. Larger blocks go straight to malloc.
 *
 * Under AddressSanitizer a kept block is poisoned, so a use after free
 * is still reported.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_GRPC_H2_MEM_H
#define CAM_GRPC_H2_MEM_H

#include <nghttp2/nghttp2.h>
#include <stddef.h>

#define CAM_H2_MEM_KEEP 256

/* The allocator to pass to nghttp2_session_server_new3 (static storage). */
nghttp2_mem *cam_grpc_h2_mem(void);

/* Blocks this thread keeps now, over every class (for tests). */
size_t cam_grpc_h2_mem_kept(void);

#endif
