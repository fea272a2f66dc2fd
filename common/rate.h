/*
 * Lock-free rate limits: GCRA, the "virtual scheduling" form of a token
 * bucket. One 64-bit theoretical arrival time per bucket, advanced with a
 * CAS: no lock, callers contend only when they share a bucket. Used for
 * per-caller call limits (kernel/security/auth.c) and for log lines that a
 * flood must not multiply (kernel/syscall/access_log.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_RATE_H
#define CAM_RATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* One bucket, alone on its cache line; zero-initialised is full. */
struct cam_rate_bucket {
	_Atomic int64_t tat_ns; /* theoretical arrival time, CLOCK_MONOTONIC */
	char pad[64 - sizeof(int64_t)];
};

/* Takes one event at now_ns from b, which allows rate per second with
 * bursts of burst (>= 1): true when allowed. */
bool cam_rate_take(struct cam_rate_bucket *b, double rate, double burst, int64_t now_ns);

/* FNV-1a of s, for spreading names over a fixed table of buckets (names
 * a client chooses must not grow memory). */
uint64_t cam_rate_hash(const char *s);

#endif
