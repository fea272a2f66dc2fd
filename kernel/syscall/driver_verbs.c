/*
 * driver_list, driver_load, driver_unload and driver_invoke: the payload
 * side of the driver runtime (kernel/drivers/runtime.h), and its "Driver
 * Runtime" health component.
 *
 * None of them holds a syscall worker while a driver runs: driver_invoke
 * defers its call to the runtime, which completes it from an instance
 * thread; driver_load (which runs the driver's init) and driver_unload
 * (which waits for invokes in flight) run on a short-lived thread of
 * their own, at most ADMIN_MAX at a time.
 *
 *   driver_list                          loaded drivers and those available
 *   driver_load    driver:NAME[,config:TEXT]
 *   driver_unload  driver:NAME           waits for the invokes in flight
 *   driver_invoke  driver:NAME,operation:OP[,timeout_ms:N][,payload:TEXT]
 *                  (payload last: it may hold commas; without it the
 *                  request's binary data is the input)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/driver_verbs.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "kernel/syscall/resource.h"
#include "kernel/drivers/manifest.h"
#include "kernel/security/auth.h"

#define ADMIN_MAX 8

/* A load or unload thread's place: joined once it has said it is done,
 * so nothing of it (its metric shard, say) outlives stop. */
enum slot_state { SLOT_FREE, SLOT_RUNNING, SLOT_DONE };

