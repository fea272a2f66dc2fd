/*
 * Who calls, as the scheduler's fair share keys it (scheduler.h,
 * cam_sched_set_caller): a 64-bit hash of what identifies the caller,
 * made on the I/O thread for every call that may queue, so it reads
 * eight bytes a step and allocates nothing. The hash only spreads callers
 * over the fair queue's slots (the scheduler mixes in a random seed of
 * its own before it picks one); it is no proof of anything, and a token
 * goes into it whole but never comes out of it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdint.h>
#include <string.h>

#include "kernel/scheduler/caller.h"
#include "kernel/scheduler/scheduler.h"

#define K1 0x9e3779b97f4a7c15ULL
#define K2 0xbf58476d1ce4e5b9ULL

static uint64_t rotl(uint64_t x, unsigned r)
{
	return x << r | x >> (64 - r);
}

/* The final mix of splitmix64: every input bit moves every output bit. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= K2;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ x >> 31;
}

static uint64_t hash(unsigned by, const uint8_t *p, size_t len)
{
	uint64_t h = (by + 1) * K1 ^ len * K2, w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = rotl(h ^ w * K1, 29) * K2;
	}
	w = 0;
	memcpy(&w, p, len);
	return mix(h ^ w * K1);
}

uint64_t cam_sched__caller_queue_key(uint64_t caller, uint64_t seed)
{
	return mix(caller ^ seed);
}

void cam_sched_set_caller(struct cam_grpc_sched *out, enum cam_sched_caller_by by,
			  const void *id, size_t len)
{
	static const char token[] = "the caller of this token";
	uint64_t k = hash((unsigned)by, id, len);

	out->caller = k ? k : 1; /* 0 is everybody unnamed */
	if (by == CAM_SCHED_BY_TOKEN) {
		out->caller_name = token;
		out->caller_name_len = sizeof(token) - 1;
	} else {
		out->caller_name = id;
		out->caller_name_len = len > UINT32_MAX ? UINT32_MAX : (unsigned)len;
	}
}
