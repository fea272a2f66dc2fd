/*
 * The buffer budget of the gRPC transport: every request byte buffered
 * and every response byte queued, on any connection, counts against one
 * server-wide budget (CAM_GRPC_MAX_BUFFERED_BYTES), and each connection
 * against its share of it. Past the budget a call is refused with
 * RESOURCE_EXHAUSTED instead of buffering more; a connection whose unsent
 * answers pass its share gets no new stream (REFUSED_STREAM), and past
 * the hard limit it is ended with GOAWAY: a client that never reads hurts
 * only itself.
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

void cam_grpc__conn_out_add(struct conn *conn, size_t n)
{
	cam_grpc_server *s = conn->srv;

	conn->out_held += n;
	if (conn->out_held > s->conn_hard && !conn->goaway) {
		cam_grpc__count_closing(s, CLOSE_RESPONSE_BUDGET, conn->peer);
		cam_grpc__conn_terminate(conn, NGHTTP2_ENHANCE_YOUR_CALM);
	}
}

void cam_grpc__conn_out_sub(struct conn *conn, size_t n)
{
	conn->out_held -= n < conn->out_held ? n : conn->out_held;
}
