/*
 * The store's event loop (redis_loop.h): epoll, an eventfd that other
 * threads ring when they post to a sleeping loop, a binary heap of timers,
 * and hiredis's event hooks. hiredis calls addWrite after every command it
 * appends; here that only puts the context on the flush list, written once
 * per round, so a round's commands leave together.
 *
 * A context not yet connected waits for EPOLLOUT (the end of a
 * non-blocking connect) before hiredis may write: hiredis 0.14 checks
 * SO_ERROR only, which is 0 while a connect is still in progress.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/memctx/redis_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/xmalloc.h"

#define MAX_EVENTS 64

struct cam_rloop {
	const struct cam_rloop_ops *ops;
	void *arg;
	int ep, wake_fd;
	pthread_t thread;

	pthread_mutex_t lock;            /* the posted list */
	struct cam_rloop_msg *head, *tail;
	_Atomic bool armed;              /* about to sleep: posters ring */
	_Atomic bool stop;

	struct cam_rloop_timer **heap;   /* loop thread only, from here on */
	size_t nheap, cap;
	struct cam_rloop_io *flush;
	bool flushing;
};

/* ---- timers: a min-heap on at_ns, each timer knowing its place ---------- */

static void heap_place(cam_rloop *l, size_t i, struct cam_rloop_timer *t)
{
	l->heap[i] = t;
	t->idx = i + 1;
}

static void heap_up(cam_rloop *l, size_t i)
{
	struct cam_rloop_timer *t = l->heap[i];

	while (i) {
		size_t p = (i - 1) / 2;

		if (l->heap[p]->at_ns <= t->at_ns)
			break;
		heap_place(l, i, l->heap[p]);
		i = p;
	}
	heap_place(l, i, t);
}

static void heap_down(cam_rloop *l, size_t i)
{
	struct cam_rloop_timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && l->heap[c + 1]->at_ns < l->heap[c]->at_ns)
			c++;
		if (l->heap[c]->at_ns >= t->at_ns)
			break;
		heap_place(l, i, l->heap[c]);
		i = c;
	}
	heap_place(l, i, t);
}

void cam_rloop_timer_cancel(cam_rloop *l, struct cam_rloop_timer *t)
{
	struct cam_rloop_timer *last;
	size_t i;

	if (!t->idx)
		return;
	i = t->idx - 1;
	t->idx = 0;
	if (i == --l->nheap)
		return;
	last = l->heap[l->nheap];
	heap_place(l, i, last);
	heap_up(l, i);
	heap_down(l, last->idx - 1);
}

void cam_rloop_timer_set(cam_rloop *l, struct cam_rloop_timer *t, int64_t at_ns)
{
	cam_rloop_timer_cancel(l, t);
	if (l->nheap == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->heap = cam_xrealloc(l->heap, l->cap * sizeof(*l->heap));
	}
	t->at_ns = at_ns;
	heap_place(l, l->nheap++, t);
	heap_up(l, l->nheap - 1);
}

static void run_timers(cam_rloop *l)
{
	int64_t now = cam_mono_ns();

	while (l->nheap && l->heap[0]->at_ns <= now) {
		struct cam_rloop_timer *t = l->heap[0];

		cam_rloop_timer_cancel(l, t);
		t->fn(t);
	}
}

/* Milliseconds to the first timer, rounded up; -1: none. */
static int next_timeout(const cam_rloop *l)
{
	int64_t left;

	if (!l->nheap)
		return -1;
	left = l->heap[0]->at_ns - cam_mono_ns();
	if (left <= 0)
		return 0;
	left = (left + 999999) / 1000000;
	return left > 60000 ? 60000 : (int)left;
}

/* ---- hiredis's hooks ------------------------------------------------------ */

/* EPOLLOUT while connecting, or while hiredis has bytes it could not write. */
static void sync_poll(struct cam_rloop_io *io)
{
	bool out = !io->connected || io->want_write;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0),
				  .data.ptr = io };

	if (!io->ac || out == io->polling_out)
		return;
	if (epoll_ctl(io->loop->ep, EPOLL_CTL_MOD, io->fd, &ev) == 0)
		io->polling_out = out;
}

static void queue_flush(struct cam_rloop_io *io)
{
	cam_rloop *l = io->loop;

	if (io->queued)
		return;
	io->queued = true;
	io->flush_next = l->flush;
	l->flush = io;
}

static void ev_add_write(void *p)
{
	struct cam_rloop_io *io = p;

	io->want_write = true;
	if (!io->loop->flushing)
		queue_flush(io);
}

static void ev_del_write(void *p)
{
	struct cam_rloop_io *io = p;

	io->want_write = false;
	if (!io->loop->flushing && io->polling_out)
		queue_flush(io);
}

static void ev_nothing(void *p)
{
	(void)p;
}

/* hiredis frees the context: out of epoll and off the flush list, then
 * the owner hears of it (io->ac still set, its err and errstr readable). */
static void ev_cleanup(void *p)
{
	struct cam_rloop_io *io = p, **pp;
	cam_rloop *l = io->loop;

	epoll_ctl(l->ep, EPOLL_CTL_DEL, io->fd, NULL);
	if (io->queued) {
		for (pp = &l->flush; *pp; pp = &(*pp)->flush_next)
			if (*pp == io) {
				*pp = io->flush_next;
				break;
			}
		io->queued = false;
	}
	if (io->gone)
		io->gone(io);
	io->ac = NULL;
	io->connected = false;
}

