/*
 * What keeps one client from taking the gRPC port from the others:
 * handshake and idle timeouts, the connection cap (the oldest idle
 * connection is closed to make room), a descriptor kept in reserve so that
 * even out of descriptors a new client is told no at once instead of
 * waiting in the backlog, and the counters and rate-limited log lines of
 * every refusal.
 *
 * A connection with no stream open sits in one of two lists, oldest first:
 * `shaking` until the client's preface and SETTINGS arrive, `idle` after;
 * one that was sent a GOAWAY to end it sits in `closing` until it is gone.
 * Each list is ordered by the time its timeout counts from, so a sweep
 * only looks at the heads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/metrics.h"
#include "kernel/grpc/internal.h"

#define LOG_EVERY_NS (10 * 1000000000LL)
#define BUDGET_MIN ((size_t)16 << 20)
#define BUDGET_MAX ((size_t)256 << 20)
/* Descriptors kept back from connections for everything else the kernel
 * opens (Redis, drivers, the bus, logs, TPM). */
#define FDS_RESERVED_MIN 64

static const char *const refusal_text[REFUSE_COUNT] = {
	"call refused: the server's buffer budget is spent",
	"call refused: too much request data buffered on one connection",
	"stream refused: more streams than SETTINGS_MAX_CONCURRENT_STREAMS",
	"stream refused: the connection does not read its answers",
	"call refused at its headers (credentials)",
	"request refused: not gRPC",
};
static const char *const closing_text[CLOSE_COUNT] = {
	"connection closed: no HTTP/2 preface and SETTINGS in time",
	"connection closed: idle for too long",
	"connection closed: at the connection limit",
	"connection closed with GOAWAY: it does not read its answers",
};

/* The memory this process may use: RAM, or less under a cgroup limit. */
static size_t memory_limit(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	size_t ram = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : BUDGET_MAX * 8;
	static const char *const files[] = { "/sys/fs/cgroup/memory.max",
					     "/sys/fs/cgroup/memory/memory.limit_in_bytes" };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		FILE *f = fopen(files[i], "r");
		unsigned long long v;

		if (!f)
			continue;
		if (fscanf(f, "%llu", &v) == 1 && v > 0 && v < ram)
			ram = (size_t)v;
		fclose(f);
	}
	return ram;
}

size_t cam_grpc_default_buffer_budget(void)
{
	size_t b = memory_limit() / 8;

	return b < BUDGET_MIN ? BUDGET_MIN : b > BUDGET_MAX ? BUDGET_MAX : b;
}

unsigned cam_grpc_default_max_connections(void)
{
	struct rlimit rl;
	rlim_t n, keep;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 10000;
	n = rl.rlim_cur;
	keep = n / 8 > FDS_RESERVED_MIN ? n / 8 : FDS_RESERVED_MIN;
	if (n <= keep + 16)
		return 16;
	n -= keep;
	return n > 1000000 ? 1000000 : (unsigned)n;
}

unsigned cam_grpc_default_io_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 8 ? 8 : (unsigned)n;
}

void cam_grpc__limits_init(cam_grpc_server *s, const struct cam_grpc_server_opts *o)
{
	s->max_buffered = o->max_buffered_bytes ? o->max_buffered_bytes
						: cam_grpc_default_buffer_budget();
	/* A connection may hold an eighth of the budget, and always enough for
	 * two of the largest messages; past twice its share it is cut off. */
	s->conn_share = s->max_buffered / 8;
	if (s->conn_share < 2 * s->max_msg)
		s->conn_share = 2 * s->max_msg;
	if (s->conn_share > s->max_buffered)
		s->conn_share = s->max_buffered;
	s->conn_hard = 2 * s->conn_share > s->max_buffered ? s->max_buffered
							    : 2 * s->conn_share;
	/* What each I/O thread takes ahead: all of them together hold at
	 * most a sixteenth of the budget unused. */
	s->budget_chunk = s->max_buffered / (32 * (size_t)s->nloops);
	if (s->budget_chunk > BUDGET_CHUNK_MAX)
		s->budget_chunk = BUDGET_CHUNK_MAX;
	s->max_conns = o->max_connections ? o->max_connections
					  : cam_grpc_default_max_connections();
	s->handshake_ns = o->handshake_timeout_ms < 0 ? 0
			  : (int64_t)(o->handshake_timeout_ms ? o->handshake_timeout_ms
							      : DEFAULT_HANDSHAKE_MS) * 1000000;
	s->idle_ns = o->idle_timeout_ms > 0 ? (int64_t)o->idle_timeout_ms * 1000000 : 0;
}

