/*
 * A plain FIFO worker pool behind the executor interface in pool.h: one
 * mutex, one condition variable, intrusive tasks (no allocation per task).
 * The server's default when no other executor is given; it ignores
 * priorities and is unbounded.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/grpc/pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/error.h"
#include "common/xmalloc.h"

struct cam_grpc_pool {
	struct cam_grpc_executor ex;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct cam_grpc_task *head, *tail;
	unsigned long queued;
	unsigned idle;    /* workers waiting on cv */
	bool stopping;    /* workers exit once the queue is empty */
	bool stopped;     /* joined */
	unsigned nthreads;
	pthread_t *threads;
};

static void *worker_main(void *arg)
{
	cam_grpc_pool *p = arg;
	struct cam_grpc_task *t;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stopping) {
			p->idle++;
			pthread_cond_wait(&p->cv, &p->mu);
			p->idle--;
		}
		t = p->head;
		if (!t)
			break;
		p->head = t->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->mu);
		t->next = NULL;
		t->run(t);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static int ex_submit(struct cam_grpc_executor *ex, struct cam_grpc_task *task)
{
	cam_grpc_pool_submit((cam_grpc_pool *)ex, task);
	return 0;
}

static void ex_stop(struct cam_grpc_executor *ex)
{
	cam_grpc_pool_stop((cam_grpc_pool *)ex);
}

static unsigned long ex_queued(struct cam_grpc_executor *ex)
{
	return cam_grpc_pool_queued((cam_grpc_pool *)ex);
}

static const struct cam_grpc_executor_ops pool_ops = {
	.submit = ex_submit,
	.stop = ex_stop,
	.queued = ex_queued,
};

struct cam_grpc_executor *cam_grpc_pool_executor(cam_grpc_pool *p)
{
	return &p->ex;
}

int cam_grpc_pool_new(unsigned nthreads, cam_grpc_pool **out)
{
	cam_grpc_pool *p;
	unsigned i;

	if (nthreads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		nthreads = n > 0 ? (unsigned)n : 1;
	}
	p = cam_xcalloc(1, sizeof(*p));
	p->ex.ops = &pool_ops;
	p->threads = cam_xcalloc(nthreads, sizeof(*p->threads));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
			break;
		p->nthreads++;
	}
	if (p->nthreads < nthreads) {
		cam_grpc_pool_free(p);
		return CAM_EIO;
	}
	*out = p;
	return 0;
}

void cam_grpc_pool_submit(cam_grpc_pool *p, struct cam_grpc_task *task)
{
	bool wake;

	task->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->stopped) {
		pthread_mutex_unlock(&p->mu);
		task->run(task);
		return;
	}
	if (p->tail)
		p->tail->next = task;
	else
		p->head = task;
	p->tail = task;
	p->queued++;
	wake = p->idle > 0;
	pthread_mutex_unlock(&p->mu);
	if (wake)
		pthread_cond_signal(&p->cv);
}

void cam_grpc_pool_stop(cam_grpc_pool *p)
{
	struct cam_grpc_task *left;
	unsigned i;

	pthread_mutex_lock(&p->mu);
	if (p->stopped || p->stopping) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	/* Tasks that slipped in after the last worker left run here. */
	pthread_mutex_lock(&p->mu);
	p->stopped = true;
	left = p->head;
	p->head = p->tail = NULL;
	p->queued = 0;
	pthread_mutex_unlock(&p->mu);
	while (left) {
		struct cam_grpc_task *t = left;

		left = t->next;
		t->next = NULL;
		t->run(t);
	}
}

void cam_grpc_pool_free(cam_grpc_pool *p)
{
	if (!p)
		return;
	cam_grpc_pool_stop(p);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p);
}

unsigned long cam_grpc_pool_queued(cam_grpc_pool *p)
{
	unsigned long n;

	pthread_mutex_lock(&p->mu);
	n = p->queued;
	pthread_mutex_unlock(&p->mu);
	return n;
}
