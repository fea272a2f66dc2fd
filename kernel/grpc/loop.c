/*
 * One I/O thread of the gRPC transport: its epoll loop over its
 * connections, its timers and its hand-back queue, and (loop 0) the
 * listener, whose new connections go to the loop with the fewest. The
 * thread alone touches its sockets and nghttp2 sessions.
 *
 * Each turn: events in (reads feed nghttp2, which runs the h2.c
 * callbacks), finished calls pushed to their sessions, deadlines and
 * connection timers, then one flush per connection that has something to
 * write (coalescing what several calls queued).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "kernel/grpc/internal.h"
#include "kernel/grpc/listen.h"

_Thread_local struct cam_grpc__loop *cam_grpc__this_loop;

static int epoll_add_ptr(int epfd, int fd, void *ptr)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ptr };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

void cam_grpc__loop_wake(struct cam_grpc__loop *l)
{
	uint64_t one = 1;

	if (write(l->evfd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is non-zero already, a wake is due. */
	}
}

/* The loop with the fewest connections (loop 0's view; a new connection
 * is counted where it goes at once, so a burst spreads too). */
static struct cam_grpc__loop *place(cam_grpc_server *s)
{
	struct cam_grpc__loop *best = &s->loops[0];

	for (unsigned i = 1; i < s->nloops; i++)
		if (atomic_load_explicit(&s->loops[i].nconns, memory_order_relaxed) <
		    atomic_load_explicit(&best->nconns, memory_order_relaxed))
			best = &s->loops[i];
	return best;
}

static void hand_over(struct cam_grpc__loop *to, int fd, const struct sockaddr_storage *ss)
{
	struct cam_grpc__newconn *n = cam_xmalloc(sizeof(*n));
	bool was_empty;

	n->fd = fd;
	n->addr = *ss;
	pthread_mutex_lock(&to->done_mu);
	was_empty = !to->inbox && !to->done_head;
	n->next = to->inbox;
	to->inbox = n;
	pthread_mutex_unlock(&to->done_mu);
	if (was_empty)
		cam_grpc__loop_wake(to);
}

static void accept_all(struct cam_grpc__loop *l)
{
	cam_grpc_server *s = l->srv;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(l->lfd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			struct cam_grpc__loop *to = place(s);

			atomic_fetch_add_explicit(&to->nconns, 1, memory_order_relaxed);
			if (to == l)
				cam_grpc__conn_open(l, fd, (struct sockaddr *)&ss);
			else
				hand_over(to, fd, &ss);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if ((errno == EMFILE || errno == ENFILE) && l->reserve_fd >= 0) {
			/* Out of descriptors: the reserve one lets the client at
			 * the head of the backlog hear "no" at once. */
			cam_grpc__limits_shed(l);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* The listener stays readable: pause it, or the loop spins. */
			cam_log(CAM_LOG_WARN, COMPONENT,
				"accept: %s; pausing new connections", strerror(errno));
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->lfd, NULL);
			l->accept_resume = cam_mono_ns() + ACCEPT_PAUSE_NS;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			cam_log(CAM_LOG_WARN, COMPONENT, "accept: %s", strerror(errno));
		}
		break;
	}
}

/* Pushes one finished call to its session (I/O thread). */
static void push_call(struct cam_grpc_call *c)
{
	atomic_store(&c->queued, false);
	if (c->conn) {
		cam_grpc__call_push(c);
		cam_grpc__conn_mark_dirty(c->conn);
	}
	cam_grpc_call_unref(c);
}

void cam_grpc__loop_push_ready(struct cam_grpc__loop *l)
{
	while (l->ready_head) {
		struct cam_grpc_call *c = l->ready_head;

		l->ready_head = c->done_next;
		if (!l->ready_head)
			l->ready_tail = NULL;
		push_call(c);
	}
}

/* Takes what the queue holds: new connections, then finished calls. */
static void drain_done(struct cam_grpc__loop *l)
{
	struct cam_grpc_call *c, *next;
	struct cam_grpc__newconn *n, *nn;
	uint64_t v;

	if (read(l->evfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing new, the lists below may still hold work. */
	}
	pthread_mutex_lock(&l->done_mu);
	c = l->done_head;
	l->done_head = l->done_tail = NULL;
	n = l->inbox;
	l->inbox = NULL;
	pthread_mutex_unlock(&l->done_mu);
	for (; n; n = nn) {
		nn = n->next;
		if (l->draining) {
			close(n->fd);
			atomic_fetch_sub_explicit(&l->nconns, 1, memory_order_relaxed);
		} else {
			cam_grpc__conn_open(l, n->fd, (struct sockaddr *)&n->addr);
		}
		free(n);
	}
	for (; c; c = next) {
		next = c->done_next;
		push_call(c);
	}
}

/* Shutdown began: stop accepting, GOAWAY everywhere, end open streams of
 * streaming methods (they would otherwise hold the drain to its end). */
static void begin_drain(struct cam_grpc__loop *l)
{
	cam_grpc_server *s = l->srv;

	l->draining = true;
	l->drain_deadline = cam_mono_ns() + (int64_t)s->drain_ms * 1000000;
	if (l->lfd >= 0) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->lfd, NULL);
		close(l->lfd);
		l->lfd = -1;
	}
	l->accept_resume = 0;
	for (struct conn *conn = l->conns; conn; conn = conn->next) {
		/* Two GOAWAYs (lifetime.c); the drain deadline is the grace. */
		cam_grpc__lifetime_end(conn, 0);
		for (struct cam_grpc_call *c = conn->calls; c; c = c->conn_next)
			if (c->method && c->method->ops)
				cam_grpc_call_end(c, CAM_GRPC_UNAVAILABLE,
						  "server shutting down");
		cam_grpc__conn_mark_dirty(conn);
	}
}