/* One WARN line per reason per LOG_EVERY_NS, saying how many were quiet
 * since: a flood of refusals must not become a flood of log lines. The
 * thread that moves log_next on writes the line. */
static void log_limited(cam_grpc_server *s, size_t slot, const char *what, const char *peer)
{
	int64_t now = cam_mono_ns(), next = atomic_load_explicit(&s->log_next[slot],
								memory_order_relaxed);
	struct cam_log_line l;

	if (now < next || !atomic_compare_exchange_strong(&s->log_next[slot], &next,
							  now + LOG_EVERY_NS)) {
		atomic_fetch_add_explicit(&s->log_quiet[slot], 1, memory_order_relaxed);
		return;
	}
	if (!cam_log_begin(&l, CAM_LOG_WARN, COMPONENT, what))
		return;
	if (peer)
		cam_log_str(&l, "peer", peer);
	cam_log_int(&l, "suppressed",
		    (int64_t)atomic_exchange_explicit(&s->log_quiet[slot], 0, memory_order_relaxed));
	cam_log_end(&l);
}

void cam_grpc__count_refusal(cam_grpc_server *s, enum cam_grpc__refusal why,
			     const char *peer)
{
	atomic_fetch_add_explicit(&s->refused[why], 1, memory_order_relaxed);
	cam_counter_inc(s->m_refused[why]);
	if (peer)
		log_limited(s, why, refusal_text[why], peer);
}

void cam_grpc__count_closing(cam_grpc_server *s, enum cam_grpc__closing why,
			     const char *peer)
{
	atomic_fetch_add_explicit(&s->closed[why], 1, memory_order_relaxed);
	cam_counter_inc(s->m_closed[why]);
	log_limited(s, REFUSE_COUNT + why, closing_text[why], peer);
}

/* ---- the lists: shaking, idle, closing -------------------------------- */

static void list_del(struct conn *conn)
{
	struct cam_grpc__conn_list *l;

	if (conn->list == CONN_LIST_NONE)
		return;
	l = &conn->loop->lists[conn->list];
	if (conn->list_prev)
		conn->list_prev->list_next = conn->list_next;
	else
		l->head = conn->list_next;
	if (conn->list_next)
		conn->list_next->list_prev = conn->list_prev;
	else
		l->tail = conn->list_prev;
	conn->list_prev = conn->list_next = NULL;
	conn->list = CONN_LIST_NONE;
}

/* Appends conn to list `which` with its timeout counting from now. */
static void list_add(struct conn *conn, enum cam_grpc__conn_list_id which)
{
	struct cam_grpc__conn_list *l = &conn->loop->lists[which];

	list_del(conn);
	conn->list = which;
	conn->list_since_ns = cam_mono_ns();
	conn->list_prev = l->tail;
	if (l->tail)
		l->tail->list_next = conn;
	else
		l->head = conn;
	l->tail = conn;
}

static struct conn *list_head(const struct cam_grpc__loop *s, enum cam_grpc__conn_list_id which)
{
	return s->lists[which].head;
}

void cam_grpc__conn_busy(struct conn *conn)
{
	if (conn->list == CONN_LIST_SHAKING || conn->list == CONN_LIST_IDLE)
		list_del(conn);
}

void cam_grpc__conn_idle(struct conn *conn)
{
	if (conn->list != CONN_LIST_NONE || conn->goaway || conn->dead || conn->ncalls)
		return;
	list_add(conn, conn->handshaken ? CONN_LIST_IDLE : CONN_LIST_SHAKING);
}

void cam_grpc__conn_handshaken(struct conn *conn)
{
	if (conn->handshaken)
		return;
	conn->handshaken = true;
	if (conn->list == CONN_LIST_SHAKING)
		list_add(conn, CONN_LIST_IDLE);
}

void cam_grpc__conn_closing(struct conn *conn)
{
	list_add(conn, CONN_LIST_CLOSING);
}

void cam_grpc__conn_unlist(struct conn *conn)
{
	list_del(conn);
}

/* The connection to give up for a newcomer: an unfinished handshake
 * first, then the one idle longest. */
static struct conn *oldest_idle(struct cam_grpc__loop *s)
{
	struct conn *c = list_head(s, CONN_LIST_SHAKING);

