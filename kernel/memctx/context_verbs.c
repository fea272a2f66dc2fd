/*
 * The memory context subsystem in cam-kernel: the context_* verbs over the
 * store (memctx.h), their metrics and the "Redis Backend" health probe.
 *
 *   context_write     namespace, key, value (or the request's binary data),
 *                     [expected_version: 0 = must not exist, N = latest must be N]
 *                     -> namespace, key, version, size
 *   context_read      namespace, key, [version] -> namespace, key, version,
 *                     timestamp_ms, size, value (text values only; the bytes
 *                     are always in SyscallResponse.data)
 *   context_versions  namespace, key -> count, latest, versions
 *                     ("version:unix_ms:size;..." oldest first)
 *   context_delete    namespace, [key] | snapshot_id -> removed_versions
 *   context_snapshot  namespace -> snapshot_id, keys
 *   context_restore   snapshot_id -> namespace, keys
 *
 * Every call counts in cam_os_memory_context_operations_total{op,status}
 * (status "ok" or the gRPC code name) and is timed in
 * cam_os_memory_context_operation_duration_seconds{op}. Values never reach
 * a log line or an error message.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "kernel/grpc/server.h"
#include "kernel/memctx/memctx.h"
#include "common/grpc_status.h"
#include "kernel/syscall/syscall.h"

enum op { OP_WRITE, OP_READ, OP_VERSIONS, OP_DELETE, OP_SNAPSHOT, OP_RESTORE, NOPS };
static const char *const op_names[NOPS] = { "write", "read", "versions", "delete",
					    "snapshot", "restore" };

static const char *const L_OP[] = { "op", NULL };
static const double DURATION_BUCKETS[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
					   0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
					   1,      2.5 };

static struct {
	pthread_rwlock_t lock;   /* store: probe and collector vs. stop */
	cam_memctx *store;
	struct cam_kernel_metrics *km;
	cam_family *duration_f, *reconnects_f;
	cam_series *ok[NOPS], *duration[NOPS], *versions, *size, *reconnects;
	int collector_added;
} svc = { .lock = PTHREAD_RWLOCK_INITIALIZER };

/* The gRPC status a memctx code is answered with: the common table, but a
 * Redis timeout means the backend is unavailable, not the caller's deadline. */
static int grpc_status(int rc)
{
	if (rc == CAM_ETIMEDOUT)
		return CAM_GRPC_UNAVAILABLE;
	return cam_err_grpc_status(rc);
}

/* Counts and times one operation; returns its gRPC status. */
static int account(struct cam_syscall *sc, enum op op, int rc, const char *why, double t0)
{
	int status = grpc_status(rc);

	cam_histogram_observe(svc.duration[op], cam_mono_s() - t0);
	if (status == CAM_GRPC_OK) {
		cam_counter_inc(svc.ok[op]);
		return 0;
	}
	if (svc.km)
		cam_counter_inc(cam_series_get(svc.km->memctx_operations,
					       (const char *[]){ op_names[op],
								 cam_grpc_status_name(status) }));
	return cam_syscall_fail(sc, status, "%s", why);
}

static int need(struct cam_syscall *sc, const char *key, const char **out)
{
	*out = cam_payload_get(sc->payload, key);
	if (!*out || !**out)
		return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT, "payload key '%s' is missing",
					key);
	return 0;
}

static int parse_u64(struct cam_syscall *sc, const char *key, const char *s, uint64_t min,
		     uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		goto out_bad;
	v = strtoull(s, &end, 10);
	if (*end || v < min || v > (1ULL << 53))
		goto out_bad;
	*out = v;
	return 0;
out_bad:
	return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT, "%s must be a whole number >= %llu",
				key, (unsigned long long)min);
}

static cam_memctx *store(struct cam_syscall *sc)
{
	if (!svc.store)
		cam_syscall_fail(sc, CAM_GRPC_UNAVAILABLE, "memory context store is not running");
	return svc.store;
}

