/*
 * The driver runtime (runtime.h): the table of loaded drivers, their
 * helper instances, the supervisor thread and the driver metrics.
 *
 * Locks: rt->lock guards the table and the runtime's figures; d->lock
 * guards one driver's state, instances and figures. Order: rt then d.
 * Neither is held while talking to a helper. A driver is freed only by
 * unload (or free) once its refs, taken by invokes and the supervisor
 * under d->lock, drop to zero.
 */
#include "kernel/drivers/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "kernel/drivers/proc.h"
#include "kernel/drivers/sha256.h"
#include "kernel/drivers/wire.h"
#include "kernel/syscall/status.h"

/* gRPC status codes the runtime answers with. */
enum {
	ST_OK = 0,
	ST_INVALID_ARGUMENT = 3,
	ST_DEADLINE_EXCEEDED = 4,
	ST_NOT_FOUND = 5,
	ST_ALREADY_EXISTS = 6,
	ST_RESOURCE_EXHAUSTED = 8,
	ST_FAILED_PRECONDITION = 9,
	ST_INTERNAL = 13,
	ST_UNAVAILABLE = 14,
	ST_COUNT = 17,
};

#define MS 1000000LL
#define BACKOFF_MIN_NS (100 * MS)
#define BACKOFF_MAX_NS (10000 * MS)
#define STABLE_NS (30000 * MS)      /* up this long: the next crash starts over */
#define RECENT_NS (300000 * MS)     /* "recently" for health */
#define HEALTH_EVERY_NS (2000 * MS)
#define HEALTH_TIMEOUT_NS (1000 * MS)
#define TICK_NS (50 * MS)
#define WAITERS_PER_INSTANCE 64

/*
 * DRAINING: the caller's deadline passed but the manifest's timeout_ms has
 * not; the caller got DEADLINE_EXCEEDED and the supervisor waits for the
 * late answer (then IDLE) or kills the helper at kill_at_ns (then DOWN),
 * so a short client deadline does not recycle a healthy driver.
 */
enum inst_state { INST_DOWN, INST_STARTING, INST_IDLE, INST_BUSY, INST_DRAINING };
enum drv_state { DRV_LOADING, DRV_LOADED, DRV_UNLOADING };

struct instance {
	struct cam_dproc proc;
	enum inst_state state;
	int64_t started_ns;
	int64_t restart_at_ns;
	unsigned crashes;            /* in a row */
	int64_t kill_at_ns;          /* DRAINING: kill if still silent then */
	char op[CAM_MANIFEST_MAX_NAME + 8];
};

struct driver {
	cam_drivers *rt;
	struct cam_manifest m;
	char *config;
	int lib_fd;
	enum drv_state state;
	unsigned refs;
	unsigned waiting;
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* an instance freed, refs dropped */
	struct instance inst[CAM_MANIFEST_MAX_INSTANCES];
	uint64_t restarts, invocations, revenue;
	int64_t last_restart_ns;
	int health;                  /* cam_driver_health, -1 not polled */
	char health_msg[96];
	int64_t health_at_ns;
	char last_error[160];
	cam_series *duration, *revenue_s, *restarts_s;
	_Atomic(cam_series *) by_status[ST_COUNT];
};

struct cam_drivers {
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* wakes the supervisor */
	struct driver *table[CAM_DRIVERS_MAX];
	size_t n;
	char dir[PATH_MAX];
	char host[PATH_MAX];
	uint64_t failed_loads;
	int64_t last_failure_ns;
	char last_failure[160];
	bool stopping;
	pthread_t supervisor;
	cam_family *load_time, *invocations, *duration, *revenue, *restarts;
	cam_series *loaded;
};

static int failf(char *err, size_t errlen, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int failf(char *err, size_t errlen, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return status;
}

static void cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

static void cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_ns)
{
	struct timespec ts = { deadline_ns / 1000000000LL, deadline_ns % 1000000000LL };

	pthread_cond_timedwait(c, m, &ts);
}

/* ---- metrics ---------------------------------------------------------- */

