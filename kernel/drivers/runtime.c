/*
 * The driver runtime's table (internal.h): load, unload, list, health,
 * the driver metric families, and starting and stopping the runtime.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/metrics_table.h"
#include "common/xmalloc.h"
#include "kernel/drivers/internal.h"
#include "kernel/drivers/sha256.h"
#include "kernel/drivers/wire.h"

#define RECENT_NS (300000 * MS) /* "recently" for health */

int cam_drivers__failf(char *err, size_t errlen, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return status;
}

void cam_drivers__cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

void cam_drivers__cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_ns)
{
	struct timespec ts = { deadline_ns / 1000000000LL, deadline_ns % 1000000000LL };

	pthread_cond_timedwait(c, m, &ts);
}

/* ---- metrics ---------------------------------------------------------- */

enum { M_LOAD_TIME, M_INVOCATIONS, M_DURATION, M_REVENUE, M_RESTARTS, M_LOADED, M_QUEUED,
       M_UP, M_BUSY, NMETRICS };
static const char *const L_DRIVER[] = { "driver", NULL };
static const char *const L_DRIVER_STATUS[] = { "driver", "status", NULL };
static const double LOAD_BUCKETS[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
				       0.25,  0.5,   1,    2.5,   5,    10 };
static const double INVOKE_BUCKETS[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
					 0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
					 1,      2.5,     5,      10 };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_LOAD_TIME] = { .name = "cam_os_driver_load_time_seconds",
			  .help = "Histogram of driver load times", .type = CAM_HISTOGRAM,
			  .unit = "seconds", .label_names = L_DRIVER, .buckets = LOAD_BUCKETS,
			  .nbuckets = sizeof(LOAD_BUCKETS) / sizeof(LOAD_BUCKETS[0]),
			  .max_series = 256, .native = &cam_native_defaults },
	[M_INVOCATIONS] = { .name = "cam_os_driver_invocations_total",
			    .help = "driver_invoke calls by driver and gRPC status code.",
			    .type = CAM_COUNTER, .label_names = L_DRIVER_STATUS },
	[M_DURATION] = { .name = "cam_os_driver_invoke_duration_seconds",
			 .help = "Time of driver_invoke calls, queueing for an instance included.",
			 .type = CAM_HISTOGRAM, .unit = "seconds", .label_names = L_DRIVER,
			 .buckets = INVOKE_BUCKETS,
			 .nbuckets = sizeof(INVOKE_BUCKETS) / sizeof(INVOKE_BUCKETS[0]) },
	[M_REVENUE] = { .name = "cam_os_driver_revenue_total",
			.help = "Marketplace revenue: the manifest's price per call times successful invokes, in micro-dollars (USD 1e-6).",
			.type = CAM_COUNTER, .label_names = L_DRIVER },
	[M_RESTARTS] = { .name = "cam_os_driver_restarts_total",
			 .help = "Driver helper processes restarted after a crash or a hang.",
			 .type = CAM_COUNTER, .label_names = L_DRIVER },
	[M_LOADED] = { .name = "cam_os_drivers_loaded", .help = "Drivers loaded now.",
		       .type = CAM_GAUGE },
	[M_QUEUED] = { .name = "cam_os_driver_queued_invokes",
		       .help = "driver_invoke calls waiting for a free instance of the driver.",
		       .type = CAM_GAUGE, .label_names = L_DRIVER },
	[M_UP] = { .name = "cam_os_driver_instances_up",
		   .help = "Helper processes of the driver running now.", .type = CAM_GAUGE,
		   .label_names = L_DRIVER },
	[M_BUSY] = { .name = "cam_os_driver_instances_busy",
		     .help = "Helper processes of the driver running a call now.",
		     .type = CAM_GAUGE, .label_names = L_DRIVER },
};

static int register_families(cam_drivers *rt)
{
	cam_family *f[NMETRICS];
	char why[160];
	int rc = cam_metrics_table_register(metrics, NMETRICS, f, why, sizeof(why));

	if (rc) {
		cam_log(CAM_LOG_ERROR, "driver_runtime", "%s", why);
		return rc;
	}
	rt->load_time = f[M_LOAD_TIME];
	rt->invocations = f[M_INVOCATIONS];
	rt->duration = f[M_DURATION];
	rt->revenue = f[M_REVENUE];
	rt->restarts = f[M_RESTARTS];
	rt->queued = f[M_QUEUED];
	rt->up = f[M_UP];
	rt->busy = f[M_BUSY];
	rt->loaded = cam_series_get(f[M_LOADED], NULL);
	return 0;
}