struct cam_driver_verbs {
	struct cam_driver_verbs_opts o;
	/* The load and unload threads; stop waits for and joins them. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned running;
	bool stopping;
	pthread_t threads[ADMIN_MAX];
	enum slot_state slots[ADMIN_MAX];
};

/* What a load or unload thread is handed. */
struct admin_job {
	cam_driver_verbs *v;
	struct cam_syscall *sc;
	unsigned slot;
};

/* Joins the threads that are done; caller holds v->lock. They have only
 * their exit left, so this waits no longer than that. */
static void reap(cam_driver_verbs *v)
{
	for (unsigned i = 0; i < ADMIN_MAX; i++)
		if (v->slots[i] == SLOT_DONE) {
			pthread_join(v->threads[i], NULL);
			v->slots[i] = SLOT_FREE;
		}
}

static int by_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Names of the folders in the drivers folder that hold a manifest.json,
 * sorted and ';'-separated, into the result under "available". */
static void add_available(cam_drivers *rt, struct cam_syscall *sc)
{
	char found[CAM_DRIVERS_MAX * 2][CAM_MANIFEST_MAX_NAME + 1];
	char list[sizeof(found)] = "", path[4096];
	size_t n = 0, used = 0;
	struct dirent *e;
	struct stat st;
	DIR *dir = opendir(cam_drivers_dir(rt));

	while (dir && n < CAM_DRIVERS_MAX * 2 && (e = readdir(dir))) {
		if (!cam_manifest_name_valid(e->d_name, CAM_MANIFEST_MAX_NAME))
			continue;
		snprintf(path, sizeof(path), "%s/%s/manifest.json", cam_drivers_dir(rt),
			 e->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		memcpy(found[n++], e->d_name, strlen(e->d_name) + 1); /* name_valid: <= 48 */
	}
	if (dir)
		closedir(dir);
	qsort(found, n, sizeof(found[0]), by_str);
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ";" : "",
					 found[i]);
	cam_result_add(&sc->result, "available", list);
}

static int driver_list(void *ctx, struct cam_syscall *sc)
{
	static const char *const health[] = { "healthy", "degraded", "unhealthy" };
	cam_driver_verbs *v = ctx;
	struct cam_driver_info *info;
	size_t n;

	info = calloc(CAM_DRIVERS_MAX, sizeof(*info));
	if (!info)
		return cam_syscall_fail(sc, CAM_ENOMEM, "out of memory");
	n = cam_drivers_list(v->o.drivers, info, CAM_DRIVERS_MAX);
	cam_result_addf(&sc->result, "loaded", "%zu", n);
	add_available(v->o.drivers, sc);
	for (size_t i = 0; i < n && i < CAM_DRIVERS_MAX; i++) {
		const struct cam_driver_info *d = &info[i];

		cam_result_addf(&sc->result, d->m.name,
				"version=%s;instances=%u/%u;invocations=%llu;restarts=%llu;"
				"price_micro_usd=%llu;revenue_micro_usd=%llu;health=%s",
				d->m.version, d->up, d->m.instances,
				(unsigned long long)d->invocations,
				(unsigned long long)d->restarts,
				(unsigned long long)d->m.price_micro_usd,
				(unsigned long long)d->revenue_micro_usd,
				d->health < 0 ? "unknown" : health[d->health]);
	}
	free(info);
	return 0;
}

/* The value of a required key; NULL (the call failed) when it is missing
 * or empty. */
static const char *need(struct cam_syscall *sc, const char *key, int *rc)
{
	const char *v = cam_payload_get(sc->payload, key);

	if (v && *v)
		return v;
	*rc = cam_syscall_fail(sc, CAM_EINVAL, "payload key '%s' is missing", key);
	return NULL;
}

/* Runs fn on a thread of its own and defers the call; fn completes it
 * through admin_done. */
static int defer_admin(cam_driver_verbs *v, struct cam_syscall *sc, void *(*fn)(void *))
{
	struct admin_job *job;
	unsigned slot = 0;
	int rc;

	pthread_mutex_lock(&v->lock);
	reap(v);
	if (v->stopping || v->running >= ADMIN_MAX) {
		bool stopping = v->stopping;

		pthread_mutex_unlock(&v->lock);
		return stopping ? cam_syscall_fail(sc, CAM_EUNAVAIL, "the kernel is stopping")
			: cam_syscall_fail(sc, CAM_ELIMIT,
					   "%d driver loads and unloads are running already; "
					   "try again when one ends", ADMIN_MAX);
	}
	while (v->slots[slot] != SLOT_FREE)
		slot++; /* running < ADMIN_MAX and none done: one is free */
	v->slots[slot] = SLOT_RUNNING;
	v->running++;
	job = cam_xmalloc(sizeof(*job));
	*job = (struct admin_job){ v, sc, slot };
	rc = pthread_create(&v->threads[slot], NULL, fn, job);
	pthread_mutex_unlock(&v->lock);
	if (rc == 0)
		return CAM_SYSCALL_DEFERRED;
	free(job);
	pthread_mutex_lock(&v->lock);
	v->slots[slot] = SLOT_FREE;
	v->running--;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	return cam_syscall_fail(sc, CAM_EUNAVAIL, "cannot start a thread for the driver verb");
}

/* Completes the job's call and lets stop know the thread is done; the
 * last thing a load or unload thread does. */
static void *admin_done(struct admin_job *job, int rc)
{
	cam_driver_verbs *v = job->v;

	unsigned slot = job->slot;

	cam_syscall_complete(job->sc, rc);
	free(job);
	pthread_mutex_lock(&v->lock);
	v->slots[slot] = SLOT_DONE;
	v->running--;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

static void *load_thread(void *arg)
{
	struct admin_job *job = arg;
	struct cam_syscall *sc = job->sc;
	const char *name = cam_payload_get(sc->payload, "driver");
	struct cam_driver_loaded info;
	int rc = cam_drivers_load(job->v->o.drivers, name, cam_payload_get(sc->payload, "config"),
				  &info, sc->error, sizeof(sc->error));

	if (rc == 0) {
		cam_result_add(&sc->result, "driver", name);
		cam_result_add(&sc->result, "version", info.version);
		cam_result_addf(&sc->result, "instances", "%u", info.instances);
		cam_result_add(&sc->result, "sha256", info.sha256);
		cam_result_addf(&sc->result, "load_ms", "%.3f", info.load_seconds * 1e3);
	}
	return admin_done(job, rc);
}

static int driver_load(void *ctx, struct cam_syscall *sc)
{
	int rc = 0;

	if (!need(sc, "driver", &rc))
		return rc;
	return defer_admin(ctx, sc, load_thread);
}

static void *unload_thread(void *arg)
{
	struct admin_job *job = arg;
	struct cam_syscall *sc = job->sc;
	const char *name = cam_payload_get(sc->payload, "driver");
	int rc = cam_drivers_unload(job->v->o.drivers, name, sc->error, sizeof(sc->error));

	if (rc == 0) {
		cam_result_add(&sc->result, "driver", name);
		cam_result_add(&sc->result, "unloaded", "true");
	}
	return admin_done(job, rc);
}

static int driver_unload(void *ctx, struct cam_syscall *sc)
{
	int rc = 0;

	if (!need(sc, "driver", &rc))
		return rc;
	return defer_admin(ctx, sc, unload_thread);
}

/* The request's deadline, shortened by timeout_ms when given. */
static int invoke_deadline(struct cam_syscall *sc, int64_t *deadline)
{
	const char *t = cam_payload_get(sc->payload, "timeout_ms");
	char *end;
	long ms;

	*deadline = sc->deadline_ns;
	if (!t)
		return 0;
	ms = strtol(t, &end, 10);
	if (!*t || *end || ms < 1 || ms > 600000)
		return cam_syscall_fail(sc, CAM_EINVAL, "timeout_ms must be a number from 1 to 600000");
	if (!*deadline || cam_mono_ns() + ms * 1000000LL < *deadline)
		*deadline = cam_mono_ns() + ms * 1000000LL;
	return 0;
}

static void invoke_done(void *arg, int rc, const char *out, size_t outlen, const char *err)
{
	struct cam_syscall *sc = arg;

	(void)outlen; /* NUL-free UTF-8: the string is the whole output */
	if (rc == 0) {
		cam_result_add(&sc->result, "driver", cam_payload_get(sc->payload, "driver"));
		cam_result_add(&sc->result, "operation", cam_payload_get(sc->payload, "operation"));
		cam_result_add(&sc->result, "output", out);
	} else {
		snprintf(sc->error, sizeof(sc->error), "%s", err);
	}
	cam_syscall_complete(sc, rc);
}

static bool invoke_cancelled(void *arg)
{
	return cam_syscall_cancelled(arg);
}

static int driver_invoke(void *ctx, struct cam_syscall *sc)
{
	cam_driver_verbs *v = ctx;
	const char *name, *op, *in = cam_payload_get(sc->payload, "payload");
	size_t inlen = in ? strlen(in) : 0;
	int64_t deadline;
	int rc = 0;

	if (!(name = need(sc, "driver", &rc)) || !(op = need(sc, "operation", &rc)) ||
	    (rc = invoke_deadline(sc, &deadline)))
		return rc;
	if (!in && sc->data_len) {
		in = (const char *)sc->data;
		inlen = sc->data_len;
	}
	/* From here the runtime owns sc: invoke_done completes it, maybe
	 * before this returns. */
	cam_drivers_invoke_async(v->o.drivers, name, op, in ? in : "", inlen, deadline,
				 &(struct cam_driver_done){ invoke_done, invoke_cancelled, sc });
	return CAM_SYSCALL_DEFERRED;
}

static enum cam_component_status probe(void *arg, char *msg, size_t msglen)
{
	static const enum cam_component_status map[] = {
		CAM_COMPONENT_HEALTHY, CAM_COMPONENT_DEGRADED, CAM_COMPONENT_UNHEALTHY,
	};

	return map[cam_drivers_health(arg, msg, msglen)];
}

/* The driver a call acts on, for the policy. */
static int driver_resource(void *ctx, struct cam_syscall *sc, char *buf, size_t len)
{
	(void)ctx;
	return cam_resource_from_key(sc, "driver", "driver", buf, len);
}

static const char *const K_NONE[] = { NULL };
static const char *const K_LOAD[] = { "driver", "config", NULL };
static const char *const K_UNLOAD[] = { "driver", NULL };
static const char *const K_INVOKE[] = { "driver", "operation", "timeout_ms", "payload", NULL };

/* Load, unload and invoke defer: their handlers never wait on a driver.
 * They still run on a worker, not inline on an I/O thread: they take the
 * driver table's lock, which a slow unload holds. */
static const struct cam_verb rows[] = {
	/* Reads the drivers folder. */
	{ .name = "driver_list", .fn = driver_list, .keys = K_NONE, .scope = CAM_SCOPE_READ,
	  .may_block = true },
	{ .name = "driver_load", .fn = driver_load, .resource = driver_resource, .keys = K_LOAD, .scope = CAM_SCOPE_ADMIN,
	  .may_block = true },
	{ .name = "driver_unload", .fn = driver_unload, .resource = driver_resource, .keys = K_UNLOAD, .scope = CAM_SCOPE_ADMIN,
	  .may_block = true },
	{ .name = "driver_invoke", .fn = driver_invoke, .resource = driver_resource, .keys = K_INVOKE, .scope = CAM_SCOPE_WRITE,
	  .may_block = true },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

int cam_driver_verbs_new(const struct cam_driver_verbs_opts *o, cam_driver_verbs **out)
{
	cam_driver_verbs *v;
	int rc;

	if (!o->drivers)
		return CAM_EINVAL;
	v = cam_xcalloc(1, sizeof(*v));
	v->o = *o;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	if ((rc = cam_verbs_add(o->verbs, "drivers", rows, NROWS, v)))
		goto out_free;
	if (o->components &&
	    (rc = cam_components_set(o->components, "Driver Runtime", probe, o->drivers)))
		goto out_remove_rows;
	*out = v;
	return 0;
out_remove_rows:
	cam_verbs_remove(o->verbs, rows, NROWS);
out_free:
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	free(v);
	return rc;
}

void cam_driver_verbs_stop(cam_driver_verbs *v)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->lock);
	v->stopping = true;
	while (v->running > 0)
		pthread_cond_wait(&v->cond, &v->lock);
	reap(v);
	pthread_mutex_unlock(&v->lock);
}

void cam_driver_verbs_free(cam_driver_verbs *v)
{
	if (!v)
		return;
	cam_driver_verbs_stop(v);
	cam_components_clear(v->o.components, "Driver Runtime");
	cam_verbs_remove(v->o.verbs, rows, NROWS);
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	free(v);
}
