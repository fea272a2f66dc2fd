/*
 * cam-kernel: the syscall daemon.
 *
 * Settings are read and checked first; then start() makes every object
 * in one order (the layers of docs/architecture.md, bottom up): metrics
 * and the bus publisher, the subsystems, the gRPC server, the verb
 * registry and each subsystem's verbs, the dispatcher and the services.
 * SIGTERM or SIGINT quiesces the calls and stop() frees everything in
 * reverse, with a final snapshot published. Signals are blocked in every
 * thread and taken here with sigwait, so no handler ever runs on a thread
 * holding a lock.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <malloc.h>
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
#include "common/notify.h"
#include "common/pprof_channel.h"
#include "common/signals.h"
#include "common/version.h"
#include "kernel/build_info.h"
#include "kernel/drivers/runtime.h"
#include "kernel/grpc/health.h"
#include "kernel/grpc/reflection.h"
#include "kernel/grpc/server.h"
#include "kernel/listen_policy.h"
#include "kernel/memctx/memctx.h"
#include "kernel/process_metrics.h"
#include "kernel/publisher.h"
#include "kernel/scheduler/scheduler.h"
#include "kernel/security/auth.h"
#include "kernel/security/tpm.h"
#include "kernel/syscall/components.h"
#include "kernel/syscall/context_verbs.h"
#include "kernel/syscall/dispatch.h"
#include "kernel/syscall/driver_verbs.h"
#include "kernel/syscall/emit_metric.h"
#include "kernel/syscall/emit_trace.h"
#include "kernel/syscall/sched_verbs.h"
#include "kernel/syscall/security_verbs.h"
#include "kernel/syscall/service.h"
#include "kernel/syscall/system_verbs.h"
#include "kernel/syscall/verbs.h"
#include "kernel/tracing/profiler.h"
#include "kernel/tracing/span_ring.h"

/* The settings: each a variable and a flag (common/config.h). Copied into
 * struct kernel, which cam_config_parse fills. */
