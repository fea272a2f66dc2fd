/*
 * The buffer budget of the gRPC transport: every request byte buffered
 * and every response byte queued, on any connection, counts against one
 * server-wide budget (CAM_GRPC_MAX_BUFFERED_BYTES), and each connection
 * against its share of it. Past the budget a call is refused with
 * RESOURCE_EXHAUSTED instead of buffering more; a connection whose unsent
 * answers pass its share gets no new stream (REFUSED_STREAM), and one past
 * the hard limit that takes nothing for STALL_MS (past its share, for
 * SHARE_STALL_MS) is ended with GOAWAY: a client that never reads hurts
 * only itself, and not for long, while one that reads a burst of large
 * answers as fast as it can is left alone.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/metrics.h"
#include "kernel/grpc/internal.h"

/* The server-wide count: one atomic every thread may move. */
static bool global_take(cam_grpc_server *s, size_t n, bool force)
{
	size_t have = atomic_load_explicit(&s->buffered, memory_order_relaxed);

	do {
		if (!force && (have + n < have || have + n > s->max_buffered))
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&s->buffered, &have, have + n,
							memory_order_relaxed,
							memory_order_relaxed));
	return true;
}

static void global_give(cam_grpc_server *s, size_t n)
{
	atomic_fetch_sub_explicit(&s->buffered, n, memory_order_relaxed);
}

/* The calling thread's loop when it is one of s's I/O threads. Such a
 * thread takes and gives through its loop's reserve, a slice of the
 * budget taken ahead (budget_chunk), so that the calls it serves move no
 * cache line another I/O thread writes; only its own thread writes it. */
static struct cam_grpc__loop *own_loop(cam_grpc_server *s)
{
	struct cam_grpc__loop *l = cam_grpc__this_loop;

	return l && l->srv == s ? l : NULL;
}

bool cam_grpc__budget_take(cam_grpc_server *s, size_t n, bool force)
{
	struct cam_grpc__loop *l = own_loop(s);
	size_t r;

	if (!l)
		return global_take(s, n, force);
	r = atomic_load_explicit(&l->budget_reserve, memory_order_relaxed);
	if (r >= n) {
		atomic_store_explicit(&l->budget_reserve, r - n, memory_order_relaxed);
		return true;
	}
	/* Refill: what is missing and a chunk ahead, or only what is missing
	 * when the budget has no chunk left. */
	if (n - r + s->budget_chunk >= n - r &&
	    global_take(s, n - r + s->budget_chunk, false)) {
		atomic_store_explicit(&l->budget_reserve, s->budget_chunk, memory_order_relaxed);
		return true;
	}
	if (!global_take(s, n - r, force))
		return false;
	atomic_store_explicit(&l->budget_reserve, 0, memory_order_relaxed);
	return true;
}

void cam_grpc__budget_give(cam_grpc_server *s, size_t n)
{
	struct cam_grpc__loop *l = own_loop(s);
	size_t r;

	if (!n)
		return;
	if (!l) {
		global_give(s, n);
		return;
	}
	r = atomic_load_explicit(&l->budget_reserve, memory_order_relaxed) + n;
	if (r > 2 * s->budget_chunk) {
		global_give(s, r - s->budget_chunk);
		r = s->budget_chunk;
	}
	atomic_store_explicit(&l->budget_reserve, r, memory_order_relaxed);
}

uint64_t cam_grpc__loops_sum(cam_grpc_server *s, size_t offset)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < s->nloops; i++)
		n += atomic_load_explicit((_Atomic uint64_t *)((char *)&s->loops[i] + offset),
					  memory_order_relaxed);
	return n;
}

size_t cam_grpc__budget_held(cam_grpc_server *s)
{
	size_t held = atomic_load_explicit(&s->buffered, memory_order_relaxed), kept = 0;

	for (unsigned i = 0; i < s->nloops; i++)
		kept += atomic_load_explicit(&s->loops[i].budget_reserve, memory_order_relaxed);
	return held > kept ? held - kept : 0;
}

void cam_grpc__conn_check_stall(struct conn *conn, int64_t now)
{
	cam_grpc_server *s = conn->srv;
	int64_t stalled = now - conn->out_progress_ns;

	/* Past the hard limit a second without reading is enough; past its
	 * share (new streams refused already) it gets longer. */
	if (conn->goaway || conn->out_held <= s->conn_share ||
	    stalled < (conn->out_held > s->conn_hard ? STALL_MS : SHARE_STALL_MS) * 1000000LL)
		return;
	cam_grpc__count_closing(s, CLOSE_RESPONSE_BUDGET, conn->peer);
	cam_grpc__conn_terminate(conn, NGHTTP2_ENHANCE_YOUR_CALM);
}

void cam_grpc__conn_out_add(struct conn *conn, size_t n)
{
	conn->out_held += n;
	if (conn->out_held > conn->srv->conn_hard)
		cam_grpc__conn_check_stall(conn, cam_mono_ns());
}

void cam_grpc__conn_out_sub(struct conn *conn, size_t n)
{
	conn->out_held -= n < conn->out_held ? n : conn->out_held;
	if (n)
		conn->out_progress_ns = cam_mono_ns();
}