static const char *const L_DRIVER[] = { "driver", NULL };
static const char *const L_DRIVER_STATUS[] = { "driver", "status", NULL };

static int register_families(cam_drivers *rt, cam_family *load_time)
{
	static const double inv_buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
					      0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
	cam_family *loaded;
	int rc;

	rt->load_time = load_time;
	if (!rt->load_time &&
	    (rc = cam_family_register(&(struct cam_family_desc){
			.name = "cam_os_driver_load_time_seconds",
			.help = "Time to load a driver: manifest, hash, helper start, init.",
			.type = CAM_HISTOGRAM, .unit = "seconds", .label_names = L_DRIVER },
			&rt->load_time, NULL)))
		return rc;
	if ((rc = cam_family_register(&(struct cam_family_desc){
			.name = "cam_os_driver_invocations_total",
			.help = "driver_invoke calls by driver and gRPC status code.",
			.type = CAM_COUNTER, .label_names = L_DRIVER_STATUS },
			&rt->invocations, NULL)) ||
	    (rc = cam_family_register(&(struct cam_family_desc){
			.name = "cam_os_driver_invoke_duration_seconds",
			.help = "Time of driver_invoke calls, queueing for an instance included.",
			.type = CAM_HISTOGRAM, .unit = "seconds", .label_names = L_DRIVER,
			.buckets = inv_buckets,
			.nbuckets = sizeof(inv_buckets) / sizeof(inv_buckets[0]) },
			&rt->duration, NULL)) ||
	    (rc = cam_family_register(&(struct cam_family_desc){
			.name = "cam_os_driver_revenue_total",
			.help = "Marketplace revenue: the manifest's price per call times successful invokes, in micro-dollars (USD 1e-6).",
			.type = CAM_COUNTER, .label_names = L_DRIVER },
			&rt->revenue, NULL)) ||
	    (rc = cam_family_register(&(struct cam_family_desc){
			.name = "cam_os_driver_restarts_total",
			.help = "Driver helper processes restarted after a crash or a hang.",
			.type = CAM_COUNTER, .label_names = L_DRIVER },
			&rt->restarts, NULL)) ||
	    (rc = cam_family_register(&(struct cam_family_desc){
			.name = "cam_os_drivers_loaded",
			.help = "Drivers loaded now.",
			.type = CAM_GAUGE },
			&loaded, NULL)))
		return rc;
	rt->loaded = cam_series_get(loaded, NULL);
	return 0;
}

static void resolve_series(struct driver *d)
{
	const char *v[] = { d->m.name, NULL };

	d->duration = cam_series_get(d->rt->duration, v);
	d->revenue_s = cam_series_get(d->rt->revenue, v);
	d->restarts_s = cam_series_get(d->rt->restarts, v);
}

static void count_invocation(struct driver *d, int status)
{
	cam_series *s;

	if (status < 0 || status >= ST_COUNT)
		status = 2;
	s = atomic_load_explicit(&d->by_status[status], memory_order_acquire);
	if (!s) {
		const char *v[] = { d->m.name, cam_grpc_code_name(status), NULL };

		s = cam_series_get(d->rt->invocations, v);
		atomic_store_explicit(&d->by_status[status], s, memory_order_release);
	}
	cam_counter_inc(s);
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
	cond_init_mono(&d->cond);
	for (size_t i = 0; i < CAM_MANIFEST_MAX_INSTANCES; i++)
		d->inst[i].proc.fd = -1;
	return d;
}

