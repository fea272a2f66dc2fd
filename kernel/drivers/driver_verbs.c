/*
 * driver_list, driver_load, driver_unload and driver_invoke: the payload
 * side of the driver runtime (runtime.h), plus its start and stop.
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
#include "kernel/drivers/driver_verbs.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/log.h"
#include "kernel/drivers/proc.h"
#include "kernel/drivers/runtime.h"
#include "kernel/grpc/server.h"
#include "kernel/syscall/service.h"
#include "kernel/syscall/syscall.h"

#define ADMIN_MAX 8

static cam_drivers *runtime;
/* Guards runtime for the metrics collector, which runs on the publisher's
 * thread and may outlive the runtime. */
static pthread_mutex_t collect_lock = PTHREAD_MUTEX_INITIALIZER;

/* The load and unload threads running now; stop waits for them. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned running;
	bool stopping;
} admin = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false };

static enum cam_component_status probe(void *arg, char *msg, size_t msglen)
{
	static const enum cam_component_status map[] = {
		CAM_COMPONENT_HEALTHY, CAM_COMPONENT_DEGRADED, CAM_COMPONENT_UNHEALTHY,
	};

	return map[cam_drivers_health(arg, msg, msglen)];
}

static void autoload_all(const char *list)
{
	char buf[1024], *save = NULL, *tok, err[256];

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *p = buf; (tok = strtok_r(p, ", ", &save)); p = NULL) {
		int st = cam_drivers_load(runtime, tok, NULL, NULL, err, sizeof(err));

		if (st)
			cam_log(CAM_LOG_ERROR, "driver_runtime", "autoload of %s failed: %s", tok, err);
	}
}

static void collect(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&collect_lock);
	if (runtime)
		cam_drivers_collect(runtime);
	pthread_mutex_unlock(&collect_lock);
}

int cam_drivers_start(const char *dir, const char *host, const char *autoload,
		      cam_family *load_time)
{
	static bool collector_added; /* collectors cannot be removed: add once */
	struct cam_drivers_opts o = { .dir = dir, .host = host, .load_time = load_time };
	cam_drivers *rt;
	int rc = cam_drivers_new(&o, &rt);

	if (rc)
		return rc;
	pthread_mutex_lock(&collect_lock);
	runtime = rt;
	pthread_mutex_unlock(&collect_lock);
	if (!collector_added) {
		cam_metrics_add_collector(collect, NULL);
		collector_added = true;
	}
	pthread_mutex_lock(&admin.lock);
	admin.stopping = false;
	pthread_mutex_unlock(&admin.lock);
	cam_component_set_probe("Driver Runtime", probe, runtime);
	if (autoload && *autoload)
		autoload_all(autoload);
	return 0;
}

void cam_drivers_stop(void)
{
	cam_drivers *rt;

	if (!runtime)
		return;
	pthread_mutex_lock(&admin.lock);
	admin.stopping = true;
	while (admin.running > 0)
		pthread_cond_wait(&admin.cond, &admin.lock);
	pthread_mutex_unlock(&admin.lock);
	cam_component_set_probe("Driver Runtime", NULL, NULL);
	pthread_mutex_lock(&collect_lock);
	rt = runtime;
	runtime = NULL;
	pthread_mutex_unlock(&collect_lock);
	cam_drivers_free(rt);
}

static int not_running(struct cam_syscall *sc)
{
	return cam_syscall_fail(sc, CAM_GRPC_UNAVAILABLE, "the driver runtime is not running");
}

static int by_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Names of the folders in the drivers folder that hold a manifest.json,
 * sorted and ';'-separated, into the result under "available". */
