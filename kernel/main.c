/*
 * cam-kernel: the syscall daemon.
 *
 * Startup order: settings, logger, metrics, bus publisher, then the
 * subsystems. Signals are blocked in every thread and taken here with
 * sigwait, so no handler ever runs on a thread holding a lock. SIGTERM or
 * SIGINT stops in reverse order, with a final snapshot published.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/bus.h"
#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/version.h"
#include "kernel/grpc/health.h"
#include "kernel/grpc/reflection.h"
#include "kernel/grpc/server.h"
#include "kernel/kernel_metrics.h"
#include "kernel/listen_policy.h"
#include "kernel/publisher.h"
#include "kernel/syscall/service.h"
#include "kernel/syscall/spans.h"

static struct cam_option opts[] = {
	{ "CAM_GRPC_LISTEN", "127.0.0.1:50051", "kernel gRPC address ([::1]:50051 form for IPv6)", NULL, 0 },
	{ "CAM_BUS_ADDR", NULL, "nng bus between kernel and exporter (default ipc://$XDG_RUNTIME_DIR/cam-os/bus.ipc, else ipc:///tmp/cam-os-$UID/bus.ipc)", NULL, 0 },
	{ "CAM_PUBLISH_INTERVAL_MS", "1000", "snapshot period in milliseconds (50-60000)", NULL, 0 },
	{ "CAM_LOG_LEVEL", "info", "debug, info, warn or error", NULL, 0 },
	{ "CAM_PROFILING_ENABLED", "false", "serve /debug/pprof/ on the exporter's port", NULL, 1 },
	{ "CAM_REDIS_URL", NULL, "redis://[:password@]host:port[/db]; unset: in-memory context store", NULL, 0 },
	{ "CAM_TPM_TCTI", NULL, "tpm2-tss TCTI string; unset: no TPM", NULL, 0 },
	{ "CAM_AUTH_TOKENS_FILE", NULL, "bearer tokens, callers and scopes; unset: anonymous, loopback only", NULL, 0 },
	{ "CAM_DRIVERS_DIR", "drivers", "driver manifests and shared objects", NULL, 0 },
	{ "CAM_METRICS_MAX_SERIES", "20000", "series limit over all families", NULL, 0 },
	{ "CAM_METRICS_MAX_SERIES_PER_FAMILY", "1000", "series limit of one family made at run time", NULL, 0 },
	{ "CAM_LOG_RING_SIZE", "4096", "log lines the logger may hold before it drops", NULL, 0 },
	{ "CAM_ALLOW_ANONYMOUS", "false", "allow anonymous callers on a non-loopback CAM_GRPC_LISTEN", NULL, 1 },
	{ "CAM_GRPC_WORKERS", "0", "worker threads running syscalls (0: one per core)", NULL, 0 },
	{ "CAM_GRPC_MAX_MESSAGE_BYTES", "4194304", "largest request message accepted", NULL, 0 },
	{ "CAM_SHUTDOWN_GRACE_MS", "5000", "time in-flight calls get to finish on SIGTERM", NULL, 0 },
	{ "CAM_ACCESS_LOG", "all", "syscall access log: all, errors or none", NULL, 0 },
	{ "CAM_CUSTOM_METRICS_MAX", "100", "custom metric families emit_metric may create", NULL, 0 },
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const char *opt(const char *env)
{
	return cam_config_get(opts, NOPTS, env);
}

struct kernel {
	long interval_ms;
	long workers, max_msg, grace_ms, custom_max, per_family;
	enum cam_access_log access_log;
	cam_grpc_server *server;
	cam_grpc_health *health;
	char bus_addr[512];
	char instance_id[33];
	double start_time;
	cam_bus *bus;
	cam_publisher *publisher;
	struct cam_kernel_metrics metrics;
};

/* Anonymous callers beyond loopback only when asked for explicitly. */
static int check_listen_policy(void)
{
	int allow = 0;

	if (cam_config_bool(opt("CAM_ALLOW_ANONYMOUS"), &allow)) {
		fprintf(stderr, "cam-kernel: CAM_ALLOW_ANONYMOUS must be true or false\n");
		return -1;
	}
	if (cam_listen_is_loopback(opt("CAM_GRPC_LISTEN")) || allow ||
	    opt("CAM_AUTH_TOKENS_FILE"))
		return 0;
	fprintf(stderr,
		"cam-kernel: refusing to serve anonymous callers on %s, which is not a loopback "
		"address: set CAM_AUTH_TOKENS_FILE, or CAM_ALLOW_ANONYMOUS=true to allow it\n",
		opt("CAM_GRPC_LISTEN"));
	return -1;
}

