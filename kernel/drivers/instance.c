/*
 * One thread per helper instance (internal.h): it alone talks to its
 * helper. It runs the invokes handed to it or queued for its driver, asks
 * the driver for its health when idle and due, waits for a late answer
 * after a short client deadline, kills a helper that stays silent or
 * crashes, and restarts it after a back-off.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/utf8.h"
#include "kernel/drivers/internal.h"
#include "kernel/drivers/wire.h"

#define BACKOFF_MIN_NS (100 * MS)
#define BACKOFF_MAX_NS (10000 * MS)
#define STABLE_NS (30000 * MS)      /* up this long: the next crash starts over */
#define HEALTH_EVERY_NS (2000 * MS)
#define HEALTH_TIMEOUT_NS (1000 * MS)
#define DRAIN_SLICE_NS (50 * MS)    /* how often a drain looks for an unload */
#define THREAD_STACK (256 * 1024)

int cam_drivers__instance_start(struct driver *d, struct instance *in, char *err, size_t errlen)
{
	unsigned ms = d->m.timeout_ms > 5000 ? d->m.timeout_ms : 5000;
	int64_t deadline = cam_mono_ns() + (int64_t)ms * MS;
	const char *text;
	size_t len;
	int32_t st;
	int rc;

	rc = cam_drivers__proc_spawn(&in->proc, d->rt->host, d->m.name, d->lib_fd,
			     d->m.memory_limit_mb, err, errlen);
	if (rc)
		return CAM_EUNAVAIL;
	rc = cam_drivers__proc_call(&in->proc, CAM_WIRE_INIT, NULL, d->config, strlen(d->config),
			    deadline, &st, &text, &len);
	if (rc == 0 && st == 0)
		return 0;
	if (rc == 0) {
		snprintf(err, errlen, "%s", text);
		cam_drivers__proc_kill(&in->proc, NULL, 0);
		/* The helper answers in gRPC status codes (wire.h). */
		return st > 0 && st < CAM_GRPC_STATUS_COUNT ? cam_err_from_grpc_status(st)
							    : CAM_EPRECOND;
	}
	if (rc == CAM_ETIMEDOUT) {
		cam_drivers__proc_kill(&in->proc, NULL, 0);
		return cam_drivers__failf(err, errlen, CAM_EPRECOND,
				     "driver %s did not finish init within %u ms", d->m.name, ms);
	} else {
		char how[96];

		cam_drivers__proc_kill(&in->proc, how, sizeof(how));
		return cam_drivers__failf(err, errlen, CAM_EPRECOND,
				     "driver %s helper ended during init (%s)", d->m.name, how);
	}
}

bool cam_drivers__any_live(const struct driver *d)
{
	for (unsigned i = 0; i < d->m.instances; i++)
		if (d->inst[i].state != INST_DOWN)
			return true;
	return false;
}

bool cam_drivers__hand_over(struct driver *d, struct job *j)
{
	for (unsigned i = 0; i < d->m.instances; i++) {
		struct instance *in = &d->inst[i];

		if (in->state == INST_IDLE && !in->job) {
			in->state = INST_BUSY;
			in->job = j;
			pthread_cond_signal(&in->cond);
			return true;
		}
	}
	return false;
}

int64_t cam_drivers__next_restart(const struct driver *d)
{
	int64_t next = INT64_MAX;

	for (unsigned i = 0; i < d->m.instances; i++)
		if (d->inst[i].state == INST_DOWN && d->inst[i].restart_at_ns < next)
			next = d->inst[i].restart_at_ns;
	return next;
}

/*
 * Marks in down with back-off; d->lock held. With nothing left up or
 * starting, the queued jobs whose deadline comes before the next restart
 * go to *failed (the caller fails them); the others wait for it.
 */
static void instance_down(struct driver *d, struct instance *in, int64_t now, const char *why,
			  struct job **failed)
{
	int64_t backoff, next;
	struct job **pp, *j;

