/*
 * Invokes (internal.h): the checks, the hand-over to an idle instance or
 * the driver's queue, the figures each answer adds to, the sweeper that
 * answers queued invokes on time, and a waiting wrapper for tests.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "include/cam/driver.h"
#include "kernel/drivers/internal.h"
#include "common/grpc_status.h"

#define SWEEP_IDLE_NS (1000 * MS) /* the sweeper's longest sleep */

/* Counted by the gRPC status the invoke is answered with. */
static void count_invocation(struct driver *d, int rc)
{
	int status = cam_err_grpc_status(rc);
	cam_series *s;

	s = atomic_load_explicit(&d->by_status[status], memory_order_acquire);
	if (!s) {
		const char *v[] = { d->m.name, cam_grpc_status_name(status), NULL };

		s = cam_series_get(d->rt->invocations, v);
		atomic_store_explicit(&d->by_status[status], s, memory_order_release);
	}
	cam_counter_inc(s);
}

void cam_drivers__finish(struct job *j, int rc, const char *out, size_t outlen,
		    const char *err, bool reached)
{
	struct driver *d = j->d;

	if (reached) {
		pthread_mutex_lock(&d->lock);
		d->invocations++;
		if (rc == 0)
			d->revenue += d->m.price_micro_usd;
		pthread_mutex_unlock(&d->lock);
		if (rc == 0 && d->m.price_micro_usd)
			cam_counter_add(d->revenue_s, (double)d->m.price_micro_usd);
	}
	count_invocation(d, rc);
	cam_histogram_observe(d->duration, (double)(cam_mono_ns() - j->t0) / 1e9);
	j->cb.done(j->cb.arg, rc, rc == 0 ? out : NULL, rc == 0 ? outlen : 0,
		   rc == 0 ? NULL : err ? err : "");
	free(j);
	cam_drivers__unref(d);
}

void cam_drivers__fail_jobs(struct job *list, int status, const char *msg)
{
	while (list) {
		struct job *next = list->next;

		cam_drivers__finish(list, status, NULL, 0, msg, false);
		list = next;
	}
}

struct job *cam_drivers__queue_pop(struct driver *d)
{
	struct job *j = d->queue;

	if (j) {
		d->queue = j->next;
		if (!d->queue)
			d->queue_tail = NULL;
		d->queued--;
		j->next = NULL;
	}
	return j;
}

struct job *cam_drivers__queue_take_all(struct driver *d)
{
	struct job *list = d->queue;

	d->queue = d->queue_tail = NULL;
	d->queued = 0;
	return list;
}

/* The loaded driver called name, with a ref taken; NULL if none. */
static struct driver *find_ref(cam_drivers *rt, const char *name)
{
	struct driver *d = NULL;

	pthread_mutex_lock(&rt->lock);
	if ((d = cam_drivers__find_loaded(rt, name)) != NULL) {
		pthread_mutex_lock(&d->lock);
		d->refs++;
		pthread_mutex_unlock(&d->lock);
	}
	pthread_mutex_unlock(&rt->lock);
	return d;
}

