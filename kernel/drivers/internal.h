/*
 * What the driver runtime's files share: a loaded driver, its helper
 * instances, the invokes waiting for them, and the runtime itself.
 *
 *   runtime.c   the table: load, unload, list, health, start and stop
 *   instance.c  one thread per helper instance: runs invokes, polls the
 *               driver's health, recycles and restarts the helper
 *   invoke.c    invokes: checks, hand-over or queue, the figures every
 *               finished invoke adds to, and the sweeper that answers
 *               invokes whose deadline passes in the queue
 *
 * Locks: rt->lock guards the table and the runtime's figures; d->lock
 * guards one driver's state, instances, queue and figures. Order: rt then
 * d. Neither is held while talking to a helper or calling a done
 * callback. A driver is freed only by unload (or free) once its instance
 * threads are joined and its refs, taken by invokes and the sweeper under
 * d->lock, drop to zero.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_DRIVERS_INTERNAL_H
#define CAM_DRIVERS_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/grpc_status.h"
#include "common/metrics.h"
#include "kernel/drivers/manifest.h"
#include "kernel/drivers/proc.h"
#include "kernel/drivers/runtime.h"

#define MS 1000000LL
#define WAITERS_PER_INSTANCE 64

/*
 * IDLE: the instance's thread waits for work. BUSY: it runs an invoke or
 * a health poll. DRAINING: the caller's deadline passed before the
 * manifest's timeout_ms; the caller has its DEADLINE_EXCEEDED and the
 * thread waits for the late answer (then IDLE) until timeout_ms (then it
 * kills the helper: DOWN). DOWN: no helper; the thread restarts it after
 * the back-off. Up = IDLE, BUSY or DRAINING.
 */
enum inst_state { INST_DOWN, INST_STARTING, INST_IDLE, INST_BUSY, INST_DRAINING };
enum drv_state { DRV_LOADING, DRV_LOADED, DRV_UNLOADING };

struct driver;

/* One invoke, from the verb to its answer. */
struct job {
	struct job *next;
	struct driver *d;            /* holds a ref until the job is finished */
	struct cam_driver_done cb;
	int64_t t0;                  /* when the invoke came in */
	int64_t deadline_ns;         /* CLOCK_MONOTONIC */
	char op[CAM_MANIFEST_MAX_NAME + 1];
	size_t inlen;
	char in[];                   /* inlen bytes and a NUL */
};

struct instance {
	struct driver *d;
	struct cam_dproc proc;       /* touched by this instance's thread only */
	enum inst_state state;
	pthread_t thread;
	bool has_thread;
	pthread_cond_t cond;         /* a job handed over, unload */
	struct job *job;             /* handed over, not yet taken */
	int64_t started_ns;
	int64_t restart_at_ns;
	unsigned crashes;            /* in a row */
};

struct driver {
	cam_drivers *rt;
	struct cam_manifest m;
	char *config;
	int lib_fd;
	enum drv_state state;
	unsigned refs;
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* refs dropped */
	struct instance inst[CAM_MANIFEST_MAX_INSTANCES];
	struct job *queue, *queue_tail; /* invokes waiting for an instance */
	unsigned queued;
	uint64_t restarts, invocations, revenue;
	int64_t last_restart_ns;
	int health;                  /* cam_driver_health, -1 not polled */
	char health_msg[96];
	int64_t health_at_ns;
	char last_error[160];
	cam_series *duration, *revenue_s, *restarts_s;
	cam_series *queued_s, *up_s, *busy_s; /* gauges, set by cam_drivers_collect */
	_Atomic(cam_series *) by_status[CAM_GRPC_STATUS_COUNT]; /* invocations by answer */
};

struct cam_drivers {
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* wakes the sweeper */
	struct driver *table[CAM_DRIVERS_MAX];
	size_t n;
	char dir[PATH_MAX];
	char host[PATH_MAX];
	uint64_t failed_loads;
	int64_t last_failure_ns;
	char last_failure[160];
	bool stopping;
	uint64_t queued_gen;         /* bumped when an invoke is queued */
	pthread_t sweeper;
	cam_family *load_time, *invocations, *duration, *revenue, *restarts;
	cam_family *queued, *up, *busy;
	cam_series *loaded;
};

/* runtime.c */
int cam_drivers__failf(char *err, size_t errlen, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void cam_drivers__cond_init_mono(pthread_cond_t *c);
void cam_drivers__cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_ns);
void cam_drivers__log(int level, const struct driver *d, const char *msg, const char *detail);
void cam_drivers__unref(struct driver *d);
/* The loaded driver called name, or NULL; rt->lock held. */
struct driver *cam_drivers__find_loaded(cam_drivers *rt, const char *name);

/* instance.c */
/* Starts one instance's helper and runs its INIT; no lock held. */
int cam_drivers__instance_start(struct driver *d, struct instance *in, char *err, size_t errlen);
/* Starts the thread of every instance of a driver being loaded; 0 or
 * CAM_EINTERNAL (then the threads started are stopped and joined). */
int cam_drivers__threads_start(struct driver *d);
/* After d->state became UNLOADING: wakes the instance threads, which
 * finish the invoke they run, stop their helper and end; joins them. */
void cam_drivers__threads_join(struct driver *d);
/* Hands j to an idle instance (true) or leaves it; d->lock held. */
bool cam_drivers__hand_over(struct driver *d, struct job *j);
/* Whether any instance is up or starting; d->lock held. */
bool cam_drivers__any_live(const struct driver *d);
/* When the next down instance restarts (INT64_MAX: none); d->lock held. */
int64_t cam_drivers__next_restart(const struct driver *d);

/* invoke.c */
/* Takes the first queued job; d->lock held. NULL when none waits. */
struct job *cam_drivers__queue_pop(struct driver *d);
/* Empties the queue into a list; d->lock held. */
struct job *cam_drivers__queue_take_all(struct driver *d);
/*
 * Answers a job (no lock held): counts it, times it, calls its done
 * callback, frees it and drops its ref on the driver. reached: a helper
 * was asked (it counts in the driver's invocations and, when OK, revenue).
 */
void cam_drivers__finish(struct job *j, int status, const char *out, size_t outlen,
		    const char *err, bool reached);
/* Finishes each job of a list (linked by next) with status and message. */
void cam_drivers__fail_jobs(struct job *list, int status, const char *msg);
/* The sweeper thread: answers queued invokes whose deadline passed or
 * whose caller cancelled. */
void *cam_drivers__sweep(void *arg);

#endif