static void resolve_series(struct driver *d)
{
	const char *v[] = { d->m.name, NULL };

	d->duration = cam_series_get(d->rt->duration, v);
	d->revenue_s = cam_series_get(d->rt->revenue, v);
	d->restarts_s = cam_series_get(d->rt->restarts, v);
	d->queued_s = cam_series_get(d->rt->queued, v);
	d->up_s = cam_series_get(d->rt->up, v);
	d->busy_s = cam_series_get(d->rt->busy, v);
}

/* The driver's gauges from its state; d->lock held. */
static void update_gauges(struct driver *d)
{
	unsigned up = 0, busy = 0;

	for (unsigned i = 0; i < d->m.instances; i++) {
		up += d->inst[i].state >= INST_IDLE;
		busy += d->inst[i].state >= INST_BUSY;
	}
	cam_gauge_set(d->queued_s, d->state == DRV_LOADED ? d->queued : 0);
	cam_gauge_set(d->up_s, d->state == DRV_LOADED ? up : 0);
	cam_gauge_set(d->busy_s, d->state == DRV_LOADED ? busy : 0);
}

void cam_drivers_collect(cam_drivers *rt)
{
	pthread_mutex_lock(&rt->lock);
	for (size_t i = 0; i < rt->n; i++) {
		struct driver *d = rt->table[i];

		pthread_mutex_lock(&d->lock);
		if (d->state == DRV_LOADED) /* its series are resolved */
			update_gauges(d);
		pthread_mutex_unlock(&d->lock);
	}
	pthread_mutex_unlock(&rt->lock);
}

/* ---- drivers and instances -------------------------------------------- */

static struct driver *driver_new(cam_drivers *rt, const char *name)
{
	struct driver *d = cam_xcalloc(1, sizeof(*d));

	d->rt = rt;
	d->lib_fd = -1;
	d->health = -1;
	snprintf(d->m.name, sizeof(d->m.name), "%s", name);
	pthread_mutex_init(&d->lock, NULL);
	cam_drivers__cond_init_mono(&d->cond);
	for (size_t i = 0; i < CAM_MANIFEST_MAX_INSTANCES; i++) {
		d->inst[i].d = d;
		d->inst[i].proc.fd = -1;
		cam_drivers__cond_init_mono(&d->inst[i].cond);
	}
	return d;
}

