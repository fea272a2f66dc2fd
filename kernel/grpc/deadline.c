/*
 * Open calls with a deadline sit in a min-heap on the I/O thread, so
 * DEADLINE_EXCEEDED goes out on time even while a handler still runs (its
 * late reply is then dropped). A call leaves the heap when its stream
 * closes, so the heap holds no reference.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdint.h>
#include <stdlib.h>

#include "common/xmalloc.h"
#include "kernel/grpc/internal.h"

static void timer_swap(struct cam_grpc__loop *s, size_t i, size_t j)
{
	struct cam_grpc_call *t = s->timers[i];

	s->timers[i] = s->timers[j];
	s->timers[j] = t;
	s->timers[i]->heap_idx = i;
	s->timers[j]->heap_idx = j;
}

static void timer_sift(struct cam_grpc__loop *s, size_t i)
{
	while (i > 0 && s->timers[(i - 1) / 2]->deadline_ns > s->timers[i]->deadline_ns) {
		timer_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->ntimers && s->timers[l]->deadline_ns < s->timers[m]->deadline_ns)
			m = l;
		if (r < s->ntimers && s->timers[r]->deadline_ns < s->timers[m]->deadline_ns)
			m = r;
		if (m == i)
			return;
		timer_swap(s, i, m);
		i = m;
	}
}

void cam_grpc__timer_add(struct cam_grpc__loop *s, struct cam_grpc_call *c)
{
	if (s->ntimers == s->cap_timers) {
		s->cap_timers = s->cap_timers ? s->cap_timers * 2 : 256;
		s->timers = cam_xrealloc(s->timers, s->cap_timers * sizeof(*s->timers));
	}
	c->heap_idx = s->ntimers;
	s->timers[s->ntimers++] = c;
	timer_sift(s, c->heap_idx);
}

void cam_grpc__timer_remove(struct cam_grpc__loop *s, struct cam_grpc_call *c)
{
	size_t i = c->heap_idx;

	if (i == NO_TIMER)
		return;
	c->heap_idx = NO_TIMER;
	if (i != --s->ntimers) {
		s->timers[i] = s->timers[s->ntimers];
		s->timers[i]->heap_idx = i;
		timer_sift(s, i);
	}
}

/* Ends every call whose deadline has passed. */
void cam_grpc__timers_expire(struct cam_grpc__loop *s)
{
	int64_t now;

	if (s->ntimers == 0)
		return;
	now = cam_mono_ns();
	while (s->ntimers > 0 && s->timers[0]->deadline_ns <= now) {
		struct cam_grpc_call *c = s->timers[0];

		cam_grpc__timer_remove(s, c);
		if (!c->ended_io) {
			cam_grpc__call_refuse(c, CAM_GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
			continue;
		}
		/* A handler has it: answer now, then tell it to stop. */
		cam_grpc__call_push_out(c, NULL, 0, false, true, CAM_GRPC_DEADLINE_EXCEEDED,
			      "deadline exceeded");
		atomic_store(&c->cancelled, true);
	}
}

/* Milliseconds until the next deadline (rounded up), or -1. */
int cam_grpc__timers_wait_ms(const struct cam_grpc__loop *s)
{
	int64_t left;

	if (s->ntimers == 0)
		return -1;
	left = s->timers[0]->deadline_ns - cam_mono_ns();
	if (left <= 0)
		return 0;
	return left > INT32_MAX * 1000000LL ? INT32_MAX : (int)((left + 999999) / 1000000);
}