static const struct cam_option options[] = {
	{ "CAM_GRPC_LISTEN", "127.0.0.1:50051", "kernel gRPC address ([::1]:50051 form for IPv6)", NULL, 0 },
	{ "CAM_BUS_ADDR", NULL, "nng bus between kernel and exporter (default ipc://$XDG_RUNTIME_DIR/cam-os/bus.ipc, else ipc:///tmp/cam-os-$UID/bus.ipc)", NULL, 0 },
	{ "CAM_PUBLISH_INTERVAL_MS", "1000", "snapshot period in milliseconds (50-60000)", NULL, 0 },
	{ "CAM_LOG_LEVEL", "info", "debug, info, warn or error", NULL, 0 },
	{ "CAM_LOG_FORMAT", "json", "log field names: json (the seed's) or ecs (Elastic Common Schema)", NULL, 0 },
	{ "CAM_PROFILING_ENABLED", "false", "serve /debug/pprof/ on the exporter's port", NULL, 1 },
	{ "CAM_PROFILING_ADDR", NULL, "profiling channel for the exporter (default: the bus address with -pprof before .ipc)", NULL, 0 },
	{ "CAM_REDIS_URL", NULL, "redis://[:password@]host:port[/db]; unset: in-memory context store", NULL, 0 },
	{ "CAM_REDIS_SENTINELS", NULL, "Redis Sentinel addresses host:port,host:port,...: the sentinels name the master (the host of CAM_REDIS_URL is then not used, its password and database are)", NULL, 0 },
	{ "CAM_REDIS_MASTER_NAME", NULL, "the master's name in the sentinels' configuration (with CAM_REDIS_SENTINELS)", NULL, 0 },
	{ "CAM_REDIS_SENTINEL_PASSWORD_FILE", NULL, "file holding the sentinels' password (requirepass of the sentinels; one trailing newline ignored); unset: none", NULL, 0 },
	{ "CAM_REDIS_CLUSTER", NULL, "Redis Cluster: host:port,host:port,... of some of its nodes; each namespace lives on its hash slot's master (the host of CAM_REDIS_URL is then not used, its password is)", NULL, 0 },
	{ "CAM_REDIS_MIN_REPLICAS_ACK", "0", "a context change is acknowledged once WAIT confirms it on this many Redis replicas within the call's deadline (0-16; 0: once the master has it)", NULL, 0 },
	{ "CAM_TPM_TCTI", NULL, "tpm2-tss TCTI string (swtpm:host=127.0.0.1,port=2321, device:/dev/tpmrm0); unset: no TPM", NULL, 0 },
	{ "CAM_TPM_KEY_HANDLE", "0x81000CA0", "persistent TPM handle of the ECC P-256 signing key (owner range 0x81000000-0x817FFFFF)", NULL, 0 },
	{ "CAM_TPM_TIMEOUT_MS", "5000", "longest wait for one TPM command (100-600000)", NULL, 0 },
	{ "CAM_TPM_OWNER_AUTH_FILE", NULL, "file holding the TPM owner hierarchy's authorization value (at most 64 bytes; one trailing newline ignored); unset: empty", NULL, 0 },
	{ "CAM_AUTH_TOKENS_FILE", NULL, "bearer tokens, callers and scopes; unset: anonymous, loopback only", NULL, 0 },
	{ "CAM_DRIVERS_DIR", "drivers", "driver manifests and shared objects", NULL, 0 },
	{ "CAM_DRIVERS_AUTOLOAD", NULL, "drivers to load at start, comma-separated (folder names in CAM_DRIVERS_DIR)", NULL, 0 },
	{ "CAM_DRIVERS_HOST", NULL, "driver helper program (default: cam-driver-host beside cam-kernel)", NULL, 0 },
	{ "CAM_METRICS_MAX_SERIES", "20000", "series limit over all families", NULL, 0 },
	{ "CAM_METRICS_MAX_SERIES_PER_FAMILY", "1000", "series limit of one family made at run time", NULL, 0 },
	{ "CAM_LOG_RING_SIZE", "4096", "log lines the logger may hold before it drops", NULL, 0 },
	{ "CAM_ALLOW_ANONYMOUS", "false", "allow anonymous callers on a non-loopback CAM_GRPC_LISTEN", NULL, 1 },
	{ "CAM_GRPC_WORKERS", "0", "scheduler worker threads running syscalls, 1-256 (0: one per core); tune_system changes it", NULL, 0 },
	{ "CAM_SCHEDULER_WEIGHTS", "8:4:1", "weighted fair shares of the high:normal:low queues (each 1-1000)", NULL, 0 },
	{ "CAM_SCHEDULER_QUEUE_LIMIT", "1024", "calls each class may queue before RESOURCE_EXHAUSTED (1-16384; or high:normal:low)", NULL, 0 },
	{ "CAM_SCHEDULER_STALL_MS", "5000", "Scheduler health is unhealthy when calls are queued and none dequeued this long (100-600000)", NULL, 0 },
	{ "CAM_SCHEDULER_DECISIONS", "4096", "recent scheduling decisions kept for explain_action (16-1048576)", NULL, 0 },
	{ "CAM_GRPC_MAX_MESSAGE_BYTES", "4194304", "largest request message accepted", NULL, 0 },
	{ "CAM_GRPC_MAX_BUFFERED_BYTES", "0", "request and response bytes all gRPC connections may hold; past it calls get RESOURCE_EXHAUSTED (0: an eighth of the memory limit, 16-256 MiB)", NULL, 0 },
	{ "CAM_GRPC_MAX_CONNECTIONS", "0", "gRPC connections served at once; at the cap the oldest idle one is closed (0: from the descriptor limit)", NULL, 0 },
	{ "CAM_GRPC_HANDSHAKE_TIMEOUT_MS", "10000", "a connection that sends no HTTP/2 preface and SETTINGS this long is closed (0: never)", NULL, 0 },
	{ "CAM_GRPC_IO_THREADS", "0", "I/O threads serving gRPC connections, each with its own epoll and connections, 1-64 (0: one per core, at most 8)", NULL, 0 },
	{ "CAM_GRPC_MAX_CONNECTION_AGE_MS", "0", "a connection older than this (+-10 % jitter) gets GOAWAY, so clients reconnect and spread over replicas (0: no limit)", NULL, 0 },
	{ "CAM_GRPC_MAX_CONNECTION_AGE_GRACE_MS", "0", "after a max-age GOAWAY, time its calls in flight get before it is closed (0: until they finish)", NULL, 0 },
	{ "CAM_GRPC_KEEPALIVE_MIN_TIME_MS", "300000", "a client pinging more often than this gets GOAWAY ENHANCE_YOUR_CALM after 3 strikes (0: no keepalive policy)", NULL, 0 },
	{ "CAM_GRPC_KEEPALIVE_PERMIT_WITHOUT_CALLS", "false", "allow keepalive pings on a connection with no call open", NULL, 1 },
	{ "CAM_GRPC_IDLE_TIMEOUT_MS", "600000", "a connection with no call open this long gets GOAWAY (0: never)", NULL, 0 },
	{ "CAM_SHUTDOWN_GRACE_MS", "5000", "time in-flight calls get to finish on SIGTERM", NULL, 0 },
	{ "CAM_ACCESS_LOG", "all", "syscall access log: all, errors or none", NULL, 0 },
	{ "CAM_ACCESS_LOG_ERROR_RATE", "10", "access-log lines of failing calls per second and caller (bursts of twice that; ten times it over all callers); the rest are counted in cam_os_access_log_suppressed_total (0: no limit)", NULL, 0 },
	{ "CAM_CUSTOM_METRICS_MAX", "100", "custom metric families emit_metric may create", NULL, 0 },
	{ "CAM_TLS_CERT_FILE", NULL, "PEM certificate chain: serve gRPC over TLS (with CAM_TLS_KEY_FILE)", NULL, 0 },
	{ "CAM_TLS_KEY_FILE", NULL, "PEM private key of CAM_TLS_CERT_FILE", NULL, 0 },
	{ "CAM_RATE_LIMIT_RPS", "0", "default calls per second per caller (0: unlimited; tokens may set their own)", NULL, 0 },
	{ "CAM_RATE_LIMIT_BURST", "0", "default burst per caller (0: the rate, at least 1)", NULL, 0 },
	{ "CAM_MEMCTX_KEEP_VERSIONS", "10", "memory context: versions kept per key (1-1000)", NULL, 0 },
	{ "CAM_MEMCTX_MAX_VALUE_BYTES", "1048576", "memory context: largest value", NULL, 0 },
	{ "CAM_MEMCTX_MAX_KEYS", "10000", "memory context: keys per namespace", NULL, 0 },
	{ "CAM_MEMCTX_MAX_BYTES", "268435456", "memory context: bytes of all kept versions and snapshots", NULL, 0 },
	{ "CAM_MEMCTX_MAX_SNAPSHOTS", "16", "memory context: snapshots per namespace", NULL, 0 },
	{ "CAM_MEMCTX_REDIS_TIMEOUT_MS", "1000", "memory context: Redis connect and command timeout", NULL, 0 },
	{ "CAM_MEMCTX_REDIS_PING_MS", "1000", "memory context: Redis health PING period", NULL, 0 },
	{ "CAM_MEMCTX_REDIS_BACKOFF_MAX_MS", "2000", "memory context: longest wait between Redis reconnects", NULL, 0 },
	{ "CAM_MEMCTX_REDIS_IO_THREADS", "1", "memory context: Redis I/O threads, each an event loop with one pipelined connection per Redis node (1-16)", NULL, 0 },
	{ "CAM_MEMCTX_REDIS_MAX_IN_FLIGHT", "1024", "memory context: Redis commands one connection may have sent and not seen answered (as many more wait; past that calls get UNAVAILABLE) (1-65536)", NULL, 0 },
};
#define NOPTS (sizeof(options) / sizeof(options[0]))