/* Frees a driver whose instances are all stopped and whose refs are 0. */
static void driver_free(struct driver *d)
{
	for (size_t i = 0; i < CAM_MANIFEST_MAX_INSTANCES; i++)
		pthread_cond_destroy(&d->inst[i].cond);
	if (d->lib_fd >= 0)
		close(d->lib_fd);
	free(d->config);
	cam_manifest_free(&d->m);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void cam_drivers__log(int lvl, const struct driver *d, const char *msg, const char *detail)
{
	struct cam_log_line l;

	if (!cam_log_begin(&l, lvl, "driver_runtime", msg))
		return;
	cam_log_str(&l, "driver", d->m.name);
	if (detail && *detail)
		cam_log_str(&l, "detail", detail);
	cam_log_end(&l);
}

void cam_drivers__unref(struct driver *d)
{
	pthread_mutex_lock(&d->lock);
	if (--d->refs == 0)
		pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* ---- load and unload -------------------------------------------------- */

static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return cam_drivers__failf(err, errlen, errno == ENOENT ? CAM_ENOENT : CAM_EPRECOND,
			     "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > CAM_MANIFEST_MAX_BYTES) {
		rc = cam_drivers__failf(err, errlen, CAM_EINVAL,
			   "%s is not a regular file of at most %d bytes", path,
			   CAM_MANIFEST_MAX_BYTES);
		goto out_close;
	}
	*out = cam_xmalloc((size_t)st.st_size + 1);
	n = read(fd, *out, (size_t)st.st_size);
	if (n != st.st_size) {
		free(*out);
		rc = cam_drivers__failf(err, errlen, CAM_EPRECOND, "cannot read %s", path);
		goto out_close;
	}
	*len = (size_t)n;
out_close:
	close(fd);
	return rc;
}

/* Manifest, ABI version and object hash; leaves d->m and d->lib_fd set. */
static int check_driver(cam_drivers *rt, struct driver *d, const char *name, char *err,
			size_t errlen)
{
	char path[PATH_MAX + 256], why[200], hex[65];
	char *json = NULL;
	size_t len = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/%s/manifest.json", rt->dir, name);
	if ((rc = read_file(path, &json, &len, err, errlen))) {
		if (rc == CAM_ENOENT)
			cam_drivers__failf(err, errlen, rc, "no driver %s in %s (%s/manifest.json not found)",
			      name, rt->dir, name);
		return rc;
	}
	rc = cam_manifest_parse(json, len, &d->m, why, sizeof(why));
	free(json);
	if (rc)
		return cam_drivers__failf(err, errlen, CAM_EINVAL, "bad manifest %s: %s", path, why);
	if (strcmp(d->m.name, name) != 0)
		return cam_drivers__failf(err, errlen, CAM_EINVAL,
			     "bad manifest %s: name \"%s\" is not its folder's name \"%s\"", path,
			     d->m.name, name);
	if (d->m.abi_version != CAM_DRIVER_ABI_VERSION)
		return cam_drivers__failf(err, errlen, CAM_EPRECOND,
			     "driver %s declares driver ABI v%u; this kernel speaks v%d", name,
			     d->m.abi_version, CAM_DRIVER_ABI_VERSION);
	snprintf(path, sizeof(path), "%s/%s/%s", rt->dir, name, d->m.library);
	d->lib_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (d->lib_fd < 0)
		return cam_drivers__failf(err, errlen, CAM_EPRECOND, "cannot open %s: %s", path,
			     strerror(errno));
	if (cam_drivers__sha256_fd(d->lib_fd, hex))
		return cam_drivers__failf(err, errlen, CAM_EPRECOND, "cannot hash %s", path);
	if (strcmp(hex, d->m.sha256) != 0)
		return cam_drivers__failf(err, errlen, CAM_EPRECOND,
			     "sha256 of %s is %s, the manifest says %s: refusing to load", path, hex,
			     d->m.sha256);
	return 0;
}

/* Stops the helpers of a driver whose load failed (no instance thread
 * runs). */
static void stop_instances(struct driver *d)
{
	for (unsigned i = 0; i < CAM_MANIFEST_MAX_INSTANCES; i++) {
		struct instance *in = &d->inst[i];

		if (in->state == INST_IDLE)
			cam_drivers__proc_stop(&in->proc, 1000);
		else
			cam_drivers__proc_kill(&in->proc, NULL, 0);
		in->state = INST_DOWN;
	}
}

/* Reserves name in the table with a LOADING placeholder. */
static int reserve(cam_drivers *rt, struct driver *d, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&rt->lock);
	if (rt->stopping) {
		rc = cam_drivers__failf(err, errlen, CAM_EUNAVAIL, "the driver runtime is stopping");
		goto out_unlock;
	}
	for (size_t i = 0; i < rt->n; i++)
		if (strcmp(rt->table[i]->m.name, d->m.name) == 0) {
			rc = cam_drivers__failf(err, errlen, CAM_EEXIST, "driver %s is already %s",
				   d->m.name, rt->table[i]->state == DRV_LOADING ? "being loaded"
				   : rt->table[i]->state == DRV_LOADED ? "loaded" : "being unloaded");
			goto out_unlock;
		}
	if (rt->n == CAM_DRIVERS_MAX) {
		rc = cam_drivers__failf(err, errlen, CAM_ELIMIT, "%d drivers are loaded already",
			   CAM_DRIVERS_MAX);
		goto out_unlock;
	}
	rt->table[rt->n++] = d;
out_unlock:
	pthread_mutex_unlock(&rt->lock);
	return rc;
}