	if (now - in->started_ns > STABLE_NS)
		in->crashes = 0;
	in->crashes++;
	backoff = BACKOFF_MIN_NS << (in->crashes > 8 ? 7 : in->crashes - 1);
	if (backoff > BACKOFF_MAX_NS)
		backoff = BACKOFF_MAX_NS;
	in->state = INST_DOWN;
	in->restart_at_ns = now + backoff;
	snprintf(d->last_error, sizeof(d->last_error), "%s", why);
	if (cam_drivers__any_live(d))
		return;
	next = cam_drivers__next_restart(d);
	d->queue_tail = NULL;
	for (pp = &d->queue; (j = *pp) != NULL;) {
		if (j->deadline_ns <= next) {
			*pp = j->next;
			d->queued--;
			j->next = *failed;
			*failed = j;
			continue;
		}
		d->queue_tail = j;
		pp = &j->next;
	}
}

/* Kills the helper after a crash or a hang and marks the instance down;
 * no lock held. what says what happened, for the log and the jobs that
 * were waiting. */
static void recycle(struct instance *in, const char *what)
{
	struct driver *d = in->d;
	struct job *failed = NULL;
	char msg[300];

	cam_drivers__proc_kill(&in->proc, NULL, 0);
	pthread_mutex_lock(&d->lock);
	instance_down(d, in, cam_mono_ns(), what, &failed);
	pthread_mutex_unlock(&d->lock);
	if (failed) {
		snprintf(msg, sizeof(msg), "driver %s is down (%s); it restarts after this "
			 "call's deadline", d->m.name, what);
		cam_drivers__fail_jobs(failed, CAM_EUNAVAIL, msg);
	}
}

static void set_state(struct instance *in, enum inst_state st)
{
	pthread_mutex_lock(&in->d->lock);
	in->state = st;
	pthread_mutex_unlock(&in->d->lock);
}

/*
 * After a missed client deadline: waits for the late answer until kill_at,
 * looking every DRAIN_SLICE_NS for an unload (which stops the wait). 1:
 * it answered; 0: still silent; CAM_ECLOSED: the helper is gone.
 */
static int drain(struct instance *in, int64_t kill_at)
{
	for (;;) {
		int64_t until = cam_mono_ns() + DRAIN_SLICE_NS;
		int rc = cam_drivers__proc_await(&in->proc, until < kill_at ? until : kill_at);
		bool unloading;

		if (rc != 0 || cam_mono_ns() >= kill_at)
			return rc;
		pthread_mutex_lock(&in->d->lock);
		unloading = in->d->state == DRV_UNLOADING;
		pthread_mutex_unlock(&in->d->lock);
		if (unloading)
			return 0;
	}
}