struct kernel {
	/* Settings (read_settings). */
	struct cam_option opts[NOPTS];
	long interval_ms;
	long workers, max_msg, grace_ms, custom_max, per_family;
	long max_buffered, max_conns, handshake_ms, idle_ms, io_threads;
	long max_age_ms, age_grace_ms, ping_min_ms;
	int ping_without_calls;
	enum cam_access_log_mode access_log;
	double access_log_error_rate;
	char bus_addr[512];
	char instance_id[33];
	double start_time;
	int profiling;
	struct cam_sched_settings sched_settings;
	long sched_decisions;
	/* Objects, in the order start() makes them; stop() frees them in
	 * reverse. */
	cam_process_metrics *process;
	cam_span_ring *spans;
	cam_bus *bus;
	cam_publisher *publisher;
	cam_profiler *profiler;
	cam_memctx *memctx;
	cam_auth *auth;
	cam_sched *sched;
	cam_tpm *tpm;
	cam_drivers *drivers;
	cam_grpc_server *server;
	cam_grpc_health *health;
	cam_verbs *verbs;
	cam_components *components;
	cam_system_verbs *system_verbs;
	cam_emit_metric *emit_metric;
	cam_emit_trace *emit_trace;
	cam_sched_verbs *sched_verbs;
	cam_context_verbs *context_verbs;
	cam_security_verbs *security_verbs;
	cam_driver_verbs *driver_verbs;
	cam_dispatch *dispatch;
	cam_syscall_service *service;
};

static const char *opt(const struct kernel *k, const char *env)
{
	return cam_config_get(k->opts, NOPTS, env);
}

/* Anonymous callers beyond loopback only when asked for explicitly. */
static int check_listen_policy(const struct kernel *k)
{
	int allow = 0;

	if (cam_config_bool(opt(k, "CAM_ALLOW_ANONYMOUS"), &allow)) {
		fprintf(stderr, "cam-kernel: CAM_ALLOW_ANONYMOUS must be true or false\n");
		return -1;
	}
	if (cam_listen_is_loopback(opt(k, "CAM_GRPC_LISTEN")) || allow ||
	    opt(k, "CAM_AUTH_TOKENS_FILE"))
		return 0;
	fprintf(stderr,
		"cam-kernel: refusing to serve anonymous callers on %s, which is not a loopback "
		"address: set CAM_AUTH_TOKENS_FILE, or CAM_ALLOW_ANONYMOUS=true to allow it\n",
		opt(k, "CAM_GRPC_LISTEN"));
	return -1;
}

/* The scheduler's options (the worker count is CAM_GRPC_WORKERS). */
static int read_scheduler_settings(struct kernel *k)
{
	struct cam_sched_settings *st = &k->sched_settings;
	long stall;
	const char *bad;

	cam_sched_default_settings(st);
	st->workers = (unsigned)k->workers;
	if (cam_sched_parse_classes(opt(k, "CAM_SCHEDULER_WEIGHTS"), false, st->weights) ||
	    cam_sched_parse_classes(opt(k, "CAM_SCHEDULER_QUEUE_LIMIT"), true, st->queue_limit) ||
	    cam_config_long(opt(k, "CAM_SCHEDULER_STALL_MS"), CAM_SCHED_STALL_MS_MIN,
			    CAM_SCHED_STALL_MS_MAX, &stall) ||
	    cam_config_long(opt(k, "CAM_SCHEDULER_DECISIONS"), 16, 1 << 20, &k->sched_decisions)) {
		fprintf(stderr, "cam-kernel: CAM_SCHEDULER_WEIGHTS (high:normal:low), CAM_SCHEDULER_QUEUE_LIMIT, "
				"CAM_SCHEDULER_STALL_MS (100-600000) and CAM_SCHEDULER_DECISIONS (16-1048576) must be numbers in range\n");
		return CAM_EINVAL;
	}
	st->stall_ms = (unsigned)stall;
	if ((bad = cam_sched_settings_check(st))) {
		fprintf(stderr, "cam-kernel: scheduler settings: %s\n", bad);
		return CAM_EINVAL;
	}
	return 0;
}