/* cam_os_drivers_loaded from the table; rt->lock held. */
static void update_loaded(cam_drivers *rt)
{
	size_t loaded = 0;

	for (size_t i = 0; i < rt->n; i++)
		loaded += rt->table[i]->state == DRV_LOADED;
	cam_gauge_set(rt->loaded, (double)loaded);
}

/* Removes d from the table; rt->lock held. */
static void table_remove(cam_drivers *rt, struct driver *d)
{
	for (size_t i = 0; i < rt->n; i++)
		if (rt->table[i] == d) {
			rt->table[i] = rt->table[--rt->n];
			break;
		}
	update_loaded(rt);
}

static void load_failed(cam_drivers *rt, struct driver *d, const char *err)
{
	pthread_mutex_lock(&rt->lock);
	table_remove(rt, d);
	rt->failed_loads++;
	rt->last_failure_ns = cam_mono_ns();
	snprintf(rt->last_failure, sizeof(rt->last_failure), "%s", err);
	pthread_mutex_unlock(&rt->lock);
	cam_drivers__log(CAM_LOG_WARN, d, "driver load refused", err);
	stop_instances(d);
	driver_free(d);
}

int cam_drivers_load(cam_drivers *rt, const char *name, const char *config,
		     struct cam_driver_loaded *info, char *err, size_t errlen)
{
	int64_t t0 = cam_mono_ns();
	struct driver *d;
	int rc;

	if (!name || !cam_manifest_name_valid(name, CAM_MANIFEST_MAX_NAME))
		return cam_drivers__failf(err, errlen, CAM_EINVAL,
			     "driver name must match [a-z][a-z0-9_]{0,%d}", CAM_MANIFEST_MAX_NAME - 1);
	if (config && strlen(config) >= 4096)
		return cam_drivers__failf(err, errlen, CAM_EINVAL, "config is longer than 4095 bytes");
	d = driver_new(rt, name);
	if ((rc = reserve(rt, d, err, errlen))) {
		driver_free(d);
		return rc;
	}
	if ((rc = check_driver(rt, d, name, err, errlen)))
		goto out_failed;
	d->config = cam_xstrdup(config ? config : d->m.config);
	for (unsigned i = 0; i < d->m.instances; i++) {
		if ((rc = cam_drivers__instance_start(d, &d->inst[i], err, errlen)))
			goto out_failed;
		d->inst[i].state = INST_IDLE;
		d->inst[i].started_ns = cam_mono_ns();
	}
	resolve_series(d);
	if ((rc = cam_drivers__threads_start(d))) {
		rc = cam_drivers__failf(err, errlen, CAM_EUNAVAIL,
				   "cannot start the threads of driver %s", name);
		goto out_failed;
	}
	cam_histogram_observe(cam_series_get(rt->load_time, (const char *const[]){ name, NULL }),
			      (double)(cam_mono_ns() - t0) / 1e9);
	if (info) {
		snprintf(info->version, sizeof(info->version), "%s", d->m.version);
		snprintf(info->sha256, sizeof(info->sha256), "%s", d->m.sha256);
		info->instances = d->m.instances;
		info->load_seconds = (double)(cam_mono_ns() - t0) / 1e9;
	}
	pthread_mutex_lock(&rt->lock);
	pthread_mutex_lock(&d->lock);
	d->state = DRV_LOADED;
	pthread_mutex_unlock(&d->lock);
	update_loaded(rt);
	pthread_mutex_unlock(&rt->lock);
	cam_drivers__log(CAM_LOG_INFO, d, "driver loaded", d->m.version);
	return 0;
out_failed:
	load_failed(rt, d, err);
	return rc;
}

/* Answers d's queued invokes, lets its instance threads finish the ones
 * they run and stop their helpers, waits until nobody holds d, frees it. */
static void driver_retire(struct driver *d)
{
	struct job *queued;
	char msg[160];

	pthread_mutex_lock(&d->lock);
	d->state = DRV_UNLOADING;
	queued = cam_drivers__queue_take_all(d);
	pthread_mutex_unlock(&d->lock);
	snprintf(msg, sizeof(msg), "driver %s is being unloaded", d->m.name);
	cam_drivers__fail_jobs(queued, CAM_EUNAVAIL, msg);
	cam_drivers__threads_join(d);
	pthread_mutex_lock(&d->lock);
	while (d->refs > 0)
		pthread_cond_wait(&d->cond, &d->lock);
	update_gauges(d); /* all 0: an unloaded driver's series stay, at 0 */
	pthread_mutex_unlock(&d->lock);
	cam_drivers__log(CAM_LOG_INFO, d, "driver unloaded", NULL);
	driver_free(d);
}