int cam_verb_context_write(struct cam_syscall *sc)
{
	const char *ns, *key, *text = cam_payload_get(sc->payload, "value");
	const char *exp_s = cam_payload_get(sc->payload, "expected_version");
	const void *val = text;
	size_t len = text ? strlen(text) : 0;
	struct cam_memctx_version v;
	uint64_t exp = 0, cur = 0;
	int64_t expected = CAM_MEMCTX_ANY;
	char why[CAM_MEMCTX_WHY];
	double t0 = cam_mono_s();
	cam_memctx *m;
	int status, rc;

	if ((status = need(sc, "namespace", &ns)) || (status = need(sc, "key", &key)))
		return status;
	if (text && sc->data_len)
		return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT,
					"give the value either as payload key 'value' or as data, not both");
	if (!text && !sc->data_len)
		return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT,
					"payload key 'value' (or binary data) is missing");
	if (!text) {
		val = sc->data;
		len = sc->data_len;
	}
	if (exp_s) {
		if ((status = parse_u64(sc, "expected_version", exp_s, 0, &exp)))
			return status;
		expected = (int64_t)exp;
	}
	if (!(m = store(sc)))
		return CAM_GRPC_UNAVAILABLE;
	rc = cam_memctx_write(m, ns, key, val, len, expected, &v, &cur, why);
	if (rc == 0) {
		cam_counter_inc(svc.versions);
		cam_result_add(&sc->result, "namespace", ns);
		cam_result_add(&sc->result, "key", key);
		cam_result_addf(&sc->result, "version", "%llu", (unsigned long long)v.version);
		cam_result_addf(&sc->result, "size", "%zu", v.size);
	}
	return account(sc, OP_WRITE, rc, why, t0);
}

/* Whether a value can go into the result as text and parse back whole. */
static int printable(const uint8_t *p, size_t len)
{
	size_t n;

	if (len > 4096 || !cam_utf8_valid((const char *)p, &n) || n != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] == 0x7f || p[i] == ',')
			return 0;
	return 1;
}

int cam_verb_context_read(struct cam_syscall *sc)
{
	const char *ns, *key, *ver_s = cam_payload_get(sc->payload, "version");
	struct cam_memctx_value val = { 0 };
	uint64_t ver = 0;
	char why[CAM_MEMCTX_WHY];
	double t0 = cam_mono_s();
	cam_memctx *m;
	int status, rc;

	if ((status = need(sc, "namespace", &ns)) || (status = need(sc, "key", &key)))
		return status;
	if (ver_s && (status = parse_u64(sc, "version", ver_s, 1, &ver)))
		return status;
	if (!(m = store(sc)))
		return CAM_GRPC_UNAVAILABLE;
	rc = cam_memctx_read(m, ns, key, ver, &val, why);
	if (rc == 0) {
		cam_result_add(&sc->result, "namespace", ns);
		cam_result_add(&sc->result, "key", key);
		cam_result_addf(&sc->result, "version", "%llu", (unsigned long long)val.v.version);
		cam_result_addf(&sc->result, "timestamp_ms", "%lld", (long long)val.v.time_ms);
		cam_result_addf(&sc->result, "size", "%zu", val.v.size);
		if (printable(val.data, val.v.size))
			cam_result_add(&sc->result, "value", (const char *)val.data);
		else
			cam_result_add(&sc->result, "value_in", "data");
		/* The response owns the bytes now (dispatch.c frees them). */
		sc->out_data = val.data;
		sc->out_len = val.v.size;
	}
	return account(sc, OP_READ, rc, why, t0);
}

