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
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/bus.h"
#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/notify.h"
#include "common/otlp_switch.h"
#include "common/pprof_channel.h"
#include "common/signals.h"
#include "common/version.h"
#include "kernel/build_info.h"
#include "kernel/datadir.h"
#include "kernel/drivers/runtime.h"
#include "kernel/grpc/health.h"
#include "kernel/grpc/reflection.h"
#include "kernel/grpc/server.h"
#include "kernel/listen_policy.h"
#include "kernel/log_bus.h"
#include "kernel/memctx/memctx.h"
#include "kernel/process_metrics.h"
#include "kernel/publisher.h"
#include "kernel/scheduler/scheduler.h"
#include "kernel/security/agents.h"
#include "kernel/security/audit.h"
#include "kernel/security/auth.h"
#include "kernel/security/policy.h"
#include "kernel/security/tpm.h"
#include "kernel/store/store.h"
#include "kernel/syscall/components.h"
#include "kernel/syscall/context_verbs.h"
#include "kernel/syscall/dispatch.h"
#include "kernel/syscall/driver_verbs.h"
#include "kernel/syscall/emit_metric.h"
#include "kernel/syscall/emit_trace.h"
#include "kernel/syscall/policy_verbs.h"
#include "kernel/syscall/sched_verbs.h"
#include "kernel/syscall/security_verbs.h"
#include "kernel/syscall/service.h"
#include "kernel/syscall/store_verbs.h"
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
	{ "CAM_OTLP_ENDPOINT", NULL, "set on both programs: cam-exporter pushes every OTLP signal there, and the kernel then puts its log lines on the bus for it (the kernel itself never connects; OTEL_EXPORTER_OTLP_ENDPOINT too)", NULL, 0 },
	{ "CAM_OTLP_LOGS_ENDPOINT", NULL, "the same for OTLP logs alone (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT too)", NULL, 0 },
	{ "CAM_DATA_DIR", NULL, "what must survive a restart (the context store, registered agents, the policy, the audit log); unset: $STATE_DIRECTORY, else $XDG_STATE_HOME/cam-os, else $HOME/.local/state/cam-os (made 0700)", NULL, 0 },
	{ "CAM_MEMCTX_BACKEND", NULL, "context store: lmdb (durable, in <data dir>/store; the default without Redis), memory (volatile: every restart forgets it) or redis (what CAM_REDIS_URL, CAM_REDIS_SENTINELS or CAM_REDIS_CLUSTER select, the default with them)", NULL, 0 },
	{ "CAM_REDIS_URL", NULL, "redis://[:password@]host:port[/db]; unset: the durable lmdb store (CAM_MEMCTX_BACKEND)", NULL, 0 },
	{ "CAM_REDIS_SENTINELS", NULL, "Redis Sentinel addresses host:port,host:port,...: the sentinels name the master (the host of CAM_REDIS_URL is then not used, its password and database are)", NULL, 0 },
	{ "CAM_REDIS_MASTER_NAME", NULL, "the master's name in the sentinels' configuration (with CAM_REDIS_SENTINELS)", NULL, 0 },
	{ "CAM_REDIS_SENTINEL_PASSWORD_FILE", NULL, "file holding the sentinels' password (requirepass of the sentinels; one trailing newline ignored); unset: none", NULL, 0 },
	{ "CAM_REDIS_CLUSTER", NULL, "Redis Cluster: host:port,host:port,... of some of its nodes; each namespace lives on its hash slot's master (the host of CAM_REDIS_URL is then not used, its password is)", NULL, 0 },
	{ "CAM_REDIS_MIN_REPLICAS_ACK", "0", "a context change is acknowledged once WAIT confirms it on this many Redis replicas within the call's deadline (0-16; 0: once the master has it)", NULL, 0 },
	{ "CAM_TPM_TCTI", NULL, "tpm2-tss TCTI string (swtpm:host=127.0.0.1,port=2321, device:/dev/tpmrm0); unset: no TPM", NULL, 0 },
	{ "CAM_TPM_KEY_HANDLE", "0x81000CA0", "persistent TPM handle of the ECC P-256 signing key (owner range 0x81000000-0x817FFFFF)", NULL, 0 },
	{ "CAM_TPM_TIMEOUT_MS", "5000", "longest wait for one TPM command (100-600000)", NULL, 0 },
	{ "CAM_TPM_OWNER_AUTH_FILE", NULL, "file holding the TPM owner hierarchy's authorization value (at most 64 bytes; one trailing newline ignored); unset: empty", NULL, 0 },
	{ "CAM_AUTH_TOKENS_FILE", NULL, "bearer tokens, callers and scopes; unset (and no CAM_TLS_CLIENT_CA_FILE): anonymous, loopback only, no agent kept from another", NULL, 0 },
	{ "CAM_POLICY_FILE", NULL, "authorization policy (JSON, the shape of gRPC's authorization policy); read at start and on SIGHUP; unset: ownership and the defaults decide", NULL, 0 },
	{ "CAM_POLICY_MODE", "enforce", "enforce, or shadow: decide, count and log what would be denied, deny nothing", NULL, 0 },
	{ "CAM_TLS_CLIENT_CA_FILE", NULL, "PEM CA of client certificates: ask for them and verify them (with CAM_TLS_CERT_FILE); the caller is the certificate's spiffe://<CAM_TLS_TRUST_DOMAIN>/agent/<caller> URI SAN, else its subject CN", NULL, 0 },
	{ "CAM_TLS_CLIENT_AUTH", "require", "require (no certificate: the handshake fails) or optional (a bearer token will do)", NULL, 0 },
	{ "CAM_TLS_TRUST_DOMAIN", "cam-os", "trust domain of client certificates' SPIFFE IDs", NULL, 0 },
	{ "CAM_AUDIT_LOG", NULL, "the audit trail, JSON lines (default <data dir>/audit.log)", NULL, 0 },
	{ "CAM_AUDIT_EVENTS", "deny,admin,auth", "what is audited: deny, admin, auth, write (every context change), all (every call), none", NULL, 0 },
	{ "CAM_AUDIT_SEAL_LINES", "1000", "with a TPM, a seal signed by it after this many audit lines (0: not by count)", NULL, 0 },
	{ "CAM_AUDIT_SEAL_S", "60", "with a TPM, a seal at least this often while audit lines come (0: not by time)", NULL, 0 },
	{ "CAM_AUDIT_MAX_BYTES", "104857600", "rotate the audit log past this size (<path>.<UTC time>; the chain goes on; 0: never)", NULL, 0 },
	{ "CAM_MEMCTX_MAX_BYTES_PER_CALLER", "0", "context bytes one owner's namespaces may hold, kept versions and snapshots (0: no quota)", NULL, 0 },
	{ "CAM_METRICS_MAX_SERIES_PER_CALLER", "0", "custom series one caller may make with emit_metric (0: no quota)", NULL, 0 },
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
	{ "CAM_SCHEDULER_QUEUE_LIMIT_PER_CALLER", "0", "calls one caller (its token, else its caller_id) may queue in a class before RESOURCE_EXHAUSTED: a flooding agent gets its turn, not the queue (1-16384; or high:normal:low; 0: a quarter of the class's limit)", NULL, 0 },
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
	long workers, max_msg, grace_ms, custom_max, per_family, series_per_caller;
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
	cam_log_bus *log_bus; /* NULL: OTLP logs off */
	cam_publisher *publisher;
	cam_profiler *profiler;
	char data_dir[PATH_MAX];
	int data_lock;     /* the data directory's lock (datadir.h); -1: none */
	cam_store *store;
	cam_memctx *memctx;
	cam_agents *agents;
	cam_auth *auth;
	cam_policy *policy;
	char policy_saved[PATH_MAX + 16]; /* <data dir>/policy.json */
	cam_sched *sched;
	cam_tpm *tpm;
	cam_audit *audit;
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
	cam_policy_verbs *policy_verbs;
	cam_store_verbs *store_verbs;
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
	    opt(k, "CAM_AUTH_TOKENS_FILE") || opt(k, "CAM_TLS_CLIENT_CA_FILE"))
		return 0;
	fprintf(stderr,
		"cam-kernel: refusing to serve anonymous callers on %s, which is not a loopback "
		"address: set CAM_AUTH_TOKENS_FILE or CAM_TLS_CLIENT_CA_FILE, or "
		"CAM_ALLOW_ANONYMOUS=true to allow it\n", opt(k, "CAM_GRPC_LISTEN"));
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
	    cam_sched_parse_classes(opt(k, "CAM_SCHEDULER_QUEUE_LIMIT_PER_CALLER"), true,
				    st->queue_limit_per_caller) ||
	    cam_config_long(opt(k, "CAM_SCHEDULER_STALL_MS"), CAM_SCHED_STALL_MS_MIN,
			    CAM_SCHED_STALL_MS_MAX, &stall) ||
	    cam_config_long(opt(k, "CAM_SCHEDULER_DECISIONS"), 16, 1 << 20, &k->sched_decisions)) {
		fprintf(stderr, "cam-kernel: CAM_SCHEDULER_WEIGHTS (high:normal:low), CAM_SCHEDULER_QUEUE_LIMIT, "
				"CAM_SCHEDULER_QUEUE_LIMIT_PER_CALLER, CAM_SCHEDULER_STALL_MS (100-600000) and "
				"CAM_SCHEDULER_DECISIONS (16-1048576) must be numbers in range\n");
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
	if (cam_config_long(opt(k, "CAM_METRICS_MAX_SERIES_PER_CALLER"), 0, 200000,
			    &k->series_per_caller)) {
		fprintf(stderr, "cam-kernel: CAM_METRICS_MAX_SERIES_PER_CALLER must be 0-200000\n");
		return CAM_EINVAL;
	}
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

static const char *otlp_get(void *arg, const char *name)
{
	return strncmp(name, "CAM_", 4) == 0 ? opt(arg, name) : getenv(name);
}

/* With OTLP logs on (common/otlp_switch.h), log lines go to the bus too,
 * and the audit log's records (its tap, new_audit). */
static int new_log_bus(struct kernel *k)
{
	bool base;
	int rc;

	if (!cam_otlp_endpoint(CAM_OTLP_LOGS, otlp_get, k, &base))
		return 0;
	rc = cam_log_bus_new(0, 0, &k->log_bus);
	if (rc == 0)
		cam_log_set_tap(cam_log_bus_tap, k->log_bus);
	return rc;
}

static int new_publisher(struct kernel *k)
{
	struct cam_publisher_opts po = {
		.bus = k->bus,
		.spans = k->spans,
		.logs = k->log_bus,
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

/* Where the context store is and what it keeps, in words an operator can
 * act on. */
static void log_memctx(const struct kernel *k, const struct cam_memctx_opts *o)
{
	const char *b = cam_memctx_backend(k->memctx);

	if (strcmp(b, "lmdb") == 0)
		cam_log(CAM_LOG_INFO, "memctx", "memory context store: lmdb, durable, in %s (every "
			"change is on disk before its answer), %u versions kept per key, values up "
			"to %zu bytes", cam_store_path(k->store), o->limits.keep_versions,
			o->limits.max_value_bytes);
	else if (strcmp(b, "memory") == 0)
		cam_log(CAM_LOG_WARN, "memctx", "memory context store: memory (CAM_MEMCTX_BACKEND="
			"memory): volatile, every restart forgets it; %u versions kept per key, "
			"values up to %zu bytes", o->limits.keep_versions, o->limits.max_value_bytes);
	else
		cam_log(CAM_LOG_INFO, "memctx", "memory context store: redis%s%s, %u versions kept "
			"per key, values up to %zu bytes, acknowledged after %u replicas confirm",
			o->sentinels ? " found through the sentinels " : o->cluster ? " on the cluster of " : "",
			o->sentinels ? o->sentinels : o->cluster ? o->cluster : "", o->limits.keep_versions,
			o->limits.max_value_bytes, o->min_replicas_ack);
}

/* The data directory (resolved, made 0700, locked against a second
 * kernel) and the durable store in it. Its map, the most data.mdb may grow
 * to, is sized from CAM_MEMCTX_MAX_BYTES: eight times it (room for B-tree
 * pages, kept versions and copy-on-write) plus 1 GiB; address space only. */
static int new_store(struct kernel *k)
{
	struct cam_store_opts o = { 0 };
	char why[CAM_STORE_WHY], store_dir[PATH_MAX + 8];
	long bytes;
	int rc;

	k->data_lock = -1;
	if (cam_datadir_resolve(opt(k, "CAM_DATA_DIR"), k->data_dir, sizeof(k->data_dir), why,
				sizeof(why))) {
		cam_log(CAM_LOG_ERROR, "kernel", "%s", why);
		return CAM_EINVAL;
	}
	if ((rc = cam_datadir_lock(k->data_dir, why, sizeof(why))) < 0) {
		cam_log(CAM_LOG_ERROR, "kernel", "%s", why);
		return rc;
	}
	k->data_lock = rc;
	if (why[0])
		cam_log(CAM_LOG_WARN, "kernel", "%s", why);
	if (cam_config_long(opt(k, "CAM_MEMCTX_MAX_BYTES"), 1, 1L << 50, &bytes))
		bytes = 1L << 28;
	o.map_bytes = (uint64_t)bytes * 8 + (1ULL << 30);
	if (o.map_bytes > (1ULL << 40))
		o.map_bytes = 1ULL << 40;
	snprintf(store_dir, sizeof(store_dir), "%s/store", k->data_dir);
	o.dir = store_dir;
	if ((rc = cam_store_open(&o, &k->store, why))) {
		cam_log(CAM_LOG_ERROR, "kernel", "%s", why);
		return rc;
	}
	return 0;
}

/* The memory context store: in memory, or Redis with CAM_REDIS_URL (or
 * found through CAM_REDIS_SENTINELS). */
static int new_memctx(struct kernel *k)
{
	struct cam_memctx_opts o = {
		.backend = opt(k, "CAM_MEMCTX_BACKEND"),
		.store = k->store,
		.redis_url = opt(k, "CAM_REDIS_URL"),
		.sentinels = opt(k, "CAM_REDIS_SENTINELS"),
		.master_name = opt(k, "CAM_REDIS_MASTER_NAME"),
		.cluster = opt(k, "CAM_REDIS_CLUSTER"),
	};
	long keep, value, keys, bytes, snaps, timeout, ping, backoff, acks, per_caller, io_threads,
	     in_flight;
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
	    cam_config_long(opt(k, "CAM_MEMCTX_MAX_BYTES_PER_CALLER"), 0, 1L << 50, &per_caller) ||
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
					       (unsigned)keep, (unsigned)snaps,
					       (uint64_t)per_caller };
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
	log_memctx(k, &o);
	return 0;
}

/* Bearer tokens (CAM_AUTH_TOKENS_FILE) and per-caller rate limits. */
/* The audit trail (kernel/security/audit.h), sealed by the TPM when
 * there is one. */
static int new_audit(struct kernel *k)
{
	struct cam_audit_opts o = { .tpm = k->tpm, .ecs = strcmp(opt(k, "CAM_LOG_FORMAT"), "ecs") == 0,
				    /* With OTLP logs on, audit records go out too. */
				    .tap = k->log_bus ? cam_log_bus_audit_tap : NULL,
				    .tap_arg = k->log_bus };
	char path[PATH_MAX + 16], why[300];
	long lines, secs, bytes;
	int rc;

	if (cam_audit_parse_events(opt(k, "CAM_AUDIT_EVENTS"), &o.events) ||
	    cam_config_long(opt(k, "CAM_AUDIT_SEAL_LINES"), 0, 100000000, &lines) ||
	    cam_config_long(opt(k, "CAM_AUDIT_SEAL_S"), 0, 86400, &secs) ||
	    cam_config_long(opt(k, "CAM_AUDIT_MAX_BYTES"), 0, 1L << 50, &bytes)) {
		cam_log(CAM_LOG_ERROR, "kernel", "CAM_AUDIT_EVENTS (deny,admin,auth,write,all,none), "
			"CAM_AUDIT_SEAL_LINES, CAM_AUDIT_SEAL_S or CAM_AUDIT_MAX_BYTES is not valid "
			"(see --help)");
		return CAM_EINVAL;
	}
	if (!o.events)
		return 0;
	o.seal_lines = (unsigned)lines;
	o.seal_s = (unsigned)secs;
	o.max_bytes = (uint64_t)bytes;
	if (opt(k, "CAM_AUDIT_LOG"))
		snprintf(path, sizeof(path), "%s", opt(k, "CAM_AUDIT_LOG"));
	else
		snprintf(path, sizeof(path), "%s/audit.log", k->data_dir);
	o.path = path;
	if ((rc = cam_audit_new(&o, &k->audit, why, sizeof(why)))) {
		cam_log(CAM_LOG_ERROR, "audit", "%s", why);
		return rc;
	}
	cam_log(CAM_LOG_INFO, "audit", "audit trail %s (CAM_AUDIT_EVENTS=%s), %s", path,
		opt(k, "CAM_AUDIT_EVENTS"),
		k->tpm ? "sealed by the TPM" : "chained, not sealed (no TPM)");
	return 0;
}

/* A kernel-wide event in the audit trail (start, stop, a policy reload):
 * 0, or CAM_EUNAVAIL when it could not be written. */
static int audit_event(struct kernel *k, unsigned kind, const char *event, const char *message)
{
	char why[256];

	if (!cam_audit_wants(k->audit, kind))
		return 0;
	return cam_audit_write(k->audit, &(struct cam_audit_record){
		.event = event, .principal = "cam-kernel", .authorized = -1, .version = -1,
		.size = -1, .message = message }, true, why, sizeof(why));
}

static enum cam_component_status audit_probe(void *arg, char *msg, size_t len)
{
	return cam_audit_health(arg, msg, len);
}

/* Registered agents, kept in the store. */
static int new_agents(struct kernel *k)
{
	char why[CAM_STORE_WHY];
	int rc = cam_agents_new(k->store, &k->agents, why);

	if (rc)
		cam_log(CAM_LOG_ERROR, "security", "cannot load the registered agents: %s", why);
	return rc;
}

/* The policy set, empty until start() reads what is in force. */
static int new_policy(struct kernel *k)
{
	const char *mode = opt(k, "CAM_POLICY_MODE");
	struct cam_policy_opts o = { 0 };

	if (strcmp(mode, "enforce") == 0)
		o.mode = CAM_POLICY_ENFORCE;
	else if (strcmp(mode, "shadow") == 0)
		o.mode = CAM_POLICY_SHADOW;
	else {
		cam_log(CAM_LOG_ERROR, "kernel", "CAM_POLICY_MODE must be enforce or shadow");
		return CAM_EINVAL;
	}
	snprintf(k->policy_saved, sizeof(k->policy_saved), "%s/policy.json", k->data_dir);
	return cam_policy_new(&o, &k->policy);
}

/* The policy in force at start: the one policy_update saved, else
 * CAM_POLICY_FILE's; a bad one stops the start. */
static int load_policy(struct kernel *k)
{
	char msg[400];
	int rc = cam_policy_verbs_reload(k->policy_verbs, true, msg, sizeof(msg));

	if (rc)
		cam_log(CAM_LOG_ERROR, "security", "policy not loaded: %s", msg);
	else
		cam_log(CAM_LOG_INFO, "security", "%s (CAM_POLICY_MODE=%s)", msg,
			opt(k, "CAM_POLICY_MODE"));
	if (!rc && !cam_auth_required(k->auth))
		cam_log(CAM_LOG_WARN, "security", "anonymous mode (no CAM_AUTH_TOKENS_FILE, no "
			"CAM_TLS_CLIENT_CA_FILE): callers name themselves, and no agent is kept from "
			"another's namespaces; only registered tokens identify their agents");
	return rc;
}

static int new_auth(struct kernel *k)
{
	struct cam_auth_opts o = { .tokens_file = opt(k, "CAM_AUTH_TOKENS_FILE"),
				   .agents = k->agents,
				   .client_certs = opt(k, "CAM_TLS_CLIENT_CA_FILE") != NULL };
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
		.tls_client_ca_file = opt(k, "CAM_TLS_CLIENT_CA_FILE"),
		.tls_client_require = strcmp(opt(k, "CAM_TLS_CLIENT_AUTH"), "optional") != 0,
		.tls_trust_domain = opt(k, "CAM_TLS_TRUST_DOMAIN"),
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
	const char *ca_mode = opt(k, "CAM_TLS_CLIENT_AUTH");
	int rc;

	if (strcmp(ca_mode, "require") && strcmp(ca_mode, "optional")) {
		cam_log(CAM_LOG_ERROR, "kernel", "CAM_TLS_CLIENT_AUTH must be require or optional");
		return CAM_EINVAL;
	}
	if (go.tls_client_ca_file && !go.tls_cert_file) {
		cam_log(CAM_LOG_ERROR, "kernel", "CAM_TLS_CLIENT_CA_FILE needs TLS: set "
			"CAM_TLS_CERT_FILE and CAM_TLS_KEY_FILE");
		return CAM_EINVAL;
	}
	rc = cam_grpc_server_new(&go, &k->server);
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
	if (k->audit && (rc = cam_components_set(k->components, "Audit Log", audit_probe, k->audit)))
		return rc;
	if ((rc = cam_system_verbs_new(&(struct cam_system_verbs_opts){
			.verbs = k->verbs, .server = k->server, .sched = k->sched,
			.publisher = k->publisher, .instance_id = k->instance_id,
			.start_time = k->start_time }, &k->system_verbs)) ||
	    (rc = cam_emit_metric_new(&(struct cam_emit_metric_opts){
			.verbs = k->verbs, .families_max = (size_t)k->custom_max,
			.series_max = (size_t)k->per_family,
			.series_per_caller = (size_t)k->series_per_caller }, &k->emit_metric)) ||
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
			&k->driver_verbs)) ||
	    (rc = cam_policy_verbs_new(&(struct cam_policy_verbs_opts){
			.verbs = k->verbs, .auth = k->auth, .policy = k->policy, .agents = k->agents,
			.saved_path = k->policy_saved, .policy_file = opt(k, "CAM_POLICY_FILE") },
			&k->policy_verbs)) ||
	    (rc = cam_store_verbs_new(&(struct cam_store_verbs_opts){
			.verbs = k->verbs, .store = k->store, .data_dir = k->data_dir },
			&k->store_verbs)))
		cam_log(CAM_LOG_ERROR, "kernel", "cannot add the verbs: %s", cam_strerror(rc));
	return rc;
}

