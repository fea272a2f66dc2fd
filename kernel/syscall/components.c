/*
 * HealthCheck's components and their probes (components.h). A probe runs
 * under the read side of a rwlock, so clearing one (write side) waits for
 * the runs in progress; probes are quick, so the wait is short.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/components.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/metrics_table.h"
#include "common/xmalloc.h"

static const char *const names[CAM_COMPONENTS_N] = { "Redis Backend", "TPM Security",
						     "Driver Runtime", "Scheduler",
						     "Context Store", "Audit Log" };
static const char *const disabled_why[CAM_COMPONENTS_N] = {
	"Redis not in use",
	"TPM not configured",
	"driver runtime not running",
	"no scheduler running",
	"memory context store not configured",
	"no audit log (CAM_AUDIT_EVENTS=none)",
};

enum { M_UP, M_STATUS, NMETRICS };
static const char *const L_UP[] = { "component", NULL };
static const char *const L_STATUS[] = { "component", "status", NULL };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_UP] = { .name = "cam_os_component_up",
		   .help = "Whether a HealthCheck component is healthy or degraded (1) or not (0; unhealthy or disabled).",
		   .type = CAM_GAUGE, .label_names = L_UP },
	[M_STATUS] = { .name = "cam_os_component_status",
		       .help = "HealthCheck component status as a state set: 1 for the current status.",
		       .type = CAM_GAUGE, .label_names = L_STATUS },
};

struct component {
	cam_component_probe fn;
	void *arg;
	cam_series *up;
	cam_series *status[CAM_COMPONENT_NSTATUS];
};

struct cam_components {
	pthread_rwlock_t lock;
	struct component c[CAM_COMPONENTS_N];
};

static ptrdiff_t find(const char *name)
{
	for (size_t i = 0; i < CAM_COMPONENTS_N; i++)
		if (name && strcmp(names[i], name) == 0)
			return (ptrdiff_t)i;
	return -1;
}

const char *cam_components_name(size_t i)
{
	return i < CAM_COMPONENTS_N ? names[i] : "";
}

enum cam_component_status cam_components_probe(cam_components *c, size_t i, char *msg,
					       size_t msglen, double *latency_ms)
{
	int64_t t0 = cam_mono_ns();
	enum cam_component_status st = CAM_COMPONENT_DISABLED;

	pthread_rwlock_rdlock(&c->lock);
	if (c->c[i].fn) {
		msg[0] = '\0';
		st = c->c[i].fn(c->c[i].arg, msg, msglen);
	} else {
		snprintf(msg, msglen, "%s", disabled_why[i]);
	}
	pthread_rwlock_unlock(&c->lock);
	if ((int)st < 0 || st >= CAM_COMPONENT_NSTATUS)
		st = CAM_COMPONENT_UNHEALTHY;
	*latency_ms = (double)(cam_mono_ns() - t0) / 1e6;
	return st;
}

/* Before each snapshot: every component's gauges from its probe. */
static void collect(void *arg)
{
	cam_components *c = arg;

	for (size_t i = 0; i < CAM_COMPONENTS_N; i++) {
		char msg[256];
		double ms;
		enum cam_component_status st = cam_components_probe(c, i, msg, sizeof(msg), &ms);

		cam_gauge_set(c->c[i].up, st == CAM_COMPONENT_HEALTHY || st == CAM_COMPONENT_DEGRADED);
		for (size_t s = 0; s < CAM_COMPONENT_NSTATUS; s++)
			cam_gauge_set(c->c[i].status[s], s == (size_t)st);
	}
}

int cam_components_new(cam_components **out)
{
	cam_family *f[NMETRICS];
	cam_components *c;
	char why[160];
	int rc = cam_metrics_table_register(metrics, NMETRICS, f, why, sizeof(why));

	if (rc) {
		cam_log(CAM_LOG_ERROR, "health", "%s", why);
		return rc;
	}
	c = cam_xcalloc(1, sizeof(*c));
	pthread_rwlock_init(&c->lock, NULL);
	for (size_t i = 0; i < CAM_COMPONENTS_N; i++) {
		c->c[i].up = cam_series_get(f[M_UP], (const char *[]){ names[i] });
		for (size_t s = 0; s < CAM_COMPONENT_NSTATUS; s++)
			c->c[i].status[s] = cam_series_get(
				f[M_STATUS], (const char *[]){ names[i], cam_component_status_name((int)s) });
	}
	if ((rc = cam_metrics_add_collector(collect, c))) {
		pthread_rwlock_destroy(&c->lock);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void cam_components_free(cam_components *c)
{
	if (!c)
		return;
	cam_metrics_remove_collector(collect, c);
	pthread_rwlock_destroy(&c->lock);
	free(c);
}

int cam_components_set(cam_components *c, const char *name, cam_component_probe fn, void *arg)
{
	ptrdiff_t i = find(name);
	int rc = 0;

	if (i < 0 || !fn)
		return i < 0 ? CAM_ENOENT : CAM_EINVAL;
	pthread_rwlock_wrlock(&c->lock);
	if (c->c[i].fn) {
		rc = CAM_EEXIST;
	} else {
		c->c[i].fn = fn;
		c->c[i].arg = arg;
	}
	pthread_rwlock_unlock(&c->lock);
	return rc;
}

void cam_components_clear(cam_components *c, const char *name)
{
	ptrdiff_t i = find(name);

	if (!c || i < 0)
		return;
	pthread_rwlock_wrlock(&c->lock);
	c->c[i].fn = NULL;
	c->c[i].arg = NULL;
	pthread_rwlock_unlock(&c->lock);
}