static void run_job(struct instance *in, struct job *j)
{
	struct driver *d = in->d;
	int64_t now = cam_mono_ns(), kill_at;
	char err[300], what[160], how[96];
	const char *text;
	size_t len, n = 0;
	int32_t st = 0;
	int rc;

	if (j->cb.cancelled && j->cb.cancelled(j->cb.arg)) {
		cam_drivers__finish(j, CAM_ECANCELED, NULL, 0, "the caller cancelled", false);
		set_state(in, INST_IDLE);
		return;
	}
	if (now >= j->deadline_ns) {
		snprintf(err, sizeof(err), "no instance of driver %s was free before the deadline",
			 d->m.name);
		cam_drivers__finish(j, CAM_ETIMEDOUT, NULL, 0, err, false);
		set_state(in, INST_IDLE);
		return;
	}
	kill_at = now + (int64_t)d->m.timeout_ms * MS;
	rc = cam_drivers__proc_call(&in->proc, CAM_WIRE_INVOKE, j->op, j->in, j->inlen, j->deadline_ns,
			    &st, &text, &len);
	if (rc == 0) {
		/* The output ends up in a protobuf string: UTF-8 without NULs. */
		if (st == 0 && (!cam_utf8_valid(text, &n) || n != len)) {
			snprintf(err, sizeof(err), "driver %s returned output that is not NUL-free "
				 "UTF-8 (%zu bytes)", d->m.name, len);
			cam_drivers__finish(j, CAM_EINTERNAL, NULL, 0, err, true);
		} else if (st == 0) {
			cam_drivers__finish(j, 0, text, len, NULL, true);
		} else {
			snprintf(err, sizeof(err), "driver %s: %.*s", d->m.name, (int)len, text);
			cam_drivers__finish(j, st > 0 && st < CAM_GRPC_STATUS_COUNT ? cam_err_from_grpc_status(st)
									   : CAM_EINTERNAL,
					    NULL, 0, err, true);
		}
		set_state(in, INST_IDLE);
		return;
	}
	if (rc == CAM_ETIMEDOUT && cam_mono_ns() < kill_at) {
		/* A short client deadline: answer now, keep the helper if it
		 * answers before its own timeout_ms. j is gone after finish. */
		char op[sizeof(j->op)];

		memcpy(op, j->op, sizeof(op));
		snprintf(err, sizeof(err), "driver %s did not answer %s before the deadline "
			 "(it is recycled if still silent after its timeout_ms, %u ms)",
			 d->m.name, op, d->m.timeout_ms);
		cam_drivers__finish(j, CAM_ETIMEDOUT, NULL, 0, err, true);
		set_state(in, INST_DRAINING);
		rc = drain(in, kill_at);
		if (rc == 1) {
			set_state(in, INST_IDLE);
			return;
		}
		snprintf(what, sizeof(what), rc == 0 ? "hung in %s: killed"
			 : "crashed after a late %s", op);
		cam_drivers__log(CAM_LOG_WARN, d, rc == 0 ? "driver hung: killed" : "driver crashed",
			    what);
		recycle(in, what);
		return;
	}
	how[0] = '\0';
	cam_drivers__proc_kill(&in->proc, how, sizeof(how));
	if (rc == CAM_ETIMEDOUT)
		snprintf(what, sizeof(what), "hung in %s: killed", j->op);
	else
		snprintf(what, sizeof(what), "crashed in %s (%s)", j->op,
			 how[0] ? how : "connection lost");
	snprintf(err, sizeof(err), "driver %s %s; it will restart", d->m.name, what);
	cam_drivers__log(CAM_LOG_WARN, d, rc == CAM_ETIMEDOUT ? "driver hung: killed" : "driver crashed",
		    what);
	recycle(in, what);
	cam_drivers__finish(j, rc == CAM_ETIMEDOUT ? CAM_ETIMEDOUT : CAM_EUNAVAIL, NULL, 0,
		       err, true);
}

/* Asks the driver for its health (the instance is BUSY; no lock held). */
static void poll_health(struct instance *in)
{
	struct driver *d = in->d;
	const char *text;
	char what[160];
	size_t len;
	int32_t st = 0;
	int rc = cam_drivers__proc_call(&in->proc, CAM_WIRE_HEALTH, NULL, NULL, 0,
				cam_mono_ns() + HEALTH_TIMEOUT_NS, &st, &text, &len);

	if (rc == 0) {
		pthread_mutex_lock(&d->lock);
		d->health = st;
		snprintf(d->health_msg, sizeof(d->health_msg), "%.*s", (int)len, text);
		in->state = INST_IDLE;
		pthread_mutex_unlock(&d->lock);
		return;
	}
	snprintf(what, sizeof(what), rc == CAM_ETIMEDOUT ? "hung in health: killed"
		 : "crashed in health");
	cam_drivers__log(CAM_LOG_WARN, d, rc == CAM_ETIMEDOUT ? "driver hung: killed" : "driver crashed",
		    what);
	recycle(in, what);
}