/* Frees a driver whose instances are all stopped and whose refs are 0. */
static void driver_free(struct driver *d)
{
	if (d->lib_fd >= 0)
		close(d->lib_fd);
	free(d->config);
	cam_manifest_free(&d->m);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static void log_driver(enum cam_log_level lvl, const struct driver *d, const char *msg,
		       const char *detail)
{
	struct cam_log_line l;

	if (!cam_log_begin(&l, lvl, "driver_runtime", msg))
		return;
	cam_log_str(&l, "driver", d->m.name);
	if (detail && *detail)
		cam_log_str(&l, "detail", detail);
	cam_log_end(&l);
}

/* Starts one instance and runs its INIT; no lock held. */
static int instance_start(struct driver *d, struct instance *in, char *err, size_t errlen)
{
	unsigned ms = d->m.timeout_ms > 5000 ? d->m.timeout_ms : 5000;
	int64_t deadline = cam_dproc_now_ns() + (int64_t)ms * MS;
	const char *text;
	size_t len;
	int32_t st;
	int rc;

	rc = cam_dproc_spawn(&in->proc, d->rt->host, d->m.name, d->lib_fd,
			     d->m.memory_limit_mb, err, errlen);
	if (rc)
		return ST_UNAVAILABLE;
	rc = cam_dproc_call(&in->proc, CAM_WIRE_INIT, NULL, d->config, strlen(d->config),
			    deadline, &st, &text, &len);
	if (rc == 0 && st == 0)
		return ST_OK;
	if (rc == 0) {
		snprintf(err, errlen, "%s", text);
		cam_dproc_kill(&in->proc, NULL, 0);
		return st;
	}
	if (rc == CAM_ETIMEDOUT) {
		cam_dproc_kill(&in->proc, NULL, 0);
		return failf(err, errlen, ST_FAILED_PRECONDITION,
			     "driver %s did not finish init within %u ms", d->m.name, ms);
	} else {
		char how[96];

		cam_dproc_kill(&in->proc, how, sizeof(how));
		return failf(err, errlen, ST_FAILED_PRECONDITION,
			     "driver %s helper ended during init (%s)", d->m.name, how);
	}
}

/* Marks instance i down after a crash or a kill, with back-off; d->lock held. */
static void instance_down(struct driver *d, struct instance *in, int64_t now, const char *why)
{
	int64_t backoff;

	if (now - in->started_ns > STABLE_NS)
		in->crashes = 0;
	in->crashes++;
	backoff = BACKOFF_MIN_NS << (in->crashes > 8 ? 7 : in->crashes - 1);
	if (backoff > BACKOFF_MAX_NS)
		backoff = BACKOFF_MAX_NS;
	in->state = INST_DOWN;
	in->restart_at_ns = now + backoff;
	snprintf(d->last_error, sizeof(d->last_error), "%s", why);
	pthread_cond_broadcast(&d->cond);
	pthread_cond_signal(&d->rt->cond);
}

static void unref(struct driver *d)
{
	pthread_mutex_lock(&d->lock);
	if (--d->refs == 0)
		pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* The loaded driver called name, with a ref taken; NULL if none. */
static struct driver *find_ref(cam_drivers *rt, const char *name)
{
	struct driver *d = NULL;

	pthread_mutex_lock(&rt->lock);
	for (size_t i = 0; i < rt->n; i++)
		if (strcmp(rt->table[i]->m.name, name) == 0 &&
		    rt->table[i]->state == DRV_LOADED) {
			d = rt->table[i];
			pthread_mutex_lock(&d->lock);
			d->refs++;
			pthread_mutex_unlock(&d->lock);
			break;
		}
	pthread_mutex_unlock(&rt->lock);
	return d;
}

/* Takes an idle instance, waiting until deadline_ns; its index or -status. */
static int acquire(struct driver *d, int64_t deadline_ns, char *err, size_t errlen)
{
	int rc = -ST_UNAVAILABLE;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		bool live = false;
		int64_t next = INT64_MAX, now;

		if (d->state != DRV_LOADED) {
			failf(err, errlen, 0, "driver %s is being unloaded", d->m.name);
			break;
		}
		for (unsigned i = 0; i < d->m.instances; i++) {
			if (d->inst[i].state == INST_IDLE) {
				d->inst[i].state = INST_BUSY;
				rc = (int)i;
				goto out_unlock;
			}
			if (d->inst[i].state != INST_DOWN)
				live = true;
			else if (d->inst[i].restart_at_ns < next)
				next = d->inst[i].restart_at_ns;
		}
		now = cam_dproc_now_ns();
		if (!live) {
			failf(err, errlen, 0, "driver %s is down (%s); next restart in %lld ms",
			      d->m.name, d->last_error,
			      (long long)(next > now ? (next - now) / MS : 0));
			break;
		}
		if (d->waiting >= WAITERS_PER_INSTANCE * d->m.instances) {
			rc = -failf(err, errlen, ST_RESOURCE_EXHAUSTED,
				    "driver %s has %u invokes waiting already", d->m.name, d->waiting);
			break;
		}
		if (now >= deadline_ns) {
			rc = -failf(err, errlen, ST_DEADLINE_EXCEEDED,
				    "no instance of driver %s was free before the deadline", d->m.name);
			break;
		}
		d->waiting++;
		cond_wait_until(&d->cond, &d->lock, deadline_ns);
		d->waiting--;
	}
out_unlock:
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/*
 * Puts instance i back after a call that returned rc; d->lock not held.
 * A missed deadline before kill_at_ns leaves it DRAINING; later, or a
 * crash, kills it.
 */
static void release(struct driver *d, unsigned i, int rc, const char *op, int64_t kill_at_ns,
		    char *why, size_t whylen)
{
	struct instance *in = &d->inst[i];
	char how[96] = "", what[160];

	if (rc == 0 || (rc == CAM_ETIMEDOUT && cam_dproc_now_ns() < kill_at_ns)) {
		if (rc)
			snprintf(why, whylen, "driver %s did not answer %s before the deadline "
				 "(it is recycled if still silent after its timeout_ms, %u ms)",
				 d->m.name, op, d->m.timeout_ms);
		pthread_mutex_lock(&d->lock);
		in->state = rc ? INST_DRAINING : INST_IDLE;
		in->kill_at_ns = kill_at_ns;
		snprintf(in->op, sizeof(in->op), "%s", op);
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		return;
	}
	cam_dproc_kill(&in->proc, how, sizeof(how));
	if (rc == CAM_ETIMEDOUT)
		snprintf(what, sizeof(what), "hung in %s: killed", op);
	else
		snprintf(what, sizeof(what), "crashed in %s (%s)", op,
			 how[0] ? how : "connection lost");
	snprintf(why, whylen, "driver %s %s; it will restart", d->m.name, what);
	log_driver(CAM_LOG_WARN, d, rc == CAM_ETIMEDOUT ? "driver hung: killed" : "driver crashed",
		   what);
	pthread_mutex_lock(&d->lock);
	instance_down(d, in, cam_dproc_now_ns(), what);
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
		return failf(err, errlen, errno == ENOENT ? ST_NOT_FOUND : ST_FAILED_PRECONDITION,
			     "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > CAM_MANIFEST_MAX_BYTES) {
		rc = failf(err, errlen, ST_INVALID_ARGUMENT,
			   "%s is not a regular file of at most %d bytes", path,
			   CAM_MANIFEST_MAX_BYTES);
		goto out_close;
	}
	*out = cam_xmalloc((size_t)st.st_size + 1);
	n = read(fd, *out, (size_t)st.st_size);
	if (n != st.st_size) {
		free(*out);
		rc = failf(err, errlen, ST_FAILED_PRECONDITION, "cannot read %s", path);
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
		if (rc == ST_NOT_FOUND)
			failf(err, errlen, rc, "no driver %s in %s (%s/manifest.json not found)",
			      name, rt->dir, name);
		return rc;
	}
	rc = cam_manifest_parse(json, len, &d->m, why, sizeof(why));
	free(json);
	if (rc)
		return failf(err, errlen, ST_INVALID_ARGUMENT, "bad manifest %s: %s", path, why);
	if (strcmp(d->m.name, name) != 0)
		return failf(err, errlen, ST_INVALID_ARGUMENT,
			     "bad manifest %s: name \"%s\" is not its folder's name \"%s\"", path,
			     d->m.name, name);
	if (d->m.abi_version != CAM_DRIVER_ABI_VERSION)
		return failf(err, errlen, ST_FAILED_PRECONDITION,
			     "driver %s declares driver ABI v%u; this kernel speaks v%d", name,
			     d->m.abi_version, CAM_DRIVER_ABI_VERSION);
	snprintf(path, sizeof(path), "%s/%s/%s", rt->dir, name, d->m.library);
	d->lib_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (d->lib_fd < 0)
		return failf(err, errlen, ST_FAILED_PRECONDITION, "cannot open %s: %s", path,
			     strerror(errno));
	if (cam_sha256_fd(d->lib_fd, hex))
		return failf(err, errlen, ST_FAILED_PRECONDITION, "cannot hash %s", path);
	if (strcmp(hex, d->m.sha256) != 0)
		return failf(err, errlen, ST_FAILED_PRECONDITION,
			     "sha256 of %s is %s, the manifest says %s: refusing to load", path, hex,
			     d->m.sha256);
	return 0;
}

static void stop_instances(struct driver *d)
{
	for (unsigned i = 0; i < CAM_MANIFEST_MAX_INSTANCES; i++) {
		struct instance *in = &d->inst[i];

		if (in->state == INST_IDLE)
			cam_dproc_stop(&in->proc, 1000);
		else
			cam_dproc_kill(&in->proc, NULL, 0);
		in->state = INST_DOWN;
	}
}

/* Reserves name in the table with a LOADING placeholder. */
static int reserve(cam_drivers *rt, struct driver *d, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&rt->lock);
	for (size_t i = 0; i < rt->n; i++)
		if (strcmp(rt->table[i]->m.name, d->m.name) == 0) {
			rc = failf(err, errlen, ST_ALREADY_EXISTS, "driver %s is already %s",
				   d->m.name, rt->table[i]->state == DRV_LOADING ? "being loaded"
				   : rt->table[i]->state == DRV_LOADED ? "loaded" : "being unloaded");
			goto out_unlock;
		}
	if (rt->n == CAM_DRIVERS_MAX) {
		rc = failf(err, errlen, ST_RESOURCE_EXHAUSTED, "%d drivers are loaded already",
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
	rt->last_failure_ns = cam_dproc_now_ns();
	snprintf(rt->last_failure, sizeof(rt->last_failure), "%s", err);
	pthread_mutex_unlock(&rt->lock);
	log_driver(CAM_LOG_WARN, d, "driver load refused", err);
	stop_instances(d);
	driver_free(d);
}

int cam_drivers_load(cam_drivers *rt, const char *name, const char *config,
		     struct cam_driver_loaded *info, char *err, size_t errlen)
{
	int64_t t0 = cam_dproc_now_ns();
	struct driver *d;
	int rc;

	if (!name || !cam_manifest_name_valid(name, CAM_MANIFEST_MAX_NAME))
		return failf(err, errlen, ST_INVALID_ARGUMENT,
			     "driver name must match [a-z][a-z0-9_]{0,%d}", CAM_MANIFEST_MAX_NAME - 1);
	if (config && strlen(config) >= 4096)
		return failf(err, errlen, ST_INVALID_ARGUMENT, "config is longer than 4095 bytes");
	d = driver_new(rt, name);
	if ((rc = reserve(rt, d, err, errlen))) {
		driver_free(d);
		return rc;
	}
	if ((rc = check_driver(rt, d, name, err, errlen)))
		goto out_failed;
	d->config = cam_xstrdup(config ? config : d->m.config);
	for (unsigned i = 0; i < d->m.instances; i++) {
		if ((rc = instance_start(d, &d->inst[i], err, errlen)))
			goto out_failed;
		d->inst[i].state = INST_IDLE;
		d->inst[i].started_ns = cam_dproc_now_ns();
	}
	resolve_series(d);
	cam_histogram_observe(cam_series_get(rt->load_time, (const char *const[]){ name, NULL }),
			      (double)(cam_dproc_now_ns() - t0) / 1e9);
	if (info) {
		snprintf(info->version, sizeof(info->version), "%s", d->m.version);
		snprintf(info->sha256, sizeof(info->sha256), "%s", d->m.sha256);
		info->instances = d->m.instances;
		info->load_seconds = (double)(cam_dproc_now_ns() - t0) / 1e9;
	}
	pthread_mutex_lock(&rt->lock);
	pthread_mutex_lock(&d->lock);
	d->state = DRV_LOADED;
	pthread_mutex_unlock(&d->lock);
	update_loaded(rt);
	pthread_mutex_unlock(&rt->lock);
	log_driver(CAM_LOG_INFO, d, "driver loaded", d->m.version);
	return 0;
out_failed:
	load_failed(rt, d, err);
	return rc;
}

/* Waits until nobody holds d, then stops its instances and frees it. */
static void driver_retire(struct driver *d)
{
	pthread_mutex_lock(&d->lock);
	d->state = DRV_UNLOADING;
	pthread_cond_broadcast(&d->cond);
	while (d->refs > 0)
		pthread_cond_wait(&d->cond, &d->lock);
	pthread_mutex_unlock(&d->lock);
	stop_instances(d);
	log_driver(CAM_LOG_INFO, d, "driver unloaded", NULL);
	driver_free(d);
}

int cam_drivers_unload(cam_drivers *rt, const char *name, char *err, size_t errlen)
{
	struct driver *d = NULL;

	pthread_mutex_lock(&rt->lock);
	for (size_t i = 0; i < rt->n; i++)
		if (strcmp(rt->table[i]->m.name, name) == 0 &&
		    rt->table[i]->state == DRV_LOADED) {
			d = rt->table[i];
			break;
		}
	if (d) {
		pthread_mutex_lock(&d->lock);
		d->state = DRV_UNLOADING;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		table_remove(rt, d);
	}
	pthread_mutex_unlock(&rt->lock);
	if (!d)
		return failf(err, errlen, ST_NOT_FOUND, "driver %.64s is not loaded", name);
	driver_retire(d);
	return 0;
}

/* ---- invoke ----------------------------------------------------------- */

static int call_driver(struct driver *d, unsigned i, const char *op, const char *in,
		       size_t inlen, int64_t deadline, char **out, size_t *outlen, char *err,
		       size_t errlen)
{
	int64_t kill_at = cam_dproc_now_ns() + (int64_t)d->m.timeout_ms * MS;
	const char *text;
	size_t len, n = 0;
	int32_t st = 0;
	int rc = cam_dproc_call(&d->inst[i].proc, CAM_WIRE_INVOKE, op, in, inlen, deadline, &st,
				&text, &len);

	/* The output ends up in a protobuf string: UTF-8 without NULs. */
	if (rc == 0 && st == 0 && (!cam_utf8_valid(text, &n) || n != len)) {
		st = ST_INTERNAL;
		snprintf(err, errlen, "driver %s returned output that is not NUL-free UTF-8 "
			 "(%zu bytes)", d->m.name, len);
	} else if (rc == 0 && st == 0) {
		*out = cam_xmalloc(len + 1);
		memcpy(*out, text, len + 1);
		*outlen = len;
	} else if (rc == 0) {
		snprintf(err, errlen, "driver %s: %.*s", d->m.name, (int)len, text);
	}
	release(d, i, rc, op, kill_at, err, errlen);
	if (rc == CAM_ETIMEDOUT)
		return ST_DEADLINE_EXCEEDED;
	if (rc)
		return ST_UNAVAILABLE;
	return st >= 0 && st < ST_COUNT ? st : ST_INTERNAL;
}

int cam_drivers_invoke(cam_drivers *rt, const char *name, const char *op,
		       const char *in, size_t inlen, int64_t deadline_ns,
		       char **out, size_t *outlen, char *err, size_t errlen)
{
	int64_t t0 = cam_dproc_now_ns(), deadline;
	struct driver *d;
	int i, st;

	*out = NULL;
	*outlen = 0;
	if (!name || !(d = find_ref(rt, name)))
		return failf(err, errlen, ST_NOT_FOUND, "driver %.64s is not loaded",
			     name ? name : "");
	if (!op || !cam_manifest_has_cap(&d->m, op)) {
		st = failf(err, errlen, ST_INVALID_ARGUMENT,
			   "driver %s has no operation '%.64s' (see its capabilities)", d->m.name,
			   op ? op : "");
		goto out_count;
	}
	if (inlen > CAM_DRIVER_MAX_INPUT) {
		st = failf(err, errlen, ST_INVALID_ARGUMENT, "input is larger than %d bytes",
			   CAM_DRIVER_MAX_INPUT);
		goto out_count;
	}
	deadline = t0 + (int64_t)d->m.timeout_ms * MS;
	if (deadline_ns && deadline_ns < deadline)
		deadline = deadline_ns;
	if (deadline <= t0) {
		st = failf(err, errlen, ST_DEADLINE_EXCEEDED,
			   "the deadline passed before driver %s was called", d->m.name);
		goto out_count;
	}
	i = acquire(d, deadline, err, errlen);
	if (i < 0) {
		st = -i;
		goto out_count;
	}
	st = call_driver(d, (unsigned)i, op, in, inlen, deadline, out, outlen, err, errlen);
	pthread_mutex_lock(&d->lock);
	d->invocations++;
	if (st == ST_OK)
		d->revenue += d->m.price_micro_usd;
	pthread_mutex_unlock(&d->lock);
	if (st == ST_OK && d->m.price_micro_usd)
		cam_counter_add(d->revenue_s, (double)d->m.price_micro_usd);
out_count:
	count_invocation(d, st);
	cam_histogram_observe(d->duration, (double)(cam_dproc_now_ns() - t0) / 1e9);
	unref(d);
	return st;
}

/* ---- supervisor ------------------------------------------------------- */

/* Restarts instance i of d if it is down and its back-off has passed. */
static void maybe_restart(struct driver *d, unsigned i, int64_t now)
{
	struct instance *in = &d->inst[i];
	char err[200];
	int rc;

	pthread_mutex_lock(&d->lock);
	if (in->state != INST_DOWN || in->restart_at_ns > now || d->state != DRV_LOADED) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	in->state = INST_STARTING;
	d->restarts++;
	d->last_restart_ns = now;
	pthread_mutex_unlock(&d->lock);
	cam_counter_inc(d->restarts_s);
	rc = instance_start(d, in, err, sizeof(err));
	pthread_mutex_lock(&d->lock);
	if (rc == 0) {
		in->state = INST_IDLE;
		in->started_ns = cam_dproc_now_ns();
		d->health_at_ns = 0;
		pthread_cond_broadcast(&d->cond);
	} else {
		in->started_ns = now;
		instance_down(d, in, cam_dproc_now_ns(), err);
	}
	pthread_mutex_unlock(&d->lock);
	log_driver(rc ? CAM_LOG_WARN : CAM_LOG_INFO, d,
		   rc ? "driver restart failed" : "driver restarted", rc ? err : NULL);
}

/* A DRAINING instance: its late answer makes it IDLE again; silence past
 * kill_at_ns, or EOF, recycles it. */
static void drain(struct driver *d, unsigned i, int64_t now)
{
	struct instance *in = &d->inst[i];
	char why[200], op[sizeof(in->op)];
	int rc;

	pthread_mutex_lock(&d->lock);
	if (in->state != INST_DRAINING) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	in->state = INST_BUSY;
	memcpy(op, in->op, sizeof(op));
	pthread_mutex_unlock(&d->lock);
	rc = cam_dproc_drain(&in->proc);
	if (rc == 1) {
		release(d, i, 0, op, 0, why, sizeof(why));
	} else if (rc == 0 && now < in->kill_at_ns) {
		pthread_mutex_lock(&d->lock);
		in->state = INST_DRAINING;
		pthread_mutex_unlock(&d->lock);
	} else {
		release(d, i, rc == 0 ? CAM_ETIMEDOUT : rc, op, 0, why, sizeof(why));
	}
}

/* Asks one idle instance of d for its health, every HEALTH_EVERY_NS. */
static void poll_health(struct driver *d, int64_t now)
{
	const char *text;
	char why[200];
	size_t len;
	int32_t st = 0;
	int i = -1, rc;

	pthread_mutex_lock(&d->lock);
	if (d->state == DRV_LOADED && now - d->health_at_ns >= HEALTH_EVERY_NS)
		for (unsigned k = 0; k < d->m.instances; k++)
			if (d->inst[k].state == INST_IDLE) {
				d->inst[k].state = INST_BUSY;
				i = (int)k;
				break;
			}
	pthread_mutex_unlock(&d->lock);
	if (i < 0)
		return;
	rc = cam_dproc_call(&d->inst[i].proc, CAM_WIRE_HEALTH, NULL, NULL, 0,
			    now + HEALTH_TIMEOUT_NS, &st, &text, &len);
	pthread_mutex_lock(&d->lock);
	d->health_at_ns = now;
	if (rc == 0) {
		d->health = st;
		snprintf(d->health_msg, sizeof(d->health_msg), "%.*s", (int)len, text);
	}
	pthread_mutex_unlock(&d->lock);
	release(d, (unsigned)i, rc, "health", 0, why, sizeof(why));
}

static void *supervise(void *arg)
{
	cam_drivers *rt = arg;
	struct driver *pinned[CAM_DRIVERS_MAX];

	pthread_mutex_lock(&rt->lock);
	while (!rt->stopping) {
		size_t n = 0;
		int64_t now;

		for (size_t i = 0; i < rt->n; i++)
			if (rt->table[i]->state == DRV_LOADED) {
				struct driver *d = rt->table[i];

				pthread_mutex_lock(&d->lock);
				d->refs++;
				pthread_mutex_unlock(&d->lock);
				pinned[n++] = d;
			}
		pthread_mutex_unlock(&rt->lock);
		now = cam_dproc_now_ns();
		for (size_t k = 0; k < n; k++) {
			for (unsigned i = 0; i < pinned[k]->m.instances; i++) {
				drain(pinned[k], i, now);
				maybe_restart(pinned[k], i, now);
			}
			poll_health(pinned[k], cam_dproc_now_ns());
			unref(pinned[k]);
		}
		pthread_mutex_lock(&rt->lock);
		if (!rt->stopping)
			cond_wait_until(&rt->cond, &rt->lock, cam_dproc_now_ns() + TICK_NS);
	}
	pthread_mutex_unlock(&rt->lock);
	return NULL;
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

int cam_drivers_new(const struct cam_drivers_opts *o, cam_drivers **out)
{
	cam_drivers *rt = cam_xcalloc(1, sizeof(*rt));
	int rc;

	snprintf(rt->dir, sizeof(rt->dir), "%s", o->dir && *o->dir ? o->dir : "drivers");
	if (o->host && *o->host)
		snprintf(rt->host, sizeof(rt->host), "%s", o->host);
	else
		default_host(rt->host, sizeof(rt->host));
	if ((rc = register_families(rt, o->load_time))) {
		free(rt);
		return rc;
	}
	cam_gauge_set(rt->loaded, 0);
	pthread_mutex_init(&rt->lock, NULL);
	cond_init_mono(&rt->cond);
	if (pthread_create(&rt->supervisor, NULL, supervise, rt)) {
		pthread_cond_destroy(&rt->cond);
		pthread_mutex_destroy(&rt->lock);
		free(rt);
		return CAM_EINTERNAL;
	}
	*out = rt;
	return 0;
}

void cam_drivers_free(cam_drivers *rt)
{
	if (!rt)
		return;
	pthread_mutex_lock(&rt->lock);
	rt->stopping = true;
	pthread_cond_signal(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
	pthread_join(rt->supervisor, NULL);
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
	pthread_cond_destroy(&rt->cond);
	pthread_mutex_destroy(&rt->lock);
	free(rt);
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
	int64_t now = cam_dproc_now_ns();
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