static void add_available(struct cam_syscall *sc)
{
	char found[CAM_DRIVERS_MAX * 2][CAM_MANIFEST_MAX_NAME + 1];
	char list[sizeof(found)] = "", path[4096];
	size_t n = 0, used = 0;
	struct dirent *e;
	struct stat st;
	DIR *dir = opendir(cam_drivers_dir(runtime));

	while (dir && n < CAM_DRIVERS_MAX * 2 && (e = readdir(dir))) {
		if (!cam_manifest_name_valid(e->d_name, CAM_MANIFEST_MAX_NAME))
			continue;
		snprintf(path, sizeof(path), "%s/%s/manifest.json", cam_drivers_dir(runtime),
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

int cam_verb_driver_list(struct cam_syscall *sc)
{
	static const char *const health[] = { "healthy", "degraded", "unhealthy" };
	struct cam_driver_info *info;
	size_t n;

	if (!runtime)
		return not_running(sc);
	info = calloc(CAM_DRIVERS_MAX, sizeof(*info));
	if (!info)
		return cam_syscall_fail(sc, CAM_GRPC_RESOURCE_EXHAUSTED, "out of memory");
	n = cam_drivers_list(runtime, info, CAM_DRIVERS_MAX);
	cam_result_addf(&sc->result, "loaded", "%zu", n);
	add_available(sc);
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

static const char *need(struct cam_syscall *sc, const char *key, int *status)
{
	const char *v = cam_payload_get(sc->payload, key);

	if (!v || !*v)
		*status = cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT,
					   "payload key '%s' is missing", key);
	return v;
}

/* Runs fn(sc) on a thread of its own and defers the call; fn completes
 * it through admin_done. */
static int defer_admin(struct cam_syscall *sc, void *(*fn)(void *))
{
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	pthread_mutex_lock(&admin.lock);
	if (admin.stopping || admin.running >= ADMIN_MAX) {
		bool stopping = admin.stopping;

		pthread_mutex_unlock(&admin.lock);
		return stopping ? cam_syscall_fail(sc, CAM_GRPC_UNAVAILABLE, "the kernel is stopping")
			: cam_syscall_fail(sc, CAM_GRPC_RESOURCE_EXHAUSTED,
					   "%d driver loads and unloads are running already; "
					   "try again when one ends", ADMIN_MAX);
	}
	admin.running++;
	pthread_mutex_unlock(&admin.lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, fn, sc);
	pthread_attr_destroy(&attr);
	if (rc == 0)
		return CAM_SYSCALL_DEFERRED;
	pthread_mutex_lock(&admin.lock);
	admin.running--;
	pthread_cond_broadcast(&admin.cond);
	pthread_mutex_unlock(&admin.lock);
	return cam_syscall_fail(sc, CAM_GRPC_UNAVAILABLE, "cannot start a thread for the driver verb");
}

static void *admin_done(struct cam_syscall *sc, int status)
{
	cam_syscall_complete(sc, status);
	pthread_mutex_lock(&admin.lock);
	admin.running--;
	pthread_cond_broadcast(&admin.cond);
	pthread_mutex_unlock(&admin.lock);
	return NULL;
}

static void *load_thread(void *arg)
{
	struct cam_syscall *sc = arg;
	const char *name = cam_payload_get(sc->payload, "driver");
	struct cam_driver_loaded info;
	int status = cam_drivers_load(runtime, name, cam_payload_get(sc->payload, "config"),
				      &info, sc->error, sizeof(sc->error));

	if (status == 0) {
		cam_result_add(&sc->result, "driver", name);
		cam_result_add(&sc->result, "version", info.version);
		cam_result_addf(&sc->result, "instances", "%u", info.instances);
		cam_result_add(&sc->result, "sha256", info.sha256);
		cam_result_addf(&sc->result, "load_ms", "%.3f", info.load_seconds * 1e3);
	}
	return admin_done(sc, status);
}

int cam_verb_driver_load(struct cam_syscall *sc)
{
	int status = 0;

	if (!runtime)
		return not_running(sc);
	if (!need(sc, "driver", &status))
		return status;
	return defer_admin(sc, load_thread);
}

static void *unload_thread(void *arg)
{
	struct cam_syscall *sc = arg;
	const char *name = cam_payload_get(sc->payload, "driver");
	int status = cam_drivers_unload(runtime, name, sc->error, sizeof(sc->error));

	if (status == 0) {
		cam_result_add(&sc->result, "driver", name);
		cam_result_add(&sc->result, "unloaded", "true");
	}
	return admin_done(sc, status);
}

int cam_verb_driver_unload(struct cam_syscall *sc)
{
	int status = 0;

	if (!runtime)
		return not_running(sc);
	if (!need(sc, "driver", &status))
		return status;
	return defer_admin(sc, unload_thread);
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
		return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT,
					"timeout_ms must be a number from 1 to 600000");
	if (!*deadline || cam_dproc_now_ns() + ms * 1000000LL < *deadline)
		*deadline = cam_dproc_now_ns() + ms * 1000000LL;
	return 0;
}

static void invoke_done(void *arg, int status, const char *out, size_t outlen,
			const char *err)
{
	struct cam_syscall *sc = arg;

	(void)outlen; /* NUL-free UTF-8: the string is the whole output */
	if (status == 0) {
		cam_result_add(&sc->result, "driver", cam_payload_get(sc->payload, "driver"));
		cam_result_add(&sc->result, "operation", cam_payload_get(sc->payload, "operation"));
		cam_result_add(&sc->result, "output", out);
	} else {
		snprintf(sc->error, sizeof(sc->error), "%s", err);
	}
	cam_syscall_complete(sc, status);
}

static bool invoke_cancelled(void *arg)
{
	return cam_syscall_cancelled(arg);
}

int cam_verb_driver_invoke(struct cam_syscall *sc)
{
	const char *name, *op, *in = cam_payload_get(sc->payload, "payload");
	size_t inlen = in ? strlen(in) : 0;
	int64_t deadline;
	int status = 0;

	if (!runtime)
		return not_running(sc);
	if (!(name = need(sc, "driver", &status)) || !(op = need(sc, "operation", &status)) ||
	    (status = invoke_deadline(sc, &deadline)))
		return status;
	if (!in && sc->data_len) {
		in = (const char *)sc->data;
		inlen = sc->data_len;
	}
	/* From here the runtime owns sc: invoke_done completes it, maybe
	 * before this returns. */
	cam_drivers_invoke_async(runtime, name, op, in ? in : "", inlen, deadline,
				 &(struct cam_driver_done){ invoke_done, invoke_cancelled, sc });
	return CAM_SYSCALL_DEFERRED;
}
