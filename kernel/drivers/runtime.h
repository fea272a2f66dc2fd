/*
 * The driver runtime: loads drivers from CAM_DRIVERS_DIR, runs each in
 * helper processes (proc.h), invokes them under a deadline, restarts them
 * when they crash or hang, and counts what they do.
 *
 * A driver lives in DIR/NAME/: manifest.json (manifest.h) and the object it
 * names. Loading checks the manifest, the ABI version and the object's
 * SHA-256, then starts the manifest's number of helper instances, each of
 * which dlopens the very file that was hashed and runs init. Any failure
 * stops what was started: a driver is loaded whole or not at all.
 *
 * Isolation: a driver never runs in the kernel, and no syscall worker
 * waits on one. Each helper instance has a thread of its own that sends
 * it one invoke at a time; an invoke is handed to an idle instance or
 * queued (64 per instance at most), and its answer comes back through a
 * callback, so a hung driver holds its own instance threads and nothing
 * else. A crash (EOF on its socket) answers UNAVAILABLE, a missed
 * deadline answers DEADLINE_EXCEEDED (in the queue too: a sweeper thread
 * answers those on time), and an instance still silent at the manifest's
 * timeout_ms is killed (one answering late, after a shorter client
 * deadline, is kept). The instance thread restarts its helper with
 * back-off (100 ms doubling to 10 s; reset after 30 s of good running);
 * while a driver is down, invokes whose deadline allows wait for the
 * restart, the others answer UNAVAILABLE at once. An idle instance asks the driver for its health every 2 s, so the
 * HealthCheck probe never waits on a driver.
 *
 * Functions that answer a syscall return 0 or a CAM_E* code
 * (common/error.h) and write a message into err (errlen bytes) when it is
 * not 0. A helper's answer comes as a gRPC status on its wire (wire.h) and
 * is turned into the CAM_E* code that stands for it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_DRIVERS_RUNTIME_H
#define CAM_DRIVERS_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/metrics.h"
#include "kernel/drivers/manifest.h"

#define CAM_DRIVERS_MAX 64

typedef struct cam_drivers cam_drivers;

struct cam_drivers_opts {
	const char *dir;        /* CAM_DRIVERS_DIR */
	const char *host;       /* cam-driver-host; NULL: beside this program */
};

/* Registers the driver metric families (cam_os_driver_*) and the
 * collector of their gauges, and starts the sweeper. 0 or CAM_E*; *out
 * untouched on failure. */
int cam_drivers_new(const struct cam_drivers_opts *o, cam_drivers **out);
/*
 * Stops the runtime's threads: the sweeper, then every driver is unloaded
 * (queued invokes answered CAM_EUNAVAIL, running ones finished within
 * their deadlines, helpers shut down). Every done callback has run when it
 * returns; loads after it are refused. Idempotent; NULL is a no-op.
 */
void cam_drivers_stop(cam_drivers *rt);
/* Stops if needed, removes the collector, frees. NULL is fine. */
void cam_drivers_free(cam_drivers *rt);
/* Loads each driver named in list (comma-separated folder names; NULL or
 * "" loads none); one that fails is logged, not fatal. Returns how many
 * loaded. */
int cam_drivers_autoload(cam_drivers *rt, const char *list);

struct cam_driver_loaded {
	char version[33];
	char sha256[65];
	unsigned instances;
	double load_seconds;
};

/*
 * Loads driver name from the drivers folder; config (may be NULL) replaces
 * the manifest's config. CAM_ENOENT (no such driver), CAM_EEXIST,
 * CAM_EINVAL (bad name or manifest), CAM_EPRECOND (ABI, hash, symbols,
 * init), CAM_ELIMIT (CAM_DRIVERS_MAX loaded), CAM_EUNAVAIL (the helper
 * cannot start).
 */
int cam_drivers_load(cam_drivers *rt, const char *name, const char *config,
		     struct cam_driver_loaded *info, char *err, size_t errlen);

/* Unloads driver name: new invokes are refused at once, queued ones
 * answer UNAVAILABLE, invokes already running finish (within their
 * deadlines), then each instance gets its shutdown call. Waits for all
 * that. CAM_ENOENT when it is not loaded. */
int cam_drivers_unload(cam_drivers *rt, const char *name, char *err, size_t errlen);

/*
 * How an invoke reports back. done runs exactly once: on a runtime thread;
 * on the caller's before cam_drivers_invoke_async returns when the invoke
 * is refused at once; or, for invokes still queued when their driver is
 * unloaded, on the thread calling cam_drivers_unload or cam_drivers_free
 * (so done must not take a lock that thread may hold). status is 0 or a CAM_E* code; on 0 out is the
 * driver's output (NUL-terminated, outlen bytes, UTF-8 without NULs),
 * otherwise err says why. Both are valid during the call only.
 * cancelled (may be NULL; quick, lock-free: it is asked under the
 * runtime's locks) is asked before the driver is called: true answers
 * CAM_ECANCELED (CANCELLED) without calling it.
 */
struct cam_driver_done {
	void (*done)(void *arg, int status, const char *out, size_t outlen, const char *err);
	bool (*cancelled)(void *arg);
	void *arg;
};

/*
 * Queues operation op of driver name on input (inlen bytes, copied), to
 * answer by deadline_ns (CLOCK_MONOTONIC; 0: the manifest's timeout_ms;
 * the earlier of the two otherwise). Never waits on a driver.
 */
void cam_drivers_invoke_async(cam_drivers *rt, const char *name, const char *op,
			      const char *in, size_t inlen, int64_t deadline_ns,
			      const struct cam_driver_done *cb);

/*
 * The same, waiting for the answer (tests and tools): runs operation op of driver name on input (inlen bytes) until
 * deadline_ns (CLOCK_MONOTONIC; 0: the manifest's timeout_ms; the earlier
 * of the two otherwise). On OK, *out is the driver's output (malloc'd,
 * NUL-terminated, *outlen bytes; the caller frees). Otherwise err says
 * why: the driver's own error, a crash (CAM_EUNAVAIL) or a missed deadline
 * (CAM_ETIMEDOUT; the instance was killed and will restart).
 */
int cam_drivers_invoke(cam_drivers *rt, const char *name, const char *op,
		       const char *in, size_t inlen, int64_t deadline_ns,
		       char **out, size_t *outlen, char *err, size_t errlen);

/* One loaded driver, as driver_list shows it. */
struct cam_driver_info {
	struct cam_manifest m;    /* config not copied (NULL) */
	unsigned up;              /* instances running */
	uint64_t restarts;
	uint64_t invocations;     /* answered by the driver, any status */
	uint64_t revenue_micro_usd;
	int health;               /* enum cam_driver_health; -1 not polled yet */
	char health_msg[96];
};

/* Fills up to max entries, by name; returns how many are loaded. */
size_t cam_drivers_list(cam_drivers *rt, struct cam_driver_info *out, size_t max);

/* Sets cam_os_driver_queued_invokes, _instances_up and _instances_busy
 * of every loaded driver from its state now (a metrics collector). */
void cam_drivers_collect(cam_drivers *rt);

/* The drivers folder. */
const char *cam_drivers_dir(const cam_drivers *rt);

/*
 * The runtime's health for HealthCheck's "Driver Runtime" component, from
 * cached figures only (never waits on a driver): 0 healthy, 1 degraded
 * (a driver down, unhealthy or restarted, or a load failed, in the last
 * 5 minutes), 2 unhealthy (every loaded driver down). msg says how many
 * are loaded, failed and restarted, then each driver's own answer.
 */
int cam_drivers_health(cam_drivers *rt, char *msg, size_t msglen);

#endif
