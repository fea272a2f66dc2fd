/*
 * sd_notify glue: READY=1, STOPPING=1 and watchdog pings (see notify.h).
 *
 * libsystemd's sd_notify does the socket work (abstract and path sockets,
 * credentials); this file only decides when to call it. The watchdog thread
 * sleeps on a condition variable so that stopping it is immediate rather
 * than up to half a watchdog period late.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "common/notify.h"
#include "common/xmalloc.h"

#define COMPONENT "notify"

struct cam_notify {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* CLOCK_MONOTONIC */
	bool stop;
	uint64_t period_usec;
};

static void deadline_after(struct timespec *ts, uint64_t usec)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(usec / 1000000);
	ts->tv_nsec += (long)(usec % 1000000) * 1000;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Pings WATCHDOG=1 every period until told to stop. */
static void *watchdog_main(void *arg)
{
	struct cam_notify *n = arg;
	struct timespec next;

	pthread_mutex_lock(&n->lock);
	while (!n->stop) {
		pthread_mutex_unlock(&n->lock);
		sd_notify(0, "WATCHDOG=1");
		pthread_mutex_lock(&n->lock);
		deadline_after(&next, n->period_usec);
		while (!n->stop &&
		       pthread_cond_timedwait(&n->wake, &n->lock, &next) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

/* Starts the watchdog thread if this process was asked for pings. */
static struct cam_notify *watchdog_start(void)
{
	struct cam_notify *n;
	pthread_condattr_t ca;
	uint64_t usec = 0;

	/* Nobody to ping without a manager's socket, whatever WATCHDOG_USEC says. */
	if (!getenv("NOTIFY_SOCKET") || sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return NULL;
	n = cam_xcalloc(1, sizeof(*n));
	n->period_usec = usec / 2 ? usec / 2 : 1;
	pthread_mutex_init(&n->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&n->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&n->thread, NULL, watchdog_main, n) != 0) {
		cam_log(CAM_LOG_ERROR, COMPONENT,
			"cannot start the watchdog thread: systemd will restart us");
		pthread_cond_destroy(&n->wake);
		pthread_mutex_destroy(&n->lock);
		free(n);
		return NULL;
	}
	cam_log(CAM_LOG_INFO, COMPONENT, "watchdog pings every %llu ms",
		(unsigned long long)(n->period_usec / 1000));
	return n;
}

void cam_notify_ready(const char *status, cam_notify **out)
{
	int rc;

	if (status)
		rc = sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	else
		rc = sd_notify(0, "READY=1");
	if (rc < 0)
		cam_log(CAM_LOG_WARN, COMPONENT,
			"cannot tell the service manager we are ready: %s",
			strerror(-rc));
	*out = watchdog_start();
}

void cam_notify_stopping(cam_notify *n)
{
	sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	pthread_cond_destroy(&n->wake);
	pthread_mutex_destroy(&n->lock);
	free(n);
}