/* Settings that are numbers or levels, checked before anything starts. */
static int read_settings(struct kernel *k)
{
	enum cam_log_level level;
	long max_series, per_family;
	int profiling;

	if (cam_log_parse_level(opt("CAM_LOG_LEVEL"), &level)) {
		fprintf(stderr, "cam-kernel: CAM_LOG_LEVEL must be debug, info, warn or error\n");
		return CAM_EINVAL;
	}
	cam_log_set_level(level);
	if (cam_config_long(opt("CAM_PUBLISH_INTERVAL_MS"), 50, 60000, &k->interval_ms)) {
		fprintf(stderr, "cam-kernel: CAM_PUBLISH_INTERVAL_MS must be 50-60000\n");
		return CAM_EINVAL;
	}
	if (cam_config_long(opt("CAM_METRICS_MAX_SERIES"), 100, 200000, &max_series) ||
	    cam_config_long(opt("CAM_METRICS_MAX_SERIES_PER_FAMILY"), 1, 200000, &per_family)) {
		fprintf(stderr, "cam-kernel: series limits must be 100-200000 (global) and 1-200000 (per family)\n");
		return CAM_EINVAL;
	}
	if (cam_config_bool(opt("CAM_PROFILING_ENABLED"), &profiling)) {
		fprintf(stderr, "cam-kernel: CAM_PROFILING_ENABLED must be true or false\n");
		return CAM_EINVAL;
	}
	cam_metrics_set_limits((size_t)per_family, (size_t)max_series);
	k->per_family = per_family;
	if (cam_config_long(opt("CAM_GRPC_WORKERS"), 0, 256, &k->workers) ||
	    cam_config_long(opt("CAM_GRPC_MAX_MESSAGE_BYTES"), 1024, 64L << 20, &k->max_msg) ||
	    cam_config_long(opt("CAM_SHUTDOWN_GRACE_MS"), 0, 600000, &k->grace_ms) ||
	    cam_config_long(opt("CAM_CUSTOM_METRICS_MAX"), 0, 1000, &k->custom_max)) {
		fprintf(stderr, "cam-kernel: CAM_GRPC_WORKERS (0-256), CAM_GRPC_MAX_MESSAGE_BYTES (1024-67108864), "
				"CAM_SHUTDOWN_GRACE_MS (0-600000) and CAM_CUSTOM_METRICS_MAX (0-1000) must be numbers in range\n");
		return CAM_EINVAL;
	}
	if (!strcmp(opt("CAM_ACCESS_LOG"), "all"))
		k->access_log = CAM_ACCESS_LOG_ALL;
	else if (!strcmp(opt("CAM_ACCESS_LOG"), "errors"))
		k->access_log = CAM_ACCESS_LOG_ERRORS;
	else if (!strcmp(opt("CAM_ACCESS_LOG"), "none"))
		k->access_log = CAM_ACCESS_LOG_NONE;
	else {
		fprintf(stderr, "cam-kernel: CAM_ACCESS_LOG must be all, errors or none\n");
		return CAM_EINVAL;
	}
	if (check_listen_policy())
		return CAM_EPERM;
	if (opt("CAM_BUS_ADDR"))
		snprintf(k->bus_addr, sizeof(k->bus_addr), "%s", opt("CAM_BUS_ADDR"));
	else
		cam_config_default_bus_addr(k->bus_addr, sizeof(k->bus_addr));
	return 0;
}

static void make_instance_id(char *out)
{
	unsigned char r[16];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		memcpy(r, &ts, sizeof(r) < sizeof(ts) ? sizeof(r) : sizeof(ts));
	}
	for (size_t i = 0; i < sizeof(r); i++)
		sprintf(out + 2 * i, "%02x", r[i]);
}

static void health_not_serving(void *arg)
{
	cam_grpc_health_set_all(arg, false);
}