int cam_verb_context_versions(struct cam_syscall *sc)
{
	struct cam_memctx_version *v;
	const char *ns, *key;
	char why[CAM_MEMCTX_WHY];
	double t0 = cam_mono_s();
	size_t n = 0;
	cam_memctx *m;
	int status, rc;

	if ((status = need(sc, "namespace", &ns)) || (status = need(sc, "key", &key)))
		return status;
	if (!(m = store(sc)))
		return CAM_GRPC_UNAVAILABLE;
	v = malloc(CAM_MEMCTX_MAX_KEEP * sizeof(*v));
	if (!v)
		return cam_syscall_fail(sc, CAM_GRPC_RESOURCE_EXHAUSTED, "out of memory");
	rc = cam_memctx_versions(m, ns, key, v, CAM_MEMCTX_MAX_KEEP, &n, why);
	if (rc == 0) {
		/* "version:unix_ms:size" is at most 62 bytes with its ';'. */
		char *list = cam_xmalloc(n * 64 + 1);
		size_t off = 0;

		list[0] = '\0';
		for (size_t i = 0; i < n; i++)
			off += (size_t)snprintf(list + off, 64, "%s%llu:%lld:%zu", i ? ";" : "",
						(unsigned long long)v[i].version,
						(long long)v[i].time_ms, v[i].size);
		cam_result_add(&sc->result, "namespace", ns);
		cam_result_add(&sc->result, "key", key);
		cam_result_addf(&sc->result, "count", "%zu", n);
		cam_result_addf(&sc->result, "latest", "%llu",
				n ? (unsigned long long)v[n - 1].version : 0ULL);
		cam_result_add(&sc->result, "versions", list);
		free(list);
	}
	free(v);
	return account(sc, OP_VERSIONS, rc, why, t0);
}

int cam_verb_context_delete(struct cam_syscall *sc)
{
	const char *ns = cam_payload_get(sc->payload, "namespace");
	const char *key = cam_payload_get(sc->payload, "key");
	const char *id = cam_payload_get(sc->payload, "snapshot_id");
	char why[CAM_MEMCTX_WHY];
	double t0 = cam_mono_s();
	size_t removed = 0;
	cam_memctx *m;
	int rc;

	if (id && (ns || key))
		return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT,
					"give either snapshot_id or namespace[,key]");
	if (!id && (!ns || !*ns))
		return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT,
					"payload key 'namespace' (or 'snapshot_id') is missing");
	if (!(m = store(sc)))
		return CAM_GRPC_UNAVAILABLE;
	if (id) {
		rc = cam_memctx_snapshot_delete(m, id, why);
		if (rc == 0)
			cam_result_add(&sc->result, "snapshot_id", id);
	} else {
		rc = cam_memctx_delete(m, ns, key, &removed, why);
		if (rc == 0) {
			cam_result_add(&sc->result, "namespace", ns);
			if (key)
				cam_result_add(&sc->result, "key", key);
			cam_result_addf(&sc->result, "removed_versions", "%zu", removed);
		}
	}
	return account(sc, OP_DELETE, rc, why, t0);
}

int cam_verb_context_snapshot(struct cam_syscall *sc)
{
	const char *ns;
	char why[CAM_MEMCTX_WHY], id[CAM_MEMCTX_ID_LEN + 1];
	double t0 = cam_mono_s();
	size_t keys = 0;
	cam_memctx *m;
	int status, rc;

	if ((status = need(sc, "namespace", &ns)))
		return status;
	if (!(m = store(sc)))
		return CAM_GRPC_UNAVAILABLE;
	rc = cam_memctx_snapshot(m, ns, id, &keys, why);
	if (rc == 0) {
		cam_result_add(&sc->result, "snapshot_id", id);
		cam_result_add(&sc->result, "namespace", ns);
		cam_result_addf(&sc->result, "keys", "%zu", keys);
	}
	return account(sc, OP_SNAPSHOT, rc, why, t0);
}

int cam_verb_context_restore(struct cam_syscall *sc)
{
	const char *id;
	char why[CAM_MEMCTX_WHY], ns[CAM_MEMCTX_MAX_NAME + 1];
	double t0 = cam_mono_s();
	size_t keys = 0;
	cam_memctx *m;
	int status, rc;

	if ((status = need(sc, "snapshot_id", &id)))
		return status;
	if (!(m = store(sc)))
		return CAM_GRPC_UNAVAILABLE;
	rc = cam_memctx_restore(m, id, ns, &keys, why);
	if (rc == 0) {
		cam_result_add(&sc->result, "snapshot_id", id);
		cam_result_add(&sc->result, "namespace", ns);
		cam_result_addf(&sc->result, "keys", "%zu", keys);
	}
	return account(sc, OP_RESTORE, rc, why, t0);
}