/* Settings that are numbers or levels, checked before anything starts. */
static int read_settings(struct kernel *k)
{
	enum cam_log_level level;
	long max_series, per_family;
	int profiling;

	if (cam_log_parse_level(opt(k, "CAM_LOG_LEVEL"), &level)) {
		fprintf(stderr, "cam-kernel: CAM_LOG_LEVEL must be debug, info, warn or error\n");
		return CAM_EINVAL;
	}
	cam_log_set_level(level);
	if (cam_log_configure(opt(k, "CAM_LOG_FORMAT"), "cam-kernel")) {
		fprintf(stderr, "cam-kernel: CAM_LOG_FORMAT must be json or ecs\n");
		return CAM_EINVAL;
	}
	if (cam_config_long(opt(k, "CAM_PUBLISH_INTERVAL_MS"), 50, 60000, &k->interval_ms)) {
		fprintf(stderr, "cam-kernel: CAM_PUBLISH_INTERVAL_MS must be 50-60000\n");
		return CAM_EINVAL;
	}
	if (cam_config_long(opt(k, "CAM_METRICS_MAX_SERIES"), 100, 200000, &max_series) ||
	    cam_config_long(opt(k, "CAM_METRICS_MAX_SERIES_PER_FAMILY"), 1, 200000, &per_family)) {
		fprintf(stderr, "cam-kernel: series limits must be 100-200000 (global) and 1-200000 (per family)\n");
		return CAM_EINVAL;
	}
	if (cam_config_bool(opt(k, "CAM_PROFILING_ENABLED"), &profiling)) {
		fprintf(stderr, "cam-kernel: CAM_PROFILING_ENABLED must be true or false\n");
		return CAM_EINVAL;
	}
	k->profiling = profiling;
	cam_metrics_set_limits((size_t)per_family, (size_t)max_series);
	k->per_family = per_family;
	if (cam_config_long(opt(k, "CAM_GRPC_WORKERS"), 0, 256, &k->workers) ||
	    cam_config_long(opt(k, "CAM_GRPC_MAX_MESSAGE_BYTES"), 1024, 64L << 20, &k->max_msg) ||
	    cam_config_long(opt(k, "CAM_SHUTDOWN_GRACE_MS"), 0, 600000, &k->grace_ms) ||
	    cam_config_long(opt(k, "CAM_CUSTOM_METRICS_MAX"), 0, 1000, &k->custom_max)) {
		fprintf(stderr, "cam-kernel: CAM_GRPC_WORKERS (0-256), CAM_GRPC_MAX_MESSAGE_BYTES (1024-67108864), "
				"CAM_SHUTDOWN_GRACE_MS (0-600000) and CAM_CUSTOM_METRICS_MAX (0-1000) must be numbers in range\n");
		return CAM_EINVAL;
	}
	if (cam_config_long(opt(k, "CAM_GRPC_MAX_BUFFERED_BYTES"), 0, 1L << 40, &k->max_buffered) ||
	    (k->max_buffered && k->max_buffered < (1L << 20)) ||
	    cam_config_long(opt(k, "CAM_GRPC_MAX_CONNECTIONS"), 0, 1000000, &k->max_conns) ||
	    cam_config_long(opt(k, "CAM_GRPC_HANDSHAKE_TIMEOUT_MS"), 0, 3600000, &k->handshake_ms) ||
	    cam_config_long(opt(k, "CAM_GRPC_IDLE_TIMEOUT_MS"), 0, 86400000, &k->idle_ms) ||
	    cam_config_long(opt(k, "CAM_GRPC_IO_THREADS"), 0, 64, &k->io_threads) ||
	    cam_config_long(opt(k, "CAM_GRPC_MAX_CONNECTION_AGE_MS"), 0, 1L << 31, &k->max_age_ms) ||
	    cam_config_long(opt(k, "CAM_GRPC_MAX_CONNECTION_AGE_GRACE_MS"), 0, 1L << 31, &k->age_grace_ms) ||
	    cam_config_long(opt(k, "CAM_GRPC_KEEPALIVE_MIN_TIME_MS"), 0, 1L << 31, &k->ping_min_ms) ||
	    cam_config_bool(opt(k, "CAM_GRPC_KEEPALIVE_PERMIT_WITHOUT_CALLS"), &k->ping_without_calls)) {
		fprintf(stderr, "cam-kernel: CAM_GRPC_MAX_BUFFERED_BYTES (0, or 1048576 and more), CAM_GRPC_MAX_CONNECTIONS (0-1000000), "
				"CAM_GRPC_HANDSHAKE_TIMEOUT_MS (0-3600000), CAM_GRPC_IDLE_TIMEOUT_MS (0-86400000), CAM_GRPC_IO_THREADS (0-64), "
				"CAM_GRPC_MAX_CONNECTION_AGE_MS, CAM_GRPC_MAX_CONNECTION_AGE_GRACE_MS and CAM_GRPC_KEEPALIVE_MIN_TIME_MS (0-2147483648) "
				"must be numbers in range, CAM_GRPC_KEEPALIVE_PERMIT_WITHOUT_CALLS true or false\n");
		return CAM_EINVAL;
	}
	if (read_scheduler_settings(k))
		return CAM_EINVAL;
	if (!strcmp(opt(k, "CAM_ACCESS_LOG"), "all"))
		k->access_log = CAM_ACCESS_LOG_ALL;
	else if (!strcmp(opt(k, "CAM_ACCESS_LOG"), "errors"))
		k->access_log = CAM_ACCESS_LOG_ERRORS;
	else if (!strcmp(opt(k, "CAM_ACCESS_LOG"), "none"))
		k->access_log = CAM_ACCESS_LOG_NONE;
	else {
		fprintf(stderr, "cam-kernel: CAM_ACCESS_LOG must be all, errors or none\n");
		return CAM_EINVAL;
	}
	{
		char *end;

		k->access_log_error_rate = strtod(opt(k, "CAM_ACCESS_LOG_ERROR_RATE"), &end);
		if (*end || !(k->access_log_error_rate >= 0 && k->access_log_error_rate <= 1e6)) {
			fprintf(stderr, "cam-kernel: CAM_ACCESS_LOG_ERROR_RATE must be 0-1000000\n");
			return CAM_EINVAL;
		}
	}
	if (check_listen_policy(k))
		return CAM_EPERM;
	if (opt(k, "CAM_BUS_ADDR"))
		snprintf(k->bus_addr, sizeof(k->bus_addr), "%s", opt(k, "CAM_BUS_ADDR"));
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

/* ---- the objects, in the order start() makes them ---------------------- */

static int new_publisher(struct kernel *k)
{
	struct cam_publisher_opts po = {
		.bus = k->bus,
		.spans = k->spans,
		.interval_ms = (uint32_t)k->interval_ms,
		.instance_id = k->instance_id,
		.start_time_seconds = k->start_time,
		.version = CAM_VERSION,
	};

	return cam_publisher_new(&po, &k->publisher);
}

/* The profiling channel (kernel/tracing/profiler.h) beside the bus. */
static int new_profiler(struct kernel *k)
{
	char addr[540];

	if (!k->profiling)
		return 0;
	if (opt(k, "CAM_PROFILING_ADDR"))
		snprintf(addr, sizeof(addr), "%s", opt(k, "CAM_PROFILING_ADDR"));
	else
		cam_pprof_default_addr(k->bus_addr, addr, sizeof(addr));
	return cam_profiler_new(addr, &k->profiler);
}

/* The sentinels' password from CAM_REDIS_SENTINEL_PASSWORD_FILE into pw
 * (len bytes; "" when unset): 0, or CAM_EINVAL with the reason logged.
 * A secret: never logged. */
static int read_sentinel_password(const char *path, char *pw, size_t len)
{
	size_t n;
	FILE *f;

	pw[0] = '\0';
	if (!path || !*path)
		return 0;
	if (!(f = fopen(path, "r"))) {
		cam_log(CAM_LOG_ERROR, "kernel", "cannot read CAM_REDIS_SENTINEL_PASSWORD_FILE %s: %s",
			path, strerror(errno));
		return CAM_EINVAL;
	}
	n = fread(pw, 1, len, f);
	fclose(f);
	if (n && pw[n - 1] == '\n')
		n--;
	if (n >= len || memchr(pw, '\0', n) || memchr(pw, '\n', n)) {
		explicit_bzero(pw, len);
		cam_log(CAM_LOG_ERROR, "kernel", "CAM_REDIS_SENTINEL_PASSWORD_FILE %s must hold one line "
			"of at most %zu bytes", path, len - 1);
		return CAM_EINVAL;
	}
	pw[n] = '\0';
	return 0;
}

/* The memory context store: in memory, or Redis with CAM_REDIS_URL (or
 * found through CAM_REDIS_SENTINELS). */
static int new_memctx(struct kernel *k)
{
	struct cam_memctx_opts o = {
		.redis_url = opt(k, "CAM_REDIS_URL"),
		.sentinels = opt(k, "CAM_REDIS_SENTINELS"),
		.master_name = opt(k, "CAM_REDIS_MASTER_NAME"),
		.cluster = opt(k, "CAM_REDIS_CLUSTER"),
	};
	long keep, value, keys, bytes, snaps, timeout, ping, backoff, acks, io_threads, in_flight;
	char why[CAM_MEMCTX_WHY] = "", sentinel_pw[256];
	int rc;

	if (cam_config_long(opt(k, "CAM_MEMCTX_KEEP_VERSIONS"), 1, CAM_MEMCTX_MAX_KEEP, &keep) ||
	    cam_config_long(opt(k, "CAM_MEMCTX_MAX_VALUE_BYTES"), 1, 64L << 20, &value) ||
	    cam_config_long(opt(k, "CAM_MEMCTX_MAX_KEYS"), 1, 100000000, &keys) ||
	    cam_config_long(opt(k, "CAM_MEMCTX_MAX_BYTES"), 1, 1L << 50, &bytes) ||
	    cam_config_long(opt(k, "CAM_MEMCTX_MAX_SNAPSHOTS"), 1, 100000, &snaps) ||
	    cam_config_long(opt(k, "CAM_MEMCTX_REDIS_TIMEOUT_MS"), 10, 60000, &timeout) ||
	    cam_config_long(opt(k, "CAM_MEMCTX_REDIS_PING_MS"), 100, 60000, &ping) ||
	    cam_config_long(opt(k, "CAM_MEMCTX_REDIS_BACKOFF_MAX_MS"), 100, 600000, &backoff) ||
	    cam_config_long(opt(k, "CAM_REDIS_MIN_REPLICAS_ACK"), 0, 16, &acks) ||
	    cam_config_long(opt(k, "CAM_MEMCTX_REDIS_IO_THREADS"), 1, 16, &io_threads) ||
	    cam_config_long(opt(k, "CAM_MEMCTX_REDIS_MAX_IN_FLIGHT"), 1, 65536, &in_flight)) {
		cam_log(CAM_LOG_ERROR, "kernel", "a CAM_MEMCTX_* setting or CAM_REDIS_MIN_REPLICAS_ACK (0-16) "
			"is not a number in range (see --help)");
		return CAM_EINVAL;
	}
	if (o.master_name && !o.sentinels) {
		cam_log(CAM_LOG_ERROR, "kernel", "CAM_REDIS_MASTER_NAME needs CAM_REDIS_SENTINELS");
		return CAM_EINVAL;
	}
	if (acks && !o.sentinels && !o.redis_url && !o.cluster) {
		cam_log(CAM_LOG_ERROR, "kernel", "CAM_REDIS_MIN_REPLICAS_ACK needs Redis (CAM_REDIS_URL, CAM_REDIS_SENTINELS or CAM_REDIS_CLUSTER)");
		return CAM_EINVAL;
	}
	if ((rc = read_sentinel_password(opt(k, "CAM_REDIS_SENTINEL_PASSWORD_FILE"), sentinel_pw,
					 sizeof(sentinel_pw))))
		return rc;
	o.sentinel_password = sentinel_pw;
	o.min_replicas_ack = (unsigned)acks;
	o.limits = (struct cam_memctx_limits){ (size_t)value, (size_t)keys, (uint64_t)bytes,
					       (unsigned)keep, (unsigned)snaps, 0 };
	o.timeout_ms = (int)timeout;
	o.ping_interval_ms = (int)ping;
	o.backoff_max_ms = (int)backoff;
	o.io_threads = (unsigned)io_threads;
	o.max_in_flight = (unsigned)in_flight;
	rc = cam_memctx_new(&o, &k->memctx, why);
	explicit_bzero(sentinel_pw, sizeof(sentinel_pw));
	if (rc) {
		cam_log(CAM_LOG_ERROR, "memctx", "memory context store not started: %s", why);
		return rc;
	}
	cam_log(CAM_LOG_INFO, "memctx",
		"memory context store: %s backend%s%s, %u versions kept per key, values up to %zu bytes, "
		"acknowledged after %u replicas confirm", cam_memctx_backend(k->memctx),
		o.sentinels ? " found through the sentinels " : o.cluster ? " on the cluster of " : "",
		o.sentinels ? o.sentinels : o.cluster ? o.cluster : "",
		o.limits.keep_versions, o.limits.max_value_bytes, o.min_replicas_ack);
	return 0;
}

/* Bearer tokens (CAM_AUTH_TOKENS_FILE) and per-caller rate limits. */
static int new_auth(struct kernel *k)
{
	struct cam_auth_opts o = { .tokens_file = opt(k, "CAM_AUTH_TOKENS_FILE") };
	char why[256] = "";
	char *end;
	int rc;

	o.default_rate = strtod(opt(k, "CAM_RATE_LIMIT_RPS"), &end);
	if (*end || !(o.default_rate >= 0 && o.default_rate <= 1e7)) {
		cam_log(CAM_LOG_ERROR, "kernel", "CAM_RATE_LIMIT_RPS must be 0-10000000");
		return CAM_EINVAL;
	}
	o.default_burst = strtod(opt(k, "CAM_RATE_LIMIT_BURST"), &end);
	if (*end || !(o.default_burst >= 0 && o.default_burst <= 1e7)) {
		cam_log(CAM_LOG_ERROR, "kernel", "CAM_RATE_LIMIT_BURST must be 0-10000000");
		return CAM_EINVAL;
	}
	rc = cam_auth_new(&o, &k->auth, why, sizeof(why));
	if (rc)
		cam_log(CAM_LOG_ERROR, "security", "cannot load CAM_AUTH_TOKENS_FILE: %s", why);
	else if (o.tokens_file)
		cam_log(CAM_LOG_INFO, "security", "%zu bearer tokens loaded",
			cam_auth_token_count(k->auth));
	return rc;
}

static int new_scheduler(struct kernel *k)
{
	struct cam_sched_opts so = {
		.settings = k->sched_settings,
		.decisions = (size_t)k->sched_decisions,
	};
	int rc = cam_sched_new(&so, &k->sched);

	if (rc)
		cam_log(CAM_LOG_ERROR, "kernel", "cannot start the scheduler: %s", cam_strerror(rc));
	return rc;
}

#define CAM_TPM_OWNER_AUTH_MAX 64

/* The owner authorization from path (NULL: empty) into auth; the value
 * is a secret, so it is never logged. 0 or CAM_EINVAL with the reason
 * logged. */
static int read_owner_auth(const char *path, unsigned char *auth, size_t *len)
{
	unsigned char buf[CAM_TPM_OWNER_AUTH_MAX + 2];
	size_t n;
	FILE *f;

	*len = 0;
	if (!path || !*path)
		return 0;
	f = fopen(path, "rb");
	if (!f) {
		cam_log(CAM_LOG_ERROR, "kernel", "cannot read CAM_TPM_OWNER_AUTH_FILE %s: %s", path,
			strerror(errno));
		return CAM_EINVAL;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n && buf[n - 1] == '\n')
		n--;
	if (n > CAM_TPM_OWNER_AUTH_MAX) {
		explicit_bzero(buf, sizeof(buf));
		cam_log(CAM_LOG_ERROR, "kernel", "CAM_TPM_OWNER_AUTH_FILE %s holds more than %d bytes",
			path, CAM_TPM_OWNER_AUTH_MAX);
		return CAM_EINVAL;
	}
	memcpy(auth, buf, n);
	explicit_bzero(buf, sizeof(buf));
	*len = n;
	return 0;
}

/* The TPM behind the tpm_* verbs, when CAM_TPM_TCTI names one. A TPM that
 * is not there yet is no reason to stop: its verbs answer UNAVAILABLE and
 * it is retried in the background. */
static int new_tpm(struct kernel *k)
{
	struct cam_tpm_opts o = { .tcti = opt(k, "CAM_TPM_TCTI") };
	unsigned char auth[CAM_TPM_OWNER_AUTH_MAX];
	unsigned long handle;
	long timeout;
	char *end;
	int rc;

	handle = strtoul(opt(k, "CAM_TPM_KEY_HANDLE"), &end, 0);
	if (*end || handle < 0x81000000ul || handle > 0x817FFFFFul ||
	    cam_config_long(opt(k, "CAM_TPM_TIMEOUT_MS"), 100, 600000, &timeout)) {
		cam_log(CAM_LOG_ERROR, "kernel", "CAM_TPM_KEY_HANDLE must be 0x81000000-0x817FFFFF "
			"and CAM_TPM_TIMEOUT_MS 100-600000");
		return CAM_EINVAL;
	}
	o.key_handle = (uint32_t)handle;
	o.timeout_ms = (unsigned)timeout;
	if (o.tcti && (rc = read_owner_auth(opt(k, "CAM_TPM_OWNER_AUTH_FILE"), auth, &o.owner_auth_len)))
		return rc;
	o.owner_auth = auth;
	rc = o.tcti ? cam_tpm_new(&o, &k->tpm) : 0;
	explicit_bzero(auth, sizeof(auth));
	if (rc)
		cam_log(CAM_LOG_ERROR, "kernel", "cannot start the TPM thread for %s: %s", o.tcti,
			cam_strerror(rc));
	return rc;
}

static int new_drivers(struct kernel *k)
{
	struct cam_drivers_opts o = { .dir = opt(k, "CAM_DRIVERS_DIR"), .host = opt(k, "CAM_DRIVERS_HOST") };
	int rc = cam_drivers_new(&o, &k->drivers);

	if (rc)
		return rc;
	cam_drivers_autoload(k->drivers, opt(k, "CAM_DRIVERS_AUTOLOAD"));
	return 0;
}

static void health_not_serving(void *arg)
{
	cam_grpc_health_set_all(arg, false);
}

/* The server, stopped, with the transport's own services (grpc.health.v1
 * and reflection); cam.SyscallService comes once the dispatcher exists. */
static int new_server(struct kernel *k)
{
	struct cam_grpc_server_opts go = {
		.listen = opt(k, "CAM_GRPC_LISTEN"),
		.workers = (unsigned)k->workers,
		.max_msg_bytes = (size_t)k->max_msg,
		.drain_ms = (int)(k->grace_ms ? k->grace_ms : 1),
		.executor = cam_sched_executor(k->sched),
		.tls_cert_file = opt(k, "CAM_TLS_CERT_FILE"),
		.tls_key_file = opt(k, "CAM_TLS_KEY_FILE"),
		.max_buffered_bytes = (size_t)k->max_buffered,
		.max_connections = (unsigned)k->max_conns,
		.handshake_timeout_ms = k->handshake_ms ? (int)k->handshake_ms : -1,
		.idle_timeout_ms = (int)k->idle_ms,
		.io_threads = (unsigned)k->io_threads,
		.max_age_ms = (int)k->max_age_ms,
		.max_age_grace_ms = (int)k->age_grace_ms,
		.keepalive_min_time_ms = k->ping_min_ms ? (int)k->ping_min_ms : -1,
		.keepalive_permit_without_calls = k->ping_without_calls,
	};
	int rc = cam_grpc_server_new(&go, &k->server);

	if (rc) {
		cam_log(CAM_LOG_ERROR, "kernel", "bad gRPC settings for %s: %s", go.listen,
			cam_strerror(rc));
		return rc;
	}
	if ((rc = cam_grpc_health_register(k->server, &k->health)) ||
	    (rc = cam_grpc_reflection_register(k->server)))
		return rc;
	return cam_grpc_server_on_shutdown(k->server, health_not_serving, k->health);
}

/*
 * The verb registry and HealthCheck's components, then each subsystem's
 * verbs, which add their rows and probes. The system verbs go first: ping,
 * the benchmark verb, is then the first row a lookup meets.
 */
static int new_verbs(struct kernel *k)
{
	int rc;

	if ((rc = cam_verbs_new(&k->verbs)) || (rc = cam_components_new(&k->components)))
		return rc;
	if ((rc = cam_system_verbs_new(&(struct cam_system_verbs_opts){
			.verbs = k->verbs, .server = k->server, .sched = k->sched,
			.publisher = k->publisher, .instance_id = k->instance_id,
			.start_time = k->start_time }, &k->system_verbs)) ||
	    (rc = cam_emit_metric_new(&(struct cam_emit_metric_opts){
			.verbs = k->verbs, .families_max = (size_t)k->custom_max,
			.series_max = (size_t)k->per_family }, &k->emit_metric)) ||
	    (rc = cam_emit_trace_new(k->verbs, k->spans, &k->emit_trace)) ||
	    (rc = cam_sched_verbs_new(&(struct cam_sched_verbs_opts){
			.verbs = k->verbs, .components = k->components, .sched = k->sched },
			&k->sched_verbs)) ||
	    (rc = cam_context_verbs_new(&(struct cam_context_verbs_opts){
			.verbs = k->verbs, .components = k->components, .store = k->memctx },
			&k->context_verbs)) ||
	    (rc = cam_security_verbs_new(&(struct cam_security_verbs_opts){
			.verbs = k->verbs, .components = k->components, .tpm = k->tpm },
			&k->security_verbs)) ||
	    (rc = cam_driver_verbs_new(&(struct cam_driver_verbs_opts){
			.verbs = k->verbs, .components = k->components, .drivers = k->drivers },
			&k->driver_verbs)))
		cam_log(CAM_LOG_ERROR, "kernel", "cannot add the verbs: %s", cam_strerror(rc));
	return rc;
}

static int new_dispatch(struct kernel *k)
{
	struct cam_dispatch_opts o = {
		.verbs = k->verbs,
		.auth = k->auth,
		.sched = k->sched,
		.spans = k->spans,
		.instance_id = k->instance_id,
		.access_log = k->access_log,
		.access_log_error_rate = k->access_log_error_rate,
	};

	return cam_dispatch_new(&o, &k->dispatch);
}

static int new_service(struct kernel *k)
{
	struct cam_syscall_service_opts o = {
		.server = k->server,
		.dispatch = k->dispatch,
		.components = k->components,
		.auth = k->auth,
		.verbs = k->verbs,
		.prioritize = true,
		.instance_id = k->instance_id,
		.start_time = k->start_time,
	};

	return cam_syscall_service_new(&o, &k->service);
}

static int start_server(struct kernel *k)
{
	int rc = cam_grpc_server_start(k->server);

	if (rc)
		cam_log(CAM_LOG_ERROR, "kernel", "cannot serve gRPC on %s: %s",
			opt(k, "CAM_GRPC_LISTEN"), cam_strerror(rc));
	return rc;
}

static int start(struct kernel *k)
{
	struct timespec ts;
	long ring;
	int rc;

	if (cam_config_long(opt(k, "CAM_LOG_RING_SIZE"), 16, 1 << 20, &ring))
		ring = 4096;
	cam_log_start((size_t)ring);
	cam_log_register_metrics();
	make_instance_id(k->instance_id);
	clock_gettime(CLOCK_REALTIME, &ts);
	k->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;

	if ((rc = cam_build_info_register()) ||
	    (rc = cam_process_metrics_new(&k->process)) ||
	    (rc = cam_span_ring_new(CAM_SPAN_RING_DEFAULT, &k->spans)) ||
	    (rc = cam_bus_pub_new(k->bus_addr, &k->bus)) ||
	    (rc = new_publisher(k)) ||
	    (rc = new_profiler(k)) ||
	    (rc = new_memctx(k)) ||
	    (rc = new_auth(k)) ||
	    (rc = new_scheduler(k)) ||
	    (rc = new_tpm(k)) ||
	    (rc = new_drivers(k)) ||
	    (rc = new_server(k)) ||
	    (rc = new_verbs(k)) ||
	    (rc = new_dispatch(k)) ||
	    (rc = new_service(k)))
		return rc;
	return start_server(k);
}

/*
 * Quiesces, then frees in reverse order of start() (every free takes
 * NULL, so this also undoes a start that failed half way).
 */
static void stop(struct kernel *k)
{
	/* After these no call runs or completes: the server drains the calls
	 * in flight (so the final snapshot counts every one), then the threads
	 * that may still complete deferred calls end, answering them. */
	cam_grpc_server_shutdown(k->server);
	cam_driver_verbs_stop(k->driver_verbs);
	cam_drivers_stop(k->drivers);

	cam_dispatch_free(k->dispatch);
	cam_driver_verbs_free(k->driver_verbs);
	cam_security_verbs_free(k->security_verbs);
	cam_context_verbs_free(k->context_verbs);
	cam_sched_verbs_free(k->sched_verbs);
	cam_emit_trace_free(k->emit_trace);
	cam_emit_metric_free(k->emit_metric);
	cam_system_verbs_free(k->system_verbs);
	cam_components_free(k->components);
	cam_verbs_free(k->verbs);
	/* The services a server serves are its until it is freed. */
	cam_grpc_server_free(k->server);
	cam_syscall_service_free(k->service);
	cam_grpc_health_free(k->health);
	cam_drivers_free(k->drivers);
	cam_tpm_free(k->tpm);
	cam_sched_free(k->sched); /* after the server, whose shutdown drained it */
	cam_auth_free(k->auth);
	cam_memctx_free(k->memctx);
	cam_profiler_free(k->profiler);
	cam_publisher_free(k->publisher); /* publishes the final snapshot */
	cam_bus_free(k->bus);
	cam_span_ring_free(k->spans);
	cam_process_metrics_free(k->process);
}

static void log_started(const struct kernel *k)
{
	struct cam_log_line l;

	if (!cam_log_begin(&l, CAM_LOG_INFO, "kernel", "cam-kernel started"))
		return;
	cam_log_str(&l, "version", CAM_VERSION);
	cam_log_str(&l, "instance_id", k->instance_id);
	cam_log_str(&l, "grpc_listen", opt(k, "CAM_GRPC_LISTEN"));
	cam_log_int(&l, "grpc_port", cam_grpc_server_port(k->server));
	cam_log_str(&l, "bus", k->bus_addr);
	cam_log_int(&l, "publish_interval_ms", k->interval_ms);
	cam_log_end(&l);
}

int main(int argc, char **argv)
{
	struct kernel k = { 0 };
	cam_notify *notify = NULL;
	sigset_t sigs;
	int sig = 0, rc;

	memcpy(k.opts, options, sizeof(options));
	rc = cam_config_parse(k.opts, NOPTS, argc, argv,
			      "usage: cam-kernel [--flag value ...]\n"
			      "CAM-OS syscall kernel " CAM_VERSION,
			      stderr);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (read_settings(&k))
		return 2;
	if (k.profiling)
		cam_profiler_reexec_with_tcmalloc(argv);

	/* tpm2-tss would print its own lines among our JSON ones; the
	 * operator can still ask for them with TSS2_LOG. setenv is only safe
	 * before other threads exist. */
	setenv("TSS2_LOG", "all+none", 0);

	/* Large buffers (request and answer messages, up to 64 MiB) come from
	 * mmap and go back to the system when freed: glibc's moving threshold
	 * would otherwise keep what a burst of large calls took for good. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);

	/* Before any thread starts, so every thread inherits the mask. */
	cam_signals_block(&sigs);

	rc = start(&k);
	if (rc) {
		cam_log(CAM_LOG_ERROR, "kernel", "cam-kernel failed to start: %s",
			cam_strerror(rc));
		stop(&k);
		cam_log_stop();
		return 1;
	}
	log_started(&k);
	cam_notify_ready("serving gRPC", &notify);

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			char why[256] = "";
			if (cam_auth_reload(k.auth, why, sizeof(why)))
				cam_log(CAM_LOG_ERROR, "security",
					"SIGHUP: tokens file not reloaded, the old tokens stay: %s", why);
			else
				cam_log(CAM_LOG_INFO, "security", "SIGHUP: %zu bearer tokens in force",
					cam_auth_token_count(k.auth));
			continue;
		}
		break;
	}
	cam_log(CAM_LOG_INFO, "kernel", "%s received, shutting down", strsignal(sig));
	cam_notify_stopping(notify);
	stop(&k);
	cam_log(CAM_LOG_INFO, "kernel", "cam-kernel stopped");
	cam_log_stop();
	return 0;
}