/* Starts the helper again after its back-off (state DOWN; no lock held). */
static void restart(struct instance *in)
{
	struct driver *d = in->d;
	struct job *failed = NULL;
	int64_t now = cam_mono_ns();
	char err[200], msg[400];
	int rc;

	pthread_mutex_lock(&d->lock);
	in->state = INST_STARTING;
	d->restarts++;
	d->last_restart_ns = now;
	pthread_mutex_unlock(&d->lock);
	cam_counter_inc(d->restarts_s);
	rc = cam_drivers__instance_start(d, in, err, sizeof(err));
	pthread_mutex_lock(&d->lock);
	if (rc == 0) {
		in->state = INST_IDLE;
		in->started_ns = cam_mono_ns();
		d->health_at_ns = 0; /* ask the new helper soon */
	} else {
		in->started_ns = now;
		instance_down(d, in, cam_mono_ns(), err, &failed);
	}
	pthread_mutex_unlock(&d->lock);
	cam_drivers__log(rc ? CAM_LOG_WARN : CAM_LOG_INFO, d,
		    rc ? "driver restart failed" : "driver restarted", rc ? err : NULL);
	if (failed) {
		snprintf(msg, sizeof(msg), "driver %s is down (%s); it restarts after this "
			 "call's deadline", d->m.name, err);
		cam_drivers__fail_jobs(failed, CAM_EUNAVAIL, msg);
	}
}

static void *instance_main(void *arg)
{
	struct instance *in = arg;
	struct driver *d = in->d;
	struct job *j;
	bool idle;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		int64_t now = cam_mono_ns();

		if ((j = in->job) != NULL) {
			in->job = NULL;
			pthread_mutex_unlock(&d->lock);
			run_job(in, j);
			pthread_mutex_lock(&d->lock);
			continue;
		}
		if (d->state == DRV_UNLOADING)
			break;
		if (in->state == INST_DOWN) {
			if (now < in->restart_at_ns) {
				cam_drivers__cond_wait_until(&in->cond, &d->lock, in->restart_at_ns);
				continue;
			}
			pthread_mutex_unlock(&d->lock);
			restart(in);
			pthread_mutex_lock(&d->lock);
			continue;
		}
		if ((j = cam_drivers__queue_pop(d)) != NULL) {
			in->state = INST_BUSY;
			pthread_mutex_unlock(&d->lock);
			run_job(in, j);
			pthread_mutex_lock(&d->lock);
			continue;
		}
		if (now - d->health_at_ns >= HEALTH_EVERY_NS) {
			d->health_at_ns = now;
			in->state = INST_BUSY;
			pthread_mutex_unlock(&d->lock);
			poll_health(in);
			pthread_mutex_lock(&d->lock);
			continue;
		}
		cam_drivers__cond_wait_until(&in->cond, &d->lock, d->health_at_ns + HEALTH_EVERY_NS);
	}
	idle = in->state == INST_IDLE;
	pthread_mutex_unlock(&d->lock);
	if (idle)
		cam_drivers__proc_stop(&in->proc, 1000);
	else
		cam_drivers__proc_kill(&in->proc, NULL, 0);
	set_state(in, INST_DOWN);
	return NULL;
}

int cam_drivers__threads_start(struct driver *d)
{
	pthread_attr_t attr;
	int rc = 0;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	for (unsigned i = 0; i < d->m.instances && !rc; i++) {
		struct instance *in = &d->inst[i];

		if (pthread_create(&in->thread, &attr, instance_main, in))
			rc = CAM_EINTERNAL;
		else
			in->has_thread = true;
	}
	pthread_attr_destroy(&attr);
	if (rc) {
		/* Still in the table (LOADING): the table's readers hold rt->lock. */
		pthread_mutex_lock(&d->rt->lock);
		pthread_mutex_lock(&d->lock);
		d->state = DRV_UNLOADING;
		pthread_mutex_unlock(&d->lock);
		pthread_mutex_unlock(&d->rt->lock);
		cam_drivers__threads_join(d);
	}
	return rc;
}

void cam_drivers__threads_join(struct driver *d)
{
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < CAM_MANIFEST_MAX_INSTANCES; i++)
		pthread_cond_signal(&d->inst[i].cond);
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < CAM_MANIFEST_MAX_INSTANCES; i++)
		if (d->inst[i].has_thread) {
			pthread_join(d->inst[i].thread, NULL);
			d->inst[i].has_thread = false;
		}
}
