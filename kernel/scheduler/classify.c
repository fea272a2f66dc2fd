/*
 * The classifier of cam.SyscallService/Execute, run on the gRPC I/O
 * thread just before the call is queued: the scheduler must know a call's
 * priority when it is enqueued, before any worker decodes it.
 *
 * It peeks at the SyscallRequest wire format instead of unpacking it:
 * protobuf-c's unpack would allocate and copy every field on the one
 * thread all connections share, only to do it again on the worker. The
 * peek walks the top-level fields once, allocating nothing, and reads two:
 * 5 (priority, a varint) and 2 (payload, a string). The priority field
 * wins; without it, factor keys in the payload (urgency, importance,
 * efficiency, energy, trust) are scored as think does; without either, or
 * on anything malformed, the priority is 5 (dispatch then refuses what is
 * malformed with INVALID_ARGUMENT).
 *
 * Health probes (HealthCheck, grpc.health.v1 Check) run at priority 9, so
 * an orchestrator's probe is not refused or kept waiting behind a backlog
 * of ordinary calls (kernel/syscall/service.c sets the classifiers).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "kernel/scheduler/scheduler.h"
#include "kernel/scheduler/think.h"

#define FIELD_PAYLOAD 2
#define FIELD_PRIORITY 5

static bool varint(const uint8_t *m, size_t len, size_t *off, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64 && *off < len; shift += 7) {
		uint8_t b = m[(*off)++];

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

/* Finds the fields; false when the message is malformed. */
static bool peek(const uint8_t *m, size_t len, bool *has_prio, uint64_t *prio,
		 const uint8_t **payload, size_t *plen)
{
	size_t off = 0;

	while (off < len) {
		uint64_t key, v;

		if (!varint(m, len, &off, &key))
			return false;
		switch (key & 7) {
		case 0:
			if (!varint(m, len, &off, &v))
				return false;
			if (key >> 3 == FIELD_PRIORITY) {
				*has_prio = true;
				*prio = v;
			}
			break;
		case 1:
			if (len - off < 8)
				return false;
			off += 8;
			break;
		case 2:
			if (!varint(m, len, &off, &v) || v > len - off)
				return false;
			if (key >> 3 == FIELD_PAYLOAD) {
				*payload = m + off;
				*plen = (size_t)v;
			}
			off += (size_t)v;
			break;
		case 5:
			if (len - off < 4)
				return false;
			off += 4;
			break;
		default:
			return false;
		}
	}
	return true;
}

void cam_sched_classify_probe(void *arg, const struct cam_grpc_call *call,
			      const uint8_t *msg, size_t len, struct cam_grpc_sched *out)
{
	(void)arg;
	(void)call;
	(void)msg;
	(void)len;
	out->priority = 9;
}

void cam_sched_classify_request(void *arg, const struct cam_grpc_call *call,
				const uint8_t *msg, size_t len, struct cam_grpc_sched *out)
{
	const uint8_t *payload = NULL;
	bool has_prio = false;
	uint64_t prio = 0;
	size_t plen = 0;

	(void)arg;
	(void)call;
	if (peek(msg, len, &has_prio, &prio, &payload, &plen))
		cam_sched_classify_fields(has_prio, prio, payload, plen, out);
}

void cam_sched_classify_fields(bool has_prio, uint64_t prio, const uint8_t *payload,
			       size_t plen, struct cam_grpc_sched *out)
{
	double f[CAM_THINK_NFACTORS];
	struct cam_think th;

	if (has_prio) {
		if (prio <= 9) {
			out->priority = (unsigned)prio;
			out->source = CAM_SCHED_SRC_FIELD;
		}
		return;
	}
	if (!payload || cam_think_scan((const char *)payload, plen, f) <= 0)
		return;
	cam_think_score(f, &th);
	out->priority = th.priority;
	out->source = CAM_SCHED_SRC_FACTORS;
	out->scored = true;
	out->score = th.score;
	memcpy(out->factors, th.factors, sizeof(out->factors));
}
