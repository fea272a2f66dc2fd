/*
 * How a gRPC connection's life ends, gently: a maximum age, so that
 * clients that keep one connection for hours still spread over a fleet's
 * new replicas (as grpc-go's MaxConnectionAge), a graceful GOAWAY in two
 * steps (RFC 9113 6.8: first the highest stream id, so the client stops
 * opening streams without losing one in flight; then, a moment later, the
 * last stream id taken), a grace for the calls still running, and the
 * keepalive policy that sends ENHANCE_YOUR_CALM to a client that pings
 * too often (grpc-go's EnforcementPolicy).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/log.h"
#include "kernel/grpc/internal.h"

/* Between the two GOAWAYs: a round trip, comfortably (grpc-go waits for
 * a PING's answer). */
#define NOTICE_TO_GOAWAY_NS (200 * 1000000LL)
/* A client with no call open needs no keepalive: one ping per this long. */
#define PING_WITHOUT_CALLS_NS (2 * 3600 * 1000000000LL)
#define MAX_PING_STRIKES 2
#define DEFAULT_PING_MIN_MS 300000

void cam_grpc__lifetime_init(cam_grpc_server *s, const struct cam_grpc_server_opts *o)
{
	s->max_age_ns = o->max_age_ms > 0 ? (int64_t)o->max_age_ms * 1000000 : 0;
	s->age_grace_ns = o->max_age_grace_ms > 0 ? (int64_t)o->max_age_grace_ms * 1000000 : 0;
	s->ping_min_ns = o->keepalive_min_time_ms < 0 ? 0
			 : (int64_t)(o->keepalive_min_time_ms ? o->keepalive_min_time_ms
							      : DEFAULT_PING_MIN_MS) * 1000000;
	s->ping_without_calls = o->keepalive_permit_without_calls;
}

/* A factor in [0.9, 1.1]: replicas started together do not all drop
 * their connections in the same second. */
static double jitter(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)rand();
	return 0.9 + 0.2 * ((double)r / 4294967295.0);
}

static void due_at(struct conn *conn, int64_t t)
{
	struct cam_grpc__loop *l = conn->loop;

	if (t && (!l->next_ending_ns || t < l->next_ending_ns))
		l->next_ending_ns = t;
}

void cam_grpc__lifetime_open(struct conn *conn)
{
	cam_grpc_server *s = conn->srv;

	if (!s->max_age_ns)
		return;
	conn->age_at_ns = cam_mono_ns() + (int64_t)((double)s->max_age_ns * jitter());
	due_at(conn, conn->age_at_ns);
}

void cam_grpc__lifetime_end(struct conn *conn, int64_t grace_ns)
{
	if (conn->ending != ENDING_NONE || conn->goaway || conn->dead)
		return;
	/* Once no stream is open after a GOAWAY, nghttp2 wants no more I/O
	 * and the connection closes (conn.c). */
	nghttp2_submit_shutdown_notice(conn->h2);
	conn->ending = ENDING_NOTICE;
	conn->ending_next_ns = cam_mono_ns() + NOTICE_TO_GOAWAY_NS;
	conn->age_grace_ns = grace_ns;
	cam_grpc__conn_busy(conn); /* not idle any more: nothing to evict */
	due_at(conn, conn->ending_next_ns);
	cam_grpc__conn_mark_dirty(conn);
}

/* One step of conn's end that is due at now. */
static void step(struct conn *conn, int64_t now)
{
	cam_grpc_server *s = conn->srv;

	if (conn->ending == ENDING_NONE && conn->age_at_ns && now >= conn->age_at_ns) {
		cam_log(CAM_LOG_DEBUG, COMPONENT, "connection from %s reached its max age",
			conn->peer);
		cam_grpc__lifetime_end(conn, s->age_grace_ns);
	} else if (conn->ending == ENDING_NOTICE && now >= conn->ending_next_ns) {
		nghttp2_submit_goaway(conn->h2, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(conn->h2),
				      NGHTTP2_NO_ERROR, NULL, 0);
		conn->ending = ENDING_GOAWAY;
		conn->ending_next_ns = conn->age_grace_ns ? now + conn->age_grace_ns : 0;
		cam_grpc__conn_mark_dirty(conn);
	} else if (conn->ending == ENDING_GOAWAY && conn->ending_next_ns &&
		   now >= conn->ending_next_ns) {
		/* The grace is over: what still runs is cancelled. */
		conn->dead = true;
		cam_grpc__conn_mark_dirty(conn);
	}
}

/* When conn's next step is due; 0: none. */
static int64_t next_due(const struct conn *conn)
{
	if (conn->dead)
		return 0;
	if (conn->ending == ENDING_NONE)
		return conn->age_at_ns;
	return conn->ending_next_ns;
}

void cam_grpc__lifetime_sweep(struct cam_grpc__loop *l)
{
	int64_t now;

	if (!l->next_ending_ns || (now = cam_mono_ns()) < l->next_ending_ns)
		return;
	l->next_ending_ns = 0;
	for (struct conn *c = l->conns; c; c = c->next) {
		int64_t t = next_due(c);

		if (t && t <= now) {
			step(c, now);
			t = next_due(c);
		}
		due_at(c, t);
	}
}

int cam_grpc__lifetime_wait_ms(const struct cam_grpc__loop *l)
{
	int64_t left;

	if (!l->next_ending_ns)
		return -1;
	left = l->next_ending_ns - cam_mono_ns();
	return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

void cam_grpc__lifetime_ping(struct conn *conn)
{
	cam_grpc_server *s = conn->srv;
	int64_t now = cam_mono_ns(), last = conn->last_ping_ns;
	bool strike;

	conn->last_ping_ns = now;
	if (!s->ping_min_ns || !last)
		return;
	if (conn->reset_strikes) {
		conn->reset_strikes = false;
		conn->ping_strikes = 0;
		return;
	}
	if (conn->ncalls == 0 && !s->ping_without_calls)
		strike = now - last < PING_WITHOUT_CALLS_NS;
	else
		strike = now - last < s->ping_min_ns;
	if (strike && ++conn->ping_strikes > MAX_PING_STRIKES && !conn->goaway) {
		static const uint8_t why[] = "too_many_pings";

		cam_log(CAM_LOG_WARN, COMPONENT, "%s pings too often: GOAWAY ENHANCE_YOUR_CALM",
			conn->peer);
		/* As grpc-go says it, with "too_many_pings" as debug data
		 * (nghttp2's terminate call takes none): closed once written. */
		conn->goaway = conn->close_when_written = true;
		nghttp2_submit_goaway(conn->h2, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(conn->h2),
				      NGHTTP2_ENHANCE_YOUR_CALM, why, sizeof(why) - 1);
		cam_grpc__conn_closing(conn);
		cam_grpc__conn_mark_dirty(conn);
	}
}

void cam_grpc__lifetime_sent_data(struct conn *conn)
{
	conn->reset_strikes = true;
}
