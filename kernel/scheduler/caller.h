/*
 * The scheduler's own use of caller keys (caller.c): the key a caller's
 * calls are queued under, the classifier's key mixed with a seed the
 * scheduler drew at start, so which callers share a slot of the fair
 * queue (fair.h) cannot be planned from outside.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SCHED_CALLER_H
#define CAM_SCHED_CALLER_H

#include <stdint.h>

/* A bijection of caller ^ seed whose every bit depends on every input bit. */
uint64_t cam_sched__caller_queue_key(uint64_t caller, uint64_t seed);

#endif