struct driver *cam_drivers__find_loaded(cam_drivers *rt, const char *name)
{
	for (size_t i = 0; i < rt->n; i++)
		if (rt->table[i]->state == DRV_LOADED && strcmp(rt->table[i]->m.name, name) == 0)
			return rt->table[i];
	return NULL;
}

int cam_drivers_unload(cam_drivers *rt, const char *name, char *err, size_t errlen)
{
	struct driver *d;

	pthread_mutex_lock(&rt->lock);
	d = cam_drivers__find_loaded(rt, name);
	if (d) {
		pthread_mutex_lock(&d->lock);
		d->state = DRV_UNLOADING;
		pthread_mutex_unlock(&d->lock);
		table_remove(rt, d);
	}
	pthread_mutex_unlock(&rt->lock);
	if (!d)
		return cam_drivers__failf(err, errlen, CAM_ENOENT, "driver %.64s is not loaded", name);
	driver_retire(d);
	return 0;
}

/* ---- runtime ---------------------------------------------------------- */

static void default_host(char *out, size_t cap)
{
	char exe[PATH_MAX - 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0) {
		snprintf(out, cap, "cam-driver-host");
		return;
	}
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, cap, "%s/cam-driver-host", exe);
}

/* Before each snapshot: the gauges of every loaded driver. */
static void collect(void *arg)
{
	cam_drivers_collect(arg);
}

int cam_drivers_new(const struct cam_drivers_opts *o, cam_drivers **out)
{
	cam_drivers *rt = cam_xcalloc(1, sizeof(*rt));
	int rc;

	snprintf(rt->dir, sizeof(rt->dir), "%s", o->dir && *o->dir ? o->dir : "drivers");
	if (o->host && *o->host)
		snprintf(rt->host, sizeof(rt->host), "%s", o->host);
	else
		default_host(rt->host, sizeof(rt->host));
	if ((rc = register_families(rt)))
		goto out_free;
	cam_gauge_set(rt->loaded, 0);
	pthread_mutex_init(&rt->lock, NULL);
	cam_drivers__cond_init_mono(&rt->cond);
	if ((rc = cam_metrics_add_collector(collect, rt)))
		goto out_destroy;
	if (pthread_create(&rt->sweeper, NULL, cam_drivers__sweep, rt)) {
		rc = CAM_EINTERNAL;
		goto out_remove_collector;
	}
	*out = rt;
	return 0;
out_remove_collector:
	cam_metrics_remove_collector(collect, rt);
out_destroy:
	pthread_cond_destroy(&rt->cond);
	pthread_mutex_destroy(&rt->lock);
out_free:
	free(rt);
	return rc;
}

void cam_drivers_stop(cam_drivers *rt)
{
	bool was;

	if (!rt)
		return;
	pthread_mutex_lock(&rt->lock);
	was = rt->stopping;
	rt->stopping = true;
	pthread_cond_signal(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
	if (was)
		return;
	pthread_join(rt->sweeper, NULL);
	for (;;) {
		struct driver *d = NULL;

		pthread_mutex_lock(&rt->lock);
		for (size_t i = 0; i < rt->n && !d; i++)
			if (rt->table[i]->state == DRV_LOADED)
				d = rt->table[i];
		if (d)
			table_remove(rt, d);
		pthread_mutex_unlock(&rt->lock);
		if (!d)
			break;
		driver_retire(d);
	}
	cam_gauge_set(rt->loaded, 0);
}

void cam_drivers_free(cam_drivers *rt)
{
	if (!rt)
		return;
	cam_drivers_stop(rt);
	cam_metrics_remove_collector(collect, rt);
	pthread_cond_destroy(&rt->cond);
	pthread_mutex_destroy(&rt->lock);
	free(rt);
}

int cam_drivers_autoload(cam_drivers *rt, const char *list)
{
	char buf[1024], *save = NULL, *tok, err[256];
	int loaded = 0;

	if (!list || !*list)
		return 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *p = buf; (tok = strtok_r(p, ", ", &save)); p = NULL) {
		if (cam_drivers_load(rt, tok, NULL, NULL, err, sizeof(err)) == 0)
			loaded++;
		else
			cam_log(CAM_LOG_ERROR, "driver_runtime", "autoload of %s failed: %s", tok,
				err);
	}
	return loaded;
}