static int new_dispatch(struct kernel *k)
{
	struct cam_dispatch_opts o = {
		.verbs = k->verbs,
		.auth = k->auth,
		.policy = k->policy,
		.audit = k->audit,
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
	    (rc = new_log_bus(k)) ||
	    (rc = new_publisher(k)) ||
	    (rc = new_profiler(k)) ||
	    (rc = new_store(k)) ||
	    (rc = new_memctx(k)) ||
	    (rc = new_agents(k)) ||
	    (rc = new_auth(k)) ||
	    (rc = new_policy(k)) ||
	    (rc = new_scheduler(k)) ||
	    (rc = new_tpm(k)) ||
	    (rc = new_audit(k)) ||
	    (rc = new_drivers(k)) ||
	    (rc = new_server(k)) ||
	    (rc = new_verbs(k)) ||
	    (rc = load_policy(k)) ||
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
	cam_store_verbs_free(k->store_verbs);
	cam_policy_verbs_free(k->policy_verbs);
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
	cam_audit_free(k->audit); /* its last seal needs the TPM */
	cam_tpm_free(k->tpm);
	cam_sched_free(k->sched); /* after the server, whose shutdown drained it */
	cam_policy_free(k->policy);
	cam_auth_free(k->auth);
	cam_agents_free(k->agents);
	cam_memctx_free(k->memctx);
	cam_store_close(k->store);
	if (k->data_lock >= 0)
		close(k->data_lock);
	cam_profiler_free(k->profiler);
	cam_publisher_free(k->publisher); /* publishes the final snapshot */
	cam_log_set_tap(NULL, NULL);
	cam_log_bus_free(k->log_bus);
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
	cam_log_str(&l, "data_dir", k->data_dir);
	cam_log_str(&l, "context_store", cam_memctx_backend(k->memctx));
	cam_log_int(&l, "publish_interval_ms", k->interval_ms);
	cam_log_end(&l);
}

/* Takes "--backup DIR" out of argv: DIR, or NULL when not asked. */
static const char *take_backup_flag(int *argc, char **argv)
{
	for (int i = 1; i < *argc; i++) {
		const char *dir = NULL;
		int used = 0;

		if (strcmp(argv[i], "--backup") == 0 && i + 1 < *argc)
			dir = argv[i + 1], used = 2;
		else if (strncmp(argv[i], "--backup=", 9) == 0)
			dir = argv[i] + 9, used = 1;
		if (!used)
			continue;
		memmove(&argv[i], &argv[i + used], (size_t)(*argc - i - used + 1) * sizeof(*argv));
		*argc -= used;
		return dir;
	}
	return NULL;
}

/*
 * cam-kernel --backup DIR: a consistent copy of the store in the data
 * directory into DIR/store, taken beside a running kernel (which goes on
 * writing) or a stopped one. DIR is then a data directory of its own.
 */
static int backup(const struct kernel *k, const char *dest)
{
	char data[PATH_MAX], src[PATH_MAX + 8], to[PATH_MAX + 8], why[CAM_STORE_WHY];
	uint64_t bytes = 0;
	int rc;

	if (!*dest) {
		fprintf(stderr, "cam-kernel: --backup needs a directory\n");
		return 2;
	}
	if (cam_datadir_resolve(opt(k, "CAM_DATA_DIR"), data, sizeof(data), why, sizeof(why))) {
		fprintf(stderr, "cam-kernel: %s\n", why);
		return 2;
	}
	snprintf(src, sizeof(src), "%s/store", data);
	snprintf(to, sizeof(to), "%s/store", dest);
	if ((rc = cam_store_backup(src, to, &bytes, why))) {
		fprintf(stderr, "cam-kernel: backup of %s not made: %s\n", src, why);
		return 1;
	}
	printf("backup of %s written to %s/data.mdb (%llu bytes); to restore it, stop the kernel "
	       "and put %s in place of %s (or start with --data-dir %s)\n", src, to,
	       (unsigned long long)bytes, to, src, dest);
	return 0;
}

int main(int argc, char **argv)
{
	struct kernel k = { 0 };
	cam_notify *notify = NULL;
	const char *backup_dir = take_backup_flag(&argc, argv);
	sigset_t sigs;
	int sig = 0, rc;

	memcpy(k.opts, options, sizeof(options));
	rc = cam_config_parse(k.opts, NOPTS, argc, argv,
			      "usage: cam-kernel [--flag value ...]\n"
			      "       cam-kernel --backup DIR [--data-dir DIR]   a consistent copy "
			      "of the store, beside a running kernel\n"
			      "CAM-OS syscall kernel " CAM_VERSION,
			      stderr);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (backup_dir)
		return backup(&k, backup_dir);
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
	if (audit_event(&k, CAM_AUDIT_AUTH, "start", "cam-kernel started"))
		cam_log(CAM_LOG_ERROR, "audit", "the start of the kernel could not be audited");
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
			if (opt(&k, "CAM_POLICY_FILE")) {
				int prc = cam_policy_verbs_reload(k.policy_verbs, false, why, sizeof(why));

				if (prc)
					cam_log(CAM_LOG_ERROR, "security", "SIGHUP: policy not reloaded, "
						"the one in force stays: %s", why);
				else
					cam_log(CAM_LOG_INFO, "security", "SIGHUP: %s", why);
				audit_event(&k, CAM_AUDIT_ADMIN, "reload",
					    prc ? "SIGHUP: policy not reloaded" : why);
			}
			continue;
		}
		break;
	}
	cam_log(CAM_LOG_INFO, "kernel", "%s received, shutting down", strsignal(sig));
	audit_event(&k, CAM_AUDIT_AUTH, "stop", strsignal(sig));
	cam_notify_stopping(notify);
	stop(&k);
	cam_log(CAM_LOG_INFO, "kernel", "cam-kernel stopped");
	cam_log_stop();
	return 0;
}