	return c ? c : list_head(s, CONN_LIST_IDLE);
}

static void close_for(struct conn *conn, enum cam_grpc__closing why)
{
	cam_grpc__count_closing(conn->srv, why, conn->peer);
	if (conn->handshaken) {
		cam_grpc__conn_terminate(conn, NGHTTP2_NO_ERROR);
	} else {
		/* No HTTP/2 from the client yet: nothing to say GOAWAY to. */
		list_del(conn);
		conn->dead = true;
		cam_grpc__conn_mark_dirty(conn);
	}
}

bool cam_grpc__limits_admit(struct cam_grpc__loop *l)
{
	cam_grpc_server *s = l->srv;
	struct conn *victim;

	if (atomic_load_explicit(&s->nconns, memory_order_relaxed) < s->max_conns)
		return true;
	/* The cap is for the server; each I/O thread gives up its own oldest
	 * idle connection. */
	victim = oldest_idle(l);
	if (!victim) {
		cam_grpc__count_closing(s, CLOSE_CONNECTION_LIMIT, NULL);
		return false;
	}
	close_for(victim, CLOSE_CONNECTION_LIMIT);
	/* The victim's descriptor is freed at the end of this loop turn; the
	 * cap is a target, passed by one connection at most meanwhile. */
	return true;
}

void cam_grpc__limits_shed(struct cam_grpc__loop *s)
{
	int fd;

	close(s->reserve_fd);
	s->reserve_fd = -1;
	fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		cam_grpc__count_closing(s->srv, CLOSE_CONNECTION_LIMIT, NULL);
	}
	s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* Room for new connections again soon: free the idle ones. */
	if (oldest_idle(s))
		close_for(oldest_idle(s), CLOSE_CONNECTION_LIMIT);
}

/* The time the head of a list is due, or 0 for none. */
static int64_t due(const struct cam_grpc__loop *l, enum cam_grpc__conn_list_id which)
{
	static const int64_t closing_ns = CLOSING_GRACE_MS * 1000000LL;
	const struct conn *c = list_head(l, which);
	int64_t after = which == CONN_LIST_SHAKING ? l->srv->handshake_ns
			: which == CONN_LIST_IDLE ? l->srv->idle_ns : closing_ns;

	return c && after ? c->list_since_ns + after : 0;
}

void cam_grpc__limits_sweep(struct cam_grpc__loop *l)
{
	cam_grpc_server *s = l->srv;
	int64_t now = cam_mono_ns(), t;

	while ((t = due(l, CONN_LIST_SHAKING)) && t <= now)
		close_for(list_head(l, CONN_LIST_SHAKING), CLOSE_HANDSHAKE_TIMEOUT);
	while ((t = due(l, CONN_LIST_IDLE)) && t <= now)
		close_for(list_head(l, CONN_LIST_IDLE), CLOSE_IDLE_TIMEOUT);
	/* Connections past their share of unsent answers that stopped
	 * reading: looked for once a second while the budget is that full. */
	if (cam_grpc__budget_held(s) > s->conn_share &&
	    now >= l->next_stall_scan_ns) {
		l->next_stall_scan_ns = now + STALL_MS * 1000000LL;
		for (struct conn *c = l->conns; c; c = c->next)
			cam_grpc__conn_check_stall(c, now);
	}
	/* A GOAWAY the client never read: stop waiting for it. */
	while ((t = due(l, CONN_LIST_CLOSING)) && t <= now) {
		struct conn *c = list_head(l, CONN_LIST_CLOSING);

		list_del(c);
		c->dead = true;
		cam_grpc__conn_mark_dirty(c);
	}
}

static int ms_until(int64_t at, int64_t now)
{
	return at <= now ? 0 : (int)((at - now + 999999) / 1000000);
}

int cam_grpc__limits_wait_ms(const struct cam_grpc__loop *l)
{
	int64_t now = cam_mono_ns(), t;
	int w = -1;

	for (int i = CONN_LIST_SHAKING; i < CONN_LIST_COUNT; i++)
		if ((t = due(l, (enum cam_grpc__conn_list_id)i))) {
			int u = ms_until(t, now);

			w = w < 0 || u < w ? u : w;
		}
	if (cam_grpc__budget_held(l->srv) > l->srv->conn_share) {
		int u = ms_until(l->next_stall_scan_ns, now);

		w = w < 0 || u < w ? u : w;
	}
	return w;
}