static void flush_dirty(struct cam_grpc__loop *l)
{
	while (l->dirty) {
		struct conn *conn = l->dirty;

		l->dirty = conn->dirty_next;
		conn->dirty = false;
		if (!conn->dead && cam_grpc__conn_flush(conn) != 0)
			conn->dead = true;
		if (conn->dead)
			cam_grpc__conn_close(conn);
	}
}

/* Writes what a connection's input just produced (its inline calls'
 * answers) at once, when it is the head of the dirty list: a burst that
 * wakes many connections does not hold the first one's answers until the
 * last one's calls have run. The one write per connection per turn stays;
 * one dead or dirtied earlier is left for the end of the turn, where
 * connections are closed. */
static void flush_now(struct cam_grpc__loop *l, struct conn *conn)
{
	if (l->dirty != conn || conn->dead)
		return;
	l->dirty = conn->dirty_next;
	conn->dirty = false;
	if (cam_grpc__conn_flush(conn) != 0) {
		conn->dead = true;
		cam_grpc__conn_mark_dirty(conn); /* closed by flush_dirty */
	}
}

/* Takes the listener back after an accept pause, when its time is up. */
static void accept_maybe_resume(struct cam_grpc__loop *l)
{
	if (!l->accept_resume || cam_mono_ns() < l->accept_resume)
		return;
	l->accept_resume = 0;
	if (l->lfd >= 0)
		epoll_add_ptr(l->epfd, l->lfd, &l->lfd);
}

static int min_wait(int a, int b)
{
	return a < 0 || (b >= 0 && b < a) ? b : a;
}

static int loop_timeout(struct cam_grpc__loop *l)
{
	int64_t left;
	int t = min_wait(cam_grpc__timers_wait_ms(l), cam_grpc__limits_wait_ms(l)), d;

	t = min_wait(t, cam_grpc__lifetime_wait_ms(l));

	if (l->accept_resume)
		t = min_wait(t, (int)(ACCEPT_PAUSE_NS / 1000000));
	if (!l->draining)
		return t;
	left = l->drain_deadline - cam_mono_ns();
	d = left <= 0 ? 0 : (int)(left / 1000000) + 1;
	return min_wait(t, d);
}

static void *io_main(void *arg)
{
	struct cam_grpc__loop *l = arg;
	cam_grpc_server *s = l->srv;
	struct epoll_event evs[128];

	cam_grpc__this_loop = l;
	for (;;) {
		int n;

		if (l->draining && (!l->conns || cam_mono_ns() >= l->drain_deadline))
			break;
		n = epoll_wait(l->epfd, evs, 128, loop_timeout(l));
		if (n < 0 && errno != EINTR) {
			cam_log(CAM_LOG_ERROR, COMPONENT, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &l->lfd) {
				accept_all(l);
			} else if (p == &l->evfd) {
				drain_done(l);
				if (atomic_load(&s->stopping) && !l->draining)
					begin_drain(l);
			} else {
				cam_grpc__conn_event(p, evs[i].events);
				cam_grpc__loop_push_ready(l);
				flush_now(l, p);
			}
		}
		cam_grpc__timers_expire(l);
		cam_grpc__limits_sweep(l);
		cam_grpc__lifetime_sweep(l);
		cam_grpc__loop_push_ready(l);
		accept_maybe_resume(l);
		flush_dirty(l);
	}
	cam_grpc__loop_push_ready(l);
	while (l->conns)
		cam_grpc__conn_close(l->conns);
	cam_grpc__this_loop = NULL;
	return NULL;
}

int cam_grpc__loop_start(struct cam_grpc__loop *l)
{
	int rc;

	l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->evfd < 0 || l->epfd < 0 || epoll_add_ptr(l->epfd, l->evfd, &l->evfd) ||
	    (l->lfd >= 0 && epoll_add_ptr(l->epfd, l->lfd, &l->lfd)))
		return cam_err_from_errno(errno);
	l->reserve_fd = l->lfd >= 0 ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
	rc = pthread_create(&l->thread, NULL, io_main, l);
	if (rc)
		return CAM_EIO;
	l->running = true;
	return 0;
}

/* Drops what the hand-back queue still holds. */
static void drop_done(struct cam_grpc__loop *l)
{
	struct cam_grpc_call *c, *next;
	struct cam_grpc__newconn *n, *nn;

	pthread_mutex_lock(&l->done_mu);
	c = l->done_head;
	l->done_head = l->done_tail = NULL;
	n = l->inbox;
	l->inbox = NULL;
	pthread_mutex_unlock(&l->done_mu);
	for (; c; c = next) {
		next = c->done_next;
		atomic_store(&c->queued, false);
		cam_grpc_call_unref(c);
	}
	for (c = l->ready_head; c; c = next) {
		next = c->done_next;
		atomic_store(&c->queued, false);
		cam_grpc_call_unref(c);
	}
	l->ready_head = l->ready_tail = NULL;
	for (; n; n = nn) {
		nn = n->next;
		close(n->fd);
		free(n);
	}
}

void cam_grpc__loop_free(struct cam_grpc__loop *l)
{
	drop_done(l);
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->evfd >= 0)
		close(l->evfd);
	if (l->lfd >= 0)
		close(l->lfd);
	if (l->reserve_fd >= 0)
		close(l->reserve_fd);
	l->epfd = l->evfd = l->lfd = l->reserve_fd = -1;
	free(l->timers);
	l->timers = NULL;
	cam_grpc__calls_free_cache(l);
	pthread_mutex_destroy(&l->done_mu);
}