static int start_grpc(struct kernel *k)
{
	struct cam_grpc_server_opts go = {
		.listen = opt("CAM_GRPC_LISTEN"),
		.workers = (unsigned)k->workers,
		.max_msg_bytes = (size_t)k->max_msg,
		.drain_ms = (int)(k->grace_ms ? k->grace_ms : 1),
	};
	struct cam_syscall_env env = {
		.metrics = &k->metrics,
		.publisher = k->publisher,
		.instance_id = k->instance_id,
		.start_time = k->start_time,
		.access_log = k->access_log,
		.custom_families_max = (size_t)k->custom_max,
		.custom_series_max = (size_t)k->per_family,
	};
	int rc = cam_grpc_server_new(&go, &k->server);

	if (rc) {
		cam_log(CAM_LOG_ERROR, "kernel", "bad gRPC settings for %s: %s", go.listen,
			cam_strerror(rc));
		return rc;
	}
	env.server = k->server;
	cam_spans_init(4096);
	if ((rc = cam_syscall_service_register(k->server, &env)) ||
	    (rc = cam_grpc_health_register(k->server, &k->health)) ||
	    (rc = cam_grpc_reflection_register(k->server)) ||
	    (rc = cam_grpc_server_on_shutdown(k->server, health_not_serving, k->health)))
		return rc;
	cam_system_register_probes(k->server);
	rc = cam_grpc_server_start(k->server);
	if (rc)
		cam_log(CAM_LOG_ERROR, "kernel", "cannot serve gRPC on %s: %s", go.listen,
			cam_strerror(rc));
	return rc;
}

static int start(struct kernel *k)
{
	struct cam_publisher_opts po;
	struct timespec ts;
	long ring;
	int rc;

	if (cam_config_long(opt("CAM_LOG_RING_SIZE"), 16, 1 << 20, &ring))
		ring = 4096;
	cam_log_start((size_t)ring);
	cam_log_register_metrics();
	rc = cam_kernel_metrics_register(&k->metrics);
	if (rc)
		return rc;

	make_instance_id(k->instance_id);
	clock_gettime(CLOCK_REALTIME, &ts);
	k->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	rc = cam_bus_open_pub(k->bus_addr, &k->bus);
	if (rc)
		return rc;
	po = (struct cam_publisher_opts){
		.bus = k->bus,
		.interval_ms = (uint32_t)k->interval_ms,
		.instance_id = k->instance_id,
		.start_time_seconds = k->start_time,
		.version = CAM_VERSION,
	};
	rc = cam_publisher_start(&po, &k->publisher);
	if (rc)
		return rc;
	return start_grpc(k);
}

static void stop(struct kernel *k)
{
	/* Drain calls first, so the final snapshot counts every one. */
	cam_grpc_server_shutdown(k->server);
	cam_grpc_server_free(k->server);
	cam_grpc_health_free(k->health);
	cam_publisher_stop(k->publisher);
	cam_bus_close(k->bus);
}

static void log_started(const struct kernel *k)
{
	struct cam_log_line l;

	if (!cam_log_begin(&l, CAM_LOG_INFO, "kernel", "cam-kernel started"))
		return;
	cam_log_str(&l, "version", CAM_VERSION);
	cam_log_str(&l, "instance_id", k->instance_id);
	cam_log_str(&l, "grpc_listen", opt("CAM_GRPC_LISTEN"));
	cam_log_int(&l, "grpc_port", cam_grpc_server_port(k->server));
	cam_log_str(&l, "bus", k->bus_addr);
	cam_log_int(&l, "publish_interval_ms", k->interval_ms);
	cam_log_end(&l);
}

int main(int argc, char **argv)
{
	struct kernel k = { 0 };
	sigset_t sigs;
	int sig = 0, rc;

	rc = cam_config_parse(opts, NOPTS, argc, argv,
			      "usage: cam-kernel [--flag value ...]\n"
			      "CAM-OS syscall kernel " CAM_VERSION,
			      stderr);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (read_settings(&k))
		return 2;

	/* Blocked before any thread starts, so every thread inherits it. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = start(&k);
	if (rc) {
		cam_log(CAM_LOG_ERROR, "kernel", "cam-kernel failed to start: %s",
			cam_strerror(rc));
		stop(&k);
		cam_log_stop();
		return 1;
	}
	log_started(&k);

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			cam_log(CAM_LOG_INFO, "kernel", "SIGHUP: nothing to reload yet");
			continue;
		}
		break;
	}
	cam_log(CAM_LOG_INFO, "kernel", "%s received, shutting down", strsignal(sig));
	stop(&k);
	cam_log(CAM_LOG_INFO, "kernel", "cam-kernel stopped");
	cam_log_stop();
	return 0;
}