const char *cam_drivers_dir(const cam_drivers *rt)
{
	return rt->dir;
}

static void fill_info(struct driver *d, struct cam_driver_info *o)
{
	pthread_mutex_lock(&d->lock);
	o->m = d->m;
	o->m.config = NULL;
	o->up = 0;
	for (unsigned i = 0; i < d->m.instances; i++)
		o->up += d->inst[i].state >= INST_IDLE;
	o->restarts = d->restarts;
	o->invocations = d->invocations;
	o->revenue_micro_usd = d->revenue;
	o->health = d->health;
	snprintf(o->health_msg, sizeof(o->health_msg), "%s", d->health_msg);
	pthread_mutex_unlock(&d->lock);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct cam_driver_info *)a)->m.name,
		      ((const struct cam_driver_info *)b)->m.name);
}

size_t cam_drivers_list(cam_drivers *rt, struct cam_driver_info *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&rt->lock);
	for (size_t i = 0; i < rt->n; i++) {
		if (rt->table[i]->state != DRV_LOADED)
			continue;
		if (n < max)
			fill_info(rt->table[i], &out[n]);
		n++;
	}
	pthread_mutex_unlock(&rt->lock);
	qsort(out, n < max ? n : max, sizeof(*out), by_name);
	return n;
}

/* One driver's part of the health message and its verdict (0-2). */
static int driver_health(struct driver *d, int64_t now, char *buf, size_t cap)
{
	static const char *const names[] = { "healthy", "degraded", "unhealthy" };
	unsigned up = 0;
	int v;

	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < d->m.instances; i++)
		up += d->inst[i].state >= INST_IDLE;
	if (up == 0) {
		v = 2;
		snprintf(buf, cap, "; %s: down, restarting", d->m.name);
	} else {
		v = d->health > 0 ? d->health : 0;
		if (up < d->m.instances ||
		    (d->last_restart_ns && now - d->last_restart_ns < RECENT_NS))
			v = v < 1 ? 1 : v;
		snprintf(buf, cap, "; %s: %s%s%.60s%s", d->m.name,
			 d->health < 0 ? "starting" : names[d->health], d->health_msg[0] ? " (" : "",
			 d->health_msg, d->health_msg[0] ? ")" : "");
	}
	pthread_mutex_unlock(&d->lock);
	return v;
}

int cam_drivers_health(cam_drivers *rt, char *msg, size_t msglen)
{
	int64_t now = cam_mono_ns();
	size_t loaded = 0, down = 0, restarted = 0, used;
	int worst = 0;

	pthread_mutex_lock(&rt->lock);
	for (size_t i = 0; i < rt->n; i++) {
		struct driver *d = rt->table[i];

		if (d->state != DRV_LOADED)
			continue;
		loaded++;
		pthread_mutex_lock(&d->lock);
		restarted += d->last_restart_ns && now - d->last_restart_ns < RECENT_NS;
		pthread_mutex_unlock(&d->lock);
	}
	snprintf(msg, msglen, "%zu loaded, %llu failed loads, %zu restarted in the last 5m",
		 loaded, (unsigned long long)rt->failed_loads, restarted);
	if (rt->last_failure_ns && now - rt->last_failure_ns < RECENT_NS)
		worst = 1;
	for (size_t i = 0; i < rt->n; i++) {
		struct driver *d = rt->table[i];
		int v;

		if (d->state != DRV_LOADED)
			continue;
		used = strlen(msg);
		v = driver_health(d, now, msg + used, msglen - used);
		down += v == 2;
		if (v > worst)
			worst = v;
	}
	pthread_mutex_unlock(&rt->lock);
	if (worst == 2 && down < loaded)
		worst = 1;
	return worst;
}