static enum cam_component_status probe(void *arg, char *msg, size_t len)
{
	enum cam_component_status st = CAM_COMPONENT_DISABLED;

	(void)arg;
	pthread_rwlock_rdlock(&svc.lock);
	if (svc.store)
		st = cam_memctx_health(svc.store, msg, len);
	else
		snprintf(msg, len, "memory context store is not running");
	pthread_rwlock_unlock(&svc.lock);
	return st;
}

/* Before each snapshot: the size gauge and the reconnect counter. */
static void collect(void *arg)
{
	(void)arg;
	pthread_rwlock_rdlock(&svc.lock);
	if (svc.store) {
		cam_gauge_set(svc.size, (double)cam_memctx_size_bytes(svc.store));
		cam_gauge_set(svc.reconnects, (double)cam_memctx_reconnects(svc.store));
	}
	pthread_rwlock_unlock(&svc.lock);
}

static int register_metrics(struct cam_kernel_metrics *km, const char *backend)
{
	const char *why = NULL;
	int rc;

	rc = cam_family_register(&(struct cam_family_desc){
					 "cam_os_memory_context_operation_duration_seconds",
					 "Histogram of memory context operation times by op",
					 CAM_HISTOGRAM, "seconds", L_OP, DURATION_BUCKETS,
					 sizeof(DURATION_BUCKETS) / sizeof(DURATION_BUCKETS[0]), 8 },
				 &svc.duration_f, &why);
	if (!rc)
		rc = cam_family_register(&(struct cam_family_desc){
						 "cam_os_memory_context_reconnects_total",
						 "Connections to Redis re-made after a failure",
						 CAM_COUNTER, NULL, NULL, NULL, 0, 1 },
					 &svc.reconnects_f, &why);
	if (rc) {
		cam_log(CAM_LOG_ERROR, "memctx", "cannot register metrics: %s",
			why ? why : cam_strerror(rc));
		return rc;
	}
	svc.km = km;
	for (size_t i = 0; i < NOPS; i++) {
		svc.ok[i] = cam_series_get(km->memctx_operations,
					   (const char *[]){ op_names[i], "ok" });
		svc.duration[i] = cam_series_get(svc.duration_f, (const char *[]){ op_names[i] });
	}
	svc.versions = cam_series_get(km->memctx_versions, NULL);
	svc.size = cam_series_get(km->memctx_size, (const char *[]){ backend });
	svc.reconnects = cam_series_get(svc.reconnects_f, NULL);
	return 0;
}

int cam_memctx_service_start(const struct cam_memctx_opts *o, struct cam_kernel_metrics *km)
{
	char why[CAM_MEMCTX_WHY] = "";
	cam_memctx *m;
	int rc;

	rc = cam_memctx_new(o, &m, why);
	if (rc) {
		cam_log(CAM_LOG_ERROR, "memctx", "memory context store not started: %s", why);
		return rc;
	}
	if ((rc = register_metrics(km, cam_memctx_backend(m)))) {
		cam_memctx_free(m);
		return rc;
	}
	pthread_rwlock_wrlock(&svc.lock);
	svc.store = m;
	pthread_rwlock_unlock(&svc.lock);
	if (!svc.collector_added) {
		cam_metrics_add_collector(collect, NULL);
		svc.collector_added = 1;
	}
	cam_component_set_probe("Redis Backend", probe, NULL);
	cam_log(CAM_LOG_INFO, "memctx",
		"memory context store: %s backend, %u versions kept per key, values up to %zu bytes",
		cam_memctx_backend(m), o->limits.keep_versions, o->limits.max_value_bytes);
	return 0;
}

void cam_memctx_service_stop(void)
{
	cam_memctx *m;

	pthread_rwlock_wrlock(&svc.lock);
	m = svc.store;
	svc.store = NULL;
	pthread_rwlock_unlock(&svc.lock);
	cam_memctx_free(m);
}