int cam_rloop_attach(cam_rloop *l, struct cam_rloop_io *io, redisAsyncContext *ac)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLOUT, .data.ptr = io };

	if (ac->ev.data)
		return -1;
	io->loop = l;
	io->ac = ac;
	io->fd = ac->c.fd;
	io->connected = false;
	io->want_write = false;
	io->queued = false;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, io->fd, &ev))
		return -1;
	io->polling_out = true;
	ac->ev.data = io;
	ac->ev.addRead = ev_nothing;
	ac->ev.delRead = ev_nothing;
	ac->ev.addWrite = ev_add_write;
	ac->ev.delWrite = ev_del_write;
	ac->ev.cleanup = ev_cleanup;
	return 0;
}

void cam_rloop_connected(struct cam_rloop_io *io)
{
	io->connected = true;
	queue_flush(io);
}

/* Writes what every context on the flush list holds. */
static void flush_all(cam_rloop *l)
{
	while (l->flush) {
		struct cam_rloop_io *io = l->flush;

		l->flush = io->flush_next;
		io->queued = false;
		if (!io->ac)
			continue;
		if (io->connected && io->want_write) {
			l->flushing = true;
			redisAsyncHandleWrite(io->ac);
			l->flushing = false;
		}
		sync_poll(io);
	}
}

static void dispatch(struct cam_rloop_io *io, uint32_t events)
{
	if (!io->ac)
		return;
	if (!io->connected) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			redisAsyncHandleWrite(io->ac);
	} else {
		if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
			redisAsyncHandleRead(io->ac);
		if (io->ac && io->connected && (events & EPOLLOUT)) {
			io->loop->flushing = true;
			redisAsyncHandleWrite(io->ac);
			io->loop->flushing = false;
		}
	}
	if (io->ac)
		sync_poll(io);
}

/* ---- posting ---------------------------------------------------------------- */

void cam_rloop_post(cam_rloop *l, struct cam_rloop_msg *m)
{
	uint64_t one = 1;

	m->next = NULL;
	pthread_mutex_lock(&l->lock);
	if (l->tail)
		l->tail->next = m;
	else
		l->head = m;
	l->tail = m;
	pthread_mutex_unlock(&l->lock);
	if (atomic_load_explicit(&l->armed, memory_order_seq_cst) &&
	    atomic_exchange(&l->armed, false) &&
	    write(l->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		cam_log(CAM_LOG_ERROR, "memctx", "Redis loop wake: %s", strerror(errno));
}

static struct cam_rloop_msg *take_posted(cam_rloop *l)
{
	struct cam_rloop_msg *m;

	pthread_mutex_lock(&l->lock);
	m = l->head;
	l->head = l->tail = NULL;
	pthread_mutex_unlock(&l->lock);
	return m;
}

static bool nothing_posted(cam_rloop *l)
{
	bool empty;

	pthread_mutex_lock(&l->lock);
	empty = !l->head;
	pthread_mutex_unlock(&l->lock);
	return empty;
}

static void *loop_main(void *arg)
{
	cam_rloop *l = arg;
	struct epoll_event evs[MAX_EVENTS];

	while (!atomic_load(&l->stop)) {
		struct cam_rloop_msg *posted;
		int timeout = next_timeout(l), n;

		/* Armed before the last look, so a post after it rings. */
		atomic_store(&l->armed, true);
		if (!nothing_posted(l))
			timeout = 0;
		n = epoll_wait(l->ep, evs, MAX_EVENTS, timeout);
		atomic_store(&l->armed, false);
		for (int i = 0; i < n; i++) {
			if (!evs[i].data.ptr) {
				uint64_t v;

				if (read(l->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					cam_log(CAM_LOG_ERROR, "memctx", "Redis loop wake: %s",
						strerror(errno));
				continue;
			}
			dispatch(evs[i].data.ptr, evs[i].events);
		}
		if ((posted = take_posted(l)))
			l->ops->posted(l->arg, posted);
		run_timers(l);
		l->ops->before_write(l->arg);
		flush_all(l);
	}
	/* What was posted last meets a stopping owner, then the rest goes. */
	{
		struct cam_rloop_msg *posted = take_posted(l);

		if (posted)
			l->ops->posted(l->arg, posted);
	}
	l->ops->stopping(l->arg);
	return NULL;
}

int cam_rloop_new(const struct cam_rloop_ops *ops, void *arg, cam_rloop **out)
{
	cam_rloop *l = cam_xcalloc(1, sizeof(*l));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int rc = CAM_EIO;

	l->ops = ops;
	l->arg = arg;
	pthread_mutex_init(&l->lock, NULL);
	if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		rc = cam_err_from_errno(errno);
		goto out_free;
	}
	if ((l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		rc = cam_err_from_errno(errno);
		goto out_close_ep;
	}
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake_fd, &ev) ||
	    pthread_create(&l->thread, NULL, loop_main, l))
		goto out_close_wake;
	*out = l;
	return 0;
out_close_wake:
	close(l->wake_fd);
out_close_ep:
	close(l->ep);
out_free:
	pthread_mutex_destroy(&l->lock);
	free(l);
	return rc;
}

void cam_rloop_free(cam_rloop *l)
{
	uint64_t one = 1;

	if (!l)
		return;
	atomic_store(&l->stop, true);
	if (write(l->wake_fd, &one, sizeof(one)) < 0)
		cam_log(CAM_LOG_ERROR, "memctx", "Redis loop wake: %s", strerror(errno));
	pthread_join(l->thread, NULL);
	close(l->wake_fd);
	close(l->ep);
	pthread_mutex_destroy(&l->lock);
	free(l->heap);
	free(l);
}
