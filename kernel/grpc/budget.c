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

bool cam_grpc__budget_take(cam_grpc_server *s, size_t n, bool force)
{
	size_t have = atomic_load_explicit(&s->buffered, memory_order_relaxed);

	do {
		if (!force && (have + n < have || have + n > s->max_buffered))
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&s->buffered, &have, have + n,
							memory_order_relaxed,
							memory_order_relaxed));
	cam_gauge_add(s->m_buffered, (double)n);
	return true;
}

void cam_grpc__budget_give(cam_grpc_server *s, size_t n)
{
	if (!n)
		return;
	atomic_fetch_sub_explicit(&s->buffered, n, memory_order_relaxed);
	cam_gauge_add(s->m_buffered, -(double)n);
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
