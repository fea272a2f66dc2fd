/*
 * An event loop thread for hiredis's asynchronous API: one epoll, the
 * hiredis contexts attached to it (the adapter that hiredis/adapters/
 * leaves to the application), a queue that any thread posts messages to,
 * and timers. It is the store's own I/O thread: context calls are posted to
 * it and completed from it, so no caller ever waits on Redis.
 *
 * Writes are gathered: hiredis asks for a write each time a command is
 * appended, and the loop writes every context's buffer once, after it has
 * handled a round of events, messages and timers. So the commands of many
 * calls leave in one write(2), pipelined, and the replies of a pipeline
 * come back in one read(2).
 *
 * Everything but cam_rloop_post and cam_rloop_new/free runs on the loop's
 * thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_MEMCTX_REDIS_LOOP_H
#define CAM_MEMCTX_REDIS_LOOP_H

#include <hiredis/async.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cam_rloop cam_rloop;

/* A message for the loop, embedded in the poster's struct. */
struct cam_rloop_msg {
	struct cam_rloop_msg *next;
};

/* A timer, embedded in its owner's struct; idx 0: not armed. */
struct cam_rloop_timer {
	int64_t at_ns;        /* CLOCK_MONOTONIC */
	size_t idx;           /* place in the heap + 1 */
	void (*fn)(struct cam_rloop_timer *t);
};

/*
 * One hiredis context on the loop, embedded in its owner's struct: the
 * adapter's state. gone runs (on the loop) when hiredis frees the context,
 * by itself after an error or through redisAsyncFree, after every pending
 * reply callback ran with NULL; ac (and its errstr) is still readable in
 * gone and NULL after it. The owner must not free the struct inside a
 * round of events before gone. flush_next is the loop's.
 */
struct cam_rloop_io {
	cam_rloop *loop;
	redisAsyncContext *ac;
	int fd;
	bool connected;       /* hiredis said so (onConnect OK) */
	bool want_write;      /* hiredis has bytes to write */
	bool polling_out;     /* EPOLLOUT registered */
	bool queued;          /* on the flush list */
	void (*gone)(struct cam_rloop_io *io);
	struct cam_rloop_io *flush_next;
};

struct cam_rloop_ops {
	/* Messages posted since the last call, oldest first. */
	void (*posted)(void *arg, struct cam_rloop_msg *list);
	/* Once per round, before the loop writes and then waits. */
	void (*before_write)(void *arg);
	/* The loop is stopping: complete whatever is left. */
	void (*stopping)(void *arg);
};

/* Starts the loop's thread. 0, or a CAM_E* code (no epoll, no thread). */
int cam_rloop_new(const struct cam_rloop_ops *ops, void *arg, cam_rloop **out);
/* Calls ops->stopping on the loop, stops and joins the thread. NULL is a
 * no-op. The owner frees its contexts in stopping. */
void cam_rloop_free(cam_rloop *l);
/* Any thread: m reaches ops->posted on the loop, in posting order. Never
 * blocks beyond a short lock; wakes the loop only when it sleeps. */
void cam_rloop_post(cam_rloop *l, struct cam_rloop_msg *m);

/* Attaches a new context (redisAsyncConnect's) to the loop: 0, or -1
 * (the context is then the caller's to free). */
int cam_rloop_attach(cam_rloop *l, struct cam_rloop_io *io, redisAsyncContext *ac);
/* The connection came up (onConnect OK): writes may start. */
void cam_rloop_connected(struct cam_rloop_io *io);

/* Arms (or re-arms) t for at_ns; cancel disarms (no-op when not armed). */
void cam_rloop_timer_set(cam_rloop *l, struct cam_rloop_timer *t, int64_t at_ns);
void cam_rloop_timer_cancel(cam_rloop *l, struct cam_rloop_timer *t);

#endif
