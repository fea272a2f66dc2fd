/*
 * Syscall spans and exemplars (syscall_trace.h). The span id is random
 * (a per-thread xorshift seeded once from getrandom: no syscall per span);
 * the parent is the traceparent's span id, or the span id the payload gave.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/tracing/syscall_trace.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "kernel/tracing/trace_id.h"

static _Thread_local uint64_t rng_state;

static uint64_t next_random(void)
{
	uint64_t x = rng_state;

	if (!x) {
		if (getrandom(&x, sizeof(x), 0) != (ssize_t)sizeof(x)) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)&ts;
		}
		x |= 1;
	}
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

/* Reads "00-<trace>-<parent>-<flags>"; false unless well formed. */
static bool parse_traceparent(const char *tp, char *trace, char *parent)
{
	if (!tp || strlen(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' ||
	    !cam_trace_id_is_w3c(tp + 3, 32) || !cam_trace_id_is_w3c(tp + 36, 16))
		return false;
	memcpy(trace, tp + 3, 32);
	trace[32] = '\0';
	memcpy(parent, tp + 36, 16);
	parent[16] = '\0';
	return true;
}

/* Keeps ',' and '=' out of an attribute value (they delimit the list). */
static void put_attr(char *buf, size_t cap, const char *key, const char *value)
{
	size_t n = strlen(buf);

	if (n + strlen(key) + 2 >= cap)
		return;
	n += (size_t)snprintf(buf + n, cap - n, "%s%s=", n ? "," : "", key);
	for (; *value && n + 1 < cap; value++)
		buf[n++] = (*value == ',' || *value == '=') ? '_' : *value;
	buf[n] = '\0';
}

static void push_span(cam_span_ring *ring, const struct cam_syscall_done *d,
		      const char *trace, const char *parent, const char *span_id)
{
	struct cam_span span = { 0 };
	struct timespec now;
	char code[16];

	clock_gettime(CLOCK_REALTIME, &now);
	memcpy(span.trace_id, trace, 33);
	memcpy(span.span_id, span_id, 17);
	snprintf(span.parent_span_id, sizeof(span.parent_span_id), "%s", parent);
	snprintf(span.name, sizeof(span.name), "syscall %s", d->verb);
	span.duration_ns = (int64_t)(d->seconds * 1e9);
	span.start_unix_ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec - span.duration_ns;
	span.error = d->status != 0;
	span.server = 1;
	snprintf(code, sizeof(code), "%d", d->status);
	put_attr(span.attributes, sizeof(span.attributes), "rpc.system", "grpc");
	put_attr(span.attributes, sizeof(span.attributes), "rpc.service", "cam.SyscallService");
	put_attr(span.attributes, sizeof(span.attributes), "rpc.method", "Execute");
	put_attr(span.attributes, sizeof(span.attributes), "rpc.grpc.status_code", code);
	put_attr(span.attributes, sizeof(span.attributes), "cam.syscall", d->verb);
	put_attr(span.attributes, sizeof(span.attributes), "cam.caller_id",
		 d->caller_id ? d->caller_id : "");
	put_attr(span.attributes, sizeof(span.attributes), "cam.request_id", d->request_id);
	if (span.error)
		put_attr(span.attributes, sizeof(span.attributes), "error.message",
			 d->error ? d->error : "");
	cam_span_ring_push(ring, &span);
}

void cam_syscall_trace_done(cam_span_ring *ring, const struct cam_syscall_done *d)
{
	char trace[33], parent[17] = "", span_id[17];

	if (d->span_out)
		d->span_out[0] = '\0';
	if (!parse_traceparent(d->traceparent, trace, parent)) {
		if (!d->trace_id || !d->trace_id[0]) {
			cam_histogram_observe(d->duration, d->seconds);
			return;
		}
		snprintf(trace, sizeof(trace), "%s", d->trace_id);
		if (d->span_id && *d->span_id && strlen(d->span_id) <= 64)
			cam_trace_id_normalize(d->span_id, 16, parent);
	}
	snprintf(span_id, sizeof(span_id), "%016llx", (unsigned long long)next_random());
	if (d->span_out)
		memcpy(d->span_out, span_id, sizeof(span_id));
	cam_histogram_observe_traced(d->duration, d->seconds, trace, span_id);
	if (ring)
		push_span(ring, d, trace, parent, span_id);
}