/* Refuses j before any helper sees it. */
static void refuse(struct job *j, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void refuse(struct job *j, int status, const char *fmt, ...)
{
	char err[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, sizeof(err), fmt, ap);
	va_end(ap);
	cam_drivers__finish(j, status, NULL, 0, err, false);
}

/* Puts j in the hands of an instance or in the queue; refuses it when the
 * driver is going, has too many waiting, or is down until after j's
 * deadline (down with a restart due before it, j waits for the restart). */
static void place(struct driver *d, struct job *j)
{
	int64_t next, now;
	char why[sizeof(d->last_error)];
	cam_drivers *rt = d->rt;

	pthread_mutex_lock(&d->lock);
	if (d->state != DRV_LOADED) {
		pthread_mutex_unlock(&d->lock);
		refuse(j, CAM_EUNAVAIL, "driver %s is being unloaded", d->m.name);
		return;
	}
	if (cam_drivers__hand_over(d, j)) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	if (!cam_drivers__any_live(d) && (next = cam_drivers__next_restart(d)) >= j->deadline_ns) {
		memcpy(why, d->last_error, sizeof(why));
		pthread_mutex_unlock(&d->lock);
		now = cam_mono_ns();
		refuse(j, CAM_EUNAVAIL, "driver %s is down (%s); next restart in %lld ms, after this "
		       "call's deadline",
		       d->m.name, why, (long long)(next > now ? (next - now) / MS : 0));
		return;
	}
	if (d->queued >= WAITERS_PER_INSTANCE * d->m.instances) {
		unsigned n = d->queued;

		pthread_mutex_unlock(&d->lock);
		refuse(j, CAM_ELIMIT, "driver %s has %u invokes waiting already",
		       d->m.name, n);
		return;
	}
	if (d->queue_tail)
		d->queue_tail->next = j;
	else
		d->queue = j;
	d->queue_tail = j;
	d->queued++;
	pthread_mutex_unlock(&d->lock);
	/* The sweeper answers it if no instance takes it before its deadline. */
	pthread_mutex_lock(&rt->lock);
	rt->queued_gen++;
	pthread_cond_signal(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
}

void cam_drivers_invoke_async(cam_drivers *rt, const char *name, const char *op,
			      const char *in, size_t inlen, int64_t deadline_ns,
			      const struct cam_driver_done *cb)
{
	int64_t t0 = cam_mono_ns();
	struct driver *d;
	struct job *j;
	char err[160];

	if (!name || !(d = find_ref(rt, name))) {
		snprintf(err, sizeof(err), "driver %.64s is not loaded", name ? name : "");
		cb->done(cb->arg, CAM_ENOENT, NULL, 0, err);
		return;
	}
	if (inlen > CAM_DRIVER_MAX_INPUT)
		inlen = CAM_DRIVER_MAX_INPUT + 1; /* refused below; copy no more */
	j = cam_xmalloc(sizeof(*j) + inlen + 1);
	memset(j, 0, sizeof(*j));
	j->d = d;
	j->cb = *cb;
	j->t0 = t0;
	if (!op || !cam_manifest_has_cap(&d->m, op)) {
		refuse(j, CAM_EINVAL,
		       "driver %s has no operation '%.64s' (see its capabilities)", d->m.name,
		       op ? op : "");
		return;
	}
	if (inlen > CAM_DRIVER_MAX_INPUT) {
		refuse(j, CAM_EINVAL, "input is larger than %d bytes",
		       CAM_DRIVER_MAX_INPUT);
		return;
	}
	snprintf(j->op, sizeof(j->op), "%s", op);
	if (inlen)
		memcpy(j->in, in, inlen);
	j->in[inlen] = '\0';
	j->inlen = inlen;
	j->deadline_ns = t0 + (int64_t)d->m.timeout_ms * MS;
	if (deadline_ns && deadline_ns < j->deadline_ns)
		j->deadline_ns = deadline_ns;
	if (j->deadline_ns <= t0) {
		refuse(j, CAM_ETIMEDOUT, "the deadline passed before driver %s was called",
		       d->m.name);
		return;
	}
	place(d, j);
}

/* ---- the sweeper ------------------------------------------------------ */

/* Takes d's queued jobs that are past their deadline or cancelled into
 * *late / *gone; returns the earliest deadline still queued. */
static int64_t sweep_driver(struct driver *d, int64_t now, struct job **late, struct job **gone)
{
	int64_t earliest = INT64_MAX;
	struct job **pp, *j;

	pthread_mutex_lock(&d->lock);
	d->queue_tail = NULL;
	for (pp = &d->queue; (j = *pp) != NULL;) {
		bool cancelled = j->cb.cancelled && j->cb.cancelled(j->cb.arg);

		if (now >= j->deadline_ns || cancelled) {
			*pp = j->next;
			d->queued--;
			j->next = cancelled ? *gone : *late;
			*(cancelled ? gone : late) = j;
			continue;
		}
		if (j->deadline_ns < earliest)
			earliest = j->deadline_ns;
		d->queue_tail = j;
		pp = &j->next;
	}
	pthread_mutex_unlock(&d->lock);
	return earliest;
}

void *cam_drivers__sweep(void *arg)
{
	cam_drivers *rt = arg;
	struct driver *pinned[CAM_DRIVERS_MAX];

	pthread_mutex_lock(&rt->lock);
	while (!rt->stopping) {
		uint64_t gen = rt->queued_gen;
		int64_t now = cam_mono_ns(), wake = now + SWEEP_IDLE_NS;
		size_t n = 0;

		for (size_t i = 0; i < rt->n; i++)
			if (rt->table[i]->state == DRV_LOADED) {
				struct driver *d = rt->table[i];

				pthread_mutex_lock(&d->lock);
				d->refs++;
				pthread_mutex_unlock(&d->lock);
				pinned[n++] = d;
			}
		pthread_mutex_unlock(&rt->lock);
		for (size_t k = 0; k < n; k++) {
			struct driver *d = pinned[k];
			struct job *late = NULL, *gone = NULL;
			int64_t e = sweep_driver(d, now, &late, &gone);
			char msg[160];

			if (e < wake)
				wake = e;
			snprintf(msg, sizeof(msg),
				 "no instance of driver %s was free before the deadline", d->m.name);
			cam_drivers__fail_jobs(late, CAM_ETIMEDOUT, msg);
			cam_drivers__fail_jobs(gone, CAM_ECANCELED, "the caller cancelled");
			cam_drivers__unref(d);
		}
		pthread_mutex_lock(&rt->lock);
		if (!rt->stopping && rt->queued_gen == gen)
			cam_drivers__cond_wait_until(&rt->cond, &rt->lock, wake);
	}
	pthread_mutex_unlock(&rt->lock);
	return NULL;
}

/* ---- waiting for the answer ------------------------------------------- */

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int status;
	char *out;
	size_t outlen;
	char *err;
	size_t errlen;
};

static void wake(void *arg, int status, const char *out, size_t outlen, const char *err)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->lock);
	w->status = status;
	if (status == 0) {
		w->out = cam_xmalloc(outlen + 1);
		memcpy(w->out, out, outlen + 1);
		w->outlen = outlen;
	} else {
		snprintf(w->err, w->errlen, "%s", err);
	}
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int cam_drivers_invoke(cam_drivers *rt, const char *name, const char *op,
		       const char *in, size_t inlen, int64_t deadline_ns,
		       char **out, size_t *outlen, char *err, size_t errlen)
{
	struct waiter w = { .err = err, .errlen = errlen };

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	cam_drivers_invoke_async(rt, name, op, in, inlen, deadline_ns,
				 &(struct cam_driver_done){ wake, NULL, &w });
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	*out = w.out;
	*outlen = w.outlen;
	return w.status;
}
