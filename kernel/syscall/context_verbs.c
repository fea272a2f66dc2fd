/*
 * The memory context subsystem's verbs: the context_* verbs over the store
 * (kernel/memctx/memctx.h), their metrics and the "Redis Backend" health
 * probe, and the "Context Store" component (any backend).
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
 * a log line or an error message. With Redis the store completes calls on
 * I/O threads of its own (the verbs defer, never block), never past the
 * call's deadline (sc->deadline_ns: DEADLINE_EXCEEDED); a Redis timeout
 * shorter than the deadline is UNAVAILABLE.
 * cam_os_memory_context_redis_master_changes_total counts the failovers
 * this kernel followed, cam_os_memory_context_unconfirmed_writes_total the
 * changes WAIT did not confirm in time; with Redis Cluster,
 * cam_os_memory_context_redis_cluster_{state,slots,masters} say what the
 * store last saw of the cluster.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/context_verbs.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/metrics_table.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "kernel/syscall/quota.h"
#include "kernel/syscall/resource.h"
#include "kernel/security/auth.h"

enum op { OP_WRITE, OP_READ, OP_VERSIONS, OP_DELETE, OP_SNAPSHOT, OP_RESTORE, NOPS };
static const char *const op_names[NOPS] = { "write", "read", "versions", "delete",
					    "snapshot", "restore" };

static const char *const L_OP[] = { "op", NULL };
static const double DURATION_BUCKETS[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
					   0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
					   1,      2.5 };

enum { M_OPERATIONS, M_SIZE, M_VERSIONS, M_DURATION, M_RECONNECTS, M_MASTER_CHANGES,
       M_UNCONFIRMED, M_COMMITS, M_SYNCS, M_COMMITTED, M_COMMIT_SECONDS, M_FAILURES, M_FREE,
       M_CLUSTER_STATE, M_CLUSTER_SLOTS, M_CLUSTER_MASTERS, NMETRICS };
static const char *const L_REASON[] = { "reason", NULL };
static const char *const L_STATE[] = { "state", NULL };
static const char *const L_OP_STATUS[] = { "op", "status", NULL };
static const char *const L_BACKEND[] = { "backend", NULL };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_OPERATIONS] = { .name = "cam_os_memory_context_operations_total",
			   .help = "Counter of memory operations", .type = CAM_COUNTER,
			   .label_names = L_OP_STATUS, .max_series = 256 },
	[M_SIZE] = { .name = "cam_os_memory_context_size_bytes",
		     .help = "Gauge of memory context size", .type = CAM_GAUGE, .unit = "bytes",
		     .label_names = L_BACKEND, .max_series = 8 },
	[M_VERSIONS] = { .name = "cam_os_memory_context_versions_total",
			 .help = "Counter of context versions", .type = CAM_COUNTER,
			 .max_series = 1 },
	[M_DURATION] = { .name = "cam_os_memory_context_operation_duration_seconds",
			 .help = "Histogram of memory context operation times by op",
			 .type = CAM_HISTOGRAM, .unit = "seconds", .label_names = L_OP,
			 .buckets = DURATION_BUCKETS,
			 .nbuckets = sizeof(DURATION_BUCKETS) / sizeof(DURATION_BUCKETS[0]),
			 .max_series = 8, .native = &cam_native_defaults },
	[M_RECONNECTS] = { .name = "cam_os_memory_context_reconnects_total",
			   .help = "Connections to Redis re-made after a failure",
			   .type = CAM_COUNTER, .max_series = 1 },
	[M_MASTER_CHANGES] = { .name = "cam_os_memory_context_redis_master_changes_total",
			       .help = "Times the Redis master changed under this kernel (Sentinel failovers)",
			       .type = CAM_COUNTER, .max_series = 1 },
	[M_UNCONFIRMED] = { .name = "cam_os_memory_context_unconfirmed_writes_total",
			    .help = "Changes that reached the Redis master but were not confirmed by CAM_REDIS_MIN_REPLICAS_ACK replicas in time",
			    .type = CAM_COUNTER, .max_series = 1 },
	[M_COMMITS] = { .name = "cam_os_memory_context_commits_total",
			.help = "Transactions the durable store committed (each a group of changes)",
			.type = CAM_COUNTER, .max_series = 1 },
	[M_SYNCS] = { .name = "cam_os_memory_context_syncs_total",
		      .help = "fdatasyncs of the durable store's file (a commit's own and the one that makes commits durable)",
		      .type = CAM_COUNTER, .max_series = 1 },
	[M_COMMITTED] = { .name = "cam_os_memory_context_committed_changes_total",
			  .help = "Changes the durable store made durable (divided by commits: changes per commit)",
			  .type = CAM_COUNTER, .max_series = 1 },
	[M_COMMIT_SECONDS] = { .name = "cam_os_memory_context_last_commit_seconds",
			       .help = "How long the durable store's last group took from the writer taking it to its being durable",
			       .type = CAM_GAUGE, .unit = "seconds", .max_series = 1 },
	[M_FAILURES] = { .name = "cam_os_memory_context_store_failures_total",
			 .help = "Commits of the durable store that failed, by reason (no_space, io_error); their changes were refused",
			 .type = CAM_COUNTER, .label_names = L_REASON, .max_series = 2 },
	[M_FREE] = { .name = "cam_os_memory_context_store_free_bytes",
		     .help = "Free space of the file system that holds the durable store",
		     .type = CAM_GAUGE, .unit = "bytes", .max_series = 1 },
	/* With CAM_REDIS_CLUSTER only: as the store's health thread last saw it. */
	[M_CLUSTER_STATE] = { .name = "cam_os_memory_context_redis_cluster_state",
			      .help = "Redis Cluster state as CLUSTER INFO says it: 1 ok, 0 fail",
			      .type = CAM_GAUGE, .max_series = 1 },
	[M_CLUSTER_SLOTS] = { .name = "cam_os_memory_context_redis_cluster_slots",
			      .help = "Redis Cluster hash slots by state: ok, pfail, fail (CLUSTER INFO), uncovered (served by no master in CLUSTER SLOTS)",
			      .type = CAM_GAUGE, .label_names = L_STATE, .max_series = 4 },
	[M_CLUSTER_MASTERS] = { .name = "cam_os_memory_context_redis_cluster_masters",
				.help = "Redis Cluster masters serving slots",
				.type = CAM_GAUGE, .max_series = 1 },
};

struct cam_context_verbs {
	struct cam_context_verbs_opts o;
	cam_family *operations;
	cam_series *ok[NOPS], *duration[NOPS], *versions, *size, *reconnects;
	cam_series *master_changes, *unconfirmed;
	cam_series *quota_refusals;
	cam_series *commits, *syncs, *committed, *commit_seconds, *nospace, *io_errors;
	cam_series *free_bytes;
	cam_family *cluster[3];   /* state, slots, masters: series made on a cluster */
};

/* Counts and times one operation; returns its code. */
static int account(cam_context_verbs *cv, struct cam_syscall *sc, enum op op, int rc,
		   const char *why, double t0)
{
	cam_histogram_observe(cv->duration[op], cam_mono_s() - t0);
	if (rc == 0) {
		cam_counter_inc(cv->ok[op]);
		return 0;
	}
	cam_counter_inc(cam_series_get(
		cv->operations,
		(const char *[]){ op_names[op], cam_grpc_status_name(cam_err_grpc_status(rc)) }));
	/* The store says which limit it met only in words (memctx.h). */
	if (rc == CAM_ELIMIT && strstr(why, "CAM_MEMCTX_MAX_BYTES_PER_CALLER")) {
		cam_counter_inc(cv->quota_refusals);
		sc->refusal = "quota";
	}
	return cam_syscall_fail(sc, rc, "%s", why);
}

static int need(struct cam_syscall *sc, const char *key, const char **out)
{
	*out = cam_payload_get(sc->payload, key);
	if (!*out || !**out)
		return cam_syscall_fail(sc, CAM_EINVAL, "payload key '%s' is missing",
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
	return cam_syscall_fail(sc, CAM_EINVAL, "%s must be a whole number >= %llu",
				key, (unsigned long long)min);
}

/* ---- one store call: submitted, then concluded ------------------------ */

enum { ST_SUBMITTING, ST_RETURNED, ST_DONE };

/*
 * A verb's store call in flight. On a store that completes changes on a
 * thread of its own (cam_memctx_async) it lives on the heap and the verb
 * defers; otherwise on the handler's stack. Whoever sees the other side
 * already there concludes it: the handler if done ran before submit
 * returned, else done.
 */
struct pending {
	struct cam_memctx_op op;
	cam_context_verbs *cv;
	struct cam_syscall *sc;
	enum op kind;
	double t0;
	bool heap;
	_Atomic int state;
};

/* What a change changed, kept in the call for the audit trail (the
 * pending op is gone by the time the call is answered). */
static void change_copy(struct cam_syscall *sc, const char *ns, const char *key)
{
	size_t n = strlen(ns) + 1;

	sc->change_version = -1;
	sc->change_size = -1;
	if (n + (key ? strlen(key) + 1 : 0) > sizeof(sc->change_text))
		return;
	memcpy(sc->change_text, ns, n);
	sc->change_ns = sc->change_text;
	sc->change_key = NULL;
	if (key) {
		memcpy(sc->change_text + n, key, strlen(key) + 1);
		sc->change_key = sc->change_text + n;
	}
}

static int conclude_write(struct pending *p)
{
	struct cam_syscall *sc = p->sc;

	cam_counter_inc(p->cv->versions);
	change_copy(sc, p->op.ns, p->op.key);
	sc->change_version = (int64_t)p->op.value.v.version;
	sc->change_size = (int64_t)p->op.value.v.size;
	cam_result_add(&sc->result, "namespace", p->op.ns);
	cam_result_add(&sc->result, "key", p->op.key);
	cam_result_addf(&sc->result, "version", "%llu", (unsigned long long)p->op.value.v.version);
	cam_result_addf(&sc->result, "size", "%zu", p->op.value.v.size);
	return 0;
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

static int conclude_read(struct pending *p)
{
	struct cam_syscall *sc = p->sc;
	struct cam_memctx_value *val = &p->op.value;

	cam_result_add(&sc->result, "namespace", p->op.ns);
	cam_result_add(&sc->result, "key", p->op.key);
	cam_result_addf(&sc->result, "version", "%llu", (unsigned long long)val->v.version);
	cam_result_addf(&sc->result, "timestamp_ms", "%lld", (long long)val->v.time_ms);
	cam_result_addf(&sc->result, "size", "%zu", val->v.size);
	if (printable(val->data, val->v.size))
		cam_result_add(&sc->result, "value", (const char *)val->data);
	else
		cam_result_add(&sc->result, "value_in", "data");
	/* The response owns the bytes now (dispatch.c frees them). */
	sc->out_data = val->data;
	sc->out_len = val->v.size;
	val->data = NULL;
	return 0;
}

static int conclude_versions(struct pending *p)
{
	struct cam_syscall *sc = p->sc;
	const struct cam_memctx_version *v = p->op.versions;
	size_t n = p->op.n;
	/* "version:unix_ms:size" is at most 62 bytes with its ';'. */
	char *list = cam_xmalloc(n * 64 + 1);
	size_t off = 0;

	list[0] = '\0';
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(list + off, 64, "%s%llu:%lld:%zu", i ? ";" : "",
					(unsigned long long)v[i].version, (long long)v[i].time_ms,
					v[i].size);
	cam_result_add(&sc->result, "namespace", p->op.ns);
	cam_result_add(&sc->result, "key", p->op.key);
	cam_result_addf(&sc->result, "count", "%zu", n);
	cam_result_addf(&sc->result, "latest", "%llu",
			n ? (unsigned long long)v[n - 1].version : 0ULL);
	cam_result_add(&sc->result, "versions", list);
	free(list);
	return 0;
}

static int conclude_delete(struct pending *p)
{
	struct cam_syscall *sc = p->sc;

	if (p->op.kind == CAM_MEMCTX_OP_SNAPSHOT_DELETE) {
		change_copy(sc, sc->resource[0] ? sc->resource + 10 : "", p->op.id);
		cam_result_add(&sc->result, "snapshot_id", p->op.id);
		return 0;
	}
	change_copy(sc, p->op.ns, p->op.key);
	cam_result_add(&sc->result, "namespace", p->op.ns);
	if (p->op.key)
		cam_result_add(&sc->result, "key", p->op.key);
	cam_result_addf(&sc->result, "removed_versions", "%zu", p->op.n);
	return 0;
}

static int conclude_snapshot(struct pending *p)
{
	struct cam_syscall *sc = p->sc;

	/* p goes before the call is answered: copies, for the audit trail */
	change_copy(sc, p->kind == OP_SNAPSHOT ? p->op.ns : p->op.snapshot_ns,
		    p->kind == OP_SNAPSHOT ? p->op.snapshot_id : p->op.id);

	cam_result_add(&sc->result, "snapshot_id",
		       p->kind == OP_SNAPSHOT ? p->op.snapshot_id : p->op.id);
	cam_result_add(&sc->result, "namespace",
		       p->kind == OP_SNAPSHOT ? p->op.ns : p->op.snapshot_ns);
	cam_result_addf(&sc->result, "keys", "%zu", p->op.n);
	return 0;
}

/* The call's result from its op, counted and timed; returns its code. */
static int conclude(struct pending *p)
{
	static int (*const fn[NOPS])(struct pending *) = {
		[OP_WRITE] = conclude_write,       [OP_READ] = conclude_read,
		[OP_VERSIONS] = conclude_versions, [OP_DELETE] = conclude_delete,
		[OP_SNAPSHOT] = conclude_snapshot, [OP_RESTORE] = conclude_snapshot,
	};
	int rc = p->op.rc;

	if (rc == 0)
		fn[p->kind](p);
	cam_memctx_value_free(&p->op.value);
	free(p->op.versions);
	return account(p->cv, p->sc, p->kind, rc, p->op.why, p->t0);
}

static void on_done(struct cam_memctx_op *op)
{
	struct pending *p = op->arg;
	struct cam_syscall *sc = p->sc;
	int rc;

	if (!p->heap || atomic_exchange(&p->state, ST_DONE) == ST_SUBMITTING)
		return; /* the handler is still in submit and concludes */
	rc = conclude(p);
	free(p);
	cam_syscall_complete(sc, rc);
}

/* A pending call for this verb: on the stack given, or on the heap when the
 * store may complete it later. */
static struct pending *pending_new(cam_context_verbs *cv, struct cam_syscall *sc, enum op kind,
				   enum cam_memctx_kind mk, struct pending *stack)
{
	bool heap = cam_memctx_async(cv->o.store);
	struct pending *p = heap ? cam_xmalloc(sizeof(*p)) : stack;

	memset(p, 0, offsetof(struct pending, op.why));
	p->op.kind = mk;
	p->op.deadline_ns = sc->deadline_ns;
	p->op.done = on_done;
	p->op.arg = p;
	p->cv = cv;
	p->sc = sc;
	p->kind = kind;
	p->t0 = cam_mono_s();
	p->heap = heap;
	atomic_init(&p->state, ST_SUBMITTING);
	return p;
}

/* Submits p's op: its code when it completed before submit returned, else
 * CAM_SYSCALL_DEFERRED (on_done completes the call). */
static int submit(struct pending *p)
{
	int rc;

	cam_memctx_submit(p->cv->o.store, &p->op);
	if (p->heap && atomic_exchange(&p->state, ST_RETURNED) != ST_DONE)
		return CAM_SYSCALL_DEFERRED; /* p and the call are on_done's now */
	rc = conclude(p);
	if (p->heap)
		free(p);
	return rc;
}

/* ---- the verbs ---------------------------------------------------------- */

static int context_write(void *ctx, struct cam_syscall *sc)
{
	cam_context_verbs *cv = ctx;
	const char *ns, *key, *text = cam_payload_get(sc->payload, "value");
	const char *exp_s = cam_payload_get(sc->payload, "expected_version");
	const void *val = text;
	size_t len = text ? strlen(text) : 0;
	uint64_t exp = 0;
	int64_t expected = CAM_MEMCTX_ANY;
	struct pending stack, *p;
	int status;

	if ((status = need(sc, "namespace", &ns)) || (status = need(sc, "key", &key)))
		return status;
	if (text && sc->data_len)
		return cam_syscall_fail(sc, CAM_EINVAL,
					"give the value either as payload key 'value' or as data, not both");
	if (!text && !sc->data_len)
		return cam_syscall_fail(sc, CAM_EINVAL,
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
	p = pending_new(cv, sc, OP_WRITE, CAM_MEMCTX_OP_WRITE, &stack);
	p->op.ns = ns;
	p->op.key = key;
	p->op.val = val;
	p->op.len = len;
	p->op.expected = expected;
	return submit(p);
}

static int context_read(void *ctx, struct cam_syscall *sc)
{
	cam_context_verbs *cv = ctx;
	const char *ns, *key, *ver_s = cam_payload_get(sc->payload, "version");
	uint64_t ver = 0;
	struct pending stack, *p;
	int status;

	if ((status = need(sc, "namespace", &ns)) || (status = need(sc, "key", &key)))
		return status;
	if (ver_s && (status = parse_u64(sc, "version", ver_s, 1, &ver)))
		return status;
	p = pending_new(cv, sc, OP_READ, CAM_MEMCTX_OP_READ, &stack);
	p->op.ns = ns;
	p->op.key = key;
	p->op.version = ver;
	return submit(p);
}

static int context_versions(void *ctx, struct cam_syscall *sc)
{
	cam_context_verbs *cv = ctx;
	const char *ns, *key;
	struct pending stack, *p;
	struct cam_memctx_version *v;
	int status;

	if ((status = need(sc, "namespace", &ns)) || (status = need(sc, "key", &key)))
		return status;
	if (!(v = malloc(CAM_MEMCTX_MAX_KEEP * sizeof(*v))))
		return cam_syscall_fail(sc, CAM_ENOMEM, "out of memory");
	p = pending_new(cv, sc, OP_VERSIONS, CAM_MEMCTX_OP_VERSIONS, &stack);
	p->op.ns = ns;
	p->op.key = key;
	p->op.versions = v;
	p->op.max = CAM_MEMCTX_MAX_KEEP;
	return submit(p);
}

static int context_delete(void *ctx, struct cam_syscall *sc)
{
	cam_context_verbs *cv = ctx;
	const char *ns = cam_payload_get(sc->payload, "namespace");
	const char *key = cam_payload_get(sc->payload, "key");
	const char *id = cam_payload_get(sc->payload, "snapshot_id");
	struct pending stack, *p;

	if (id && (ns || key))
		return cam_syscall_fail(sc, CAM_EINVAL,
					"give either snapshot_id or namespace[,key]");
	if (!id && (!ns || !*ns))
		return cam_syscall_fail(sc, CAM_EINVAL,
					"payload key 'namespace' (or 'snapshot_id') is missing");
	p = pending_new(cv, sc, OP_DELETE,
			id ? CAM_MEMCTX_OP_SNAPSHOT_DELETE : CAM_MEMCTX_OP_DELETE, &stack);
	p->op.ns = ns;
	p->op.key = key;
	p->op.id = id;
	return submit(p);
}

static int context_snapshot(void *ctx, struct cam_syscall *sc)
{
	cam_context_verbs *cv = ctx;
	const char *ns;
	struct pending stack, *p;
	int status;

	if ((status = need(sc, "namespace", &ns)))
		return status;
	p = pending_new(cv, sc, OP_SNAPSHOT, CAM_MEMCTX_OP_SNAPSHOT, &stack);
	p->op.ns = ns;
	return submit(p);
}

static int context_restore(void *ctx, struct cam_syscall *sc)
{
	cam_context_verbs *cv = ctx;
	const char *id;
	struct pending stack, *p;
	int status;

	if ((status = need(sc, "snapshot_id", &id)))
		return status;
	p = pending_new(cv, sc, OP_RESTORE, CAM_MEMCTX_OP_RESTORE, &stack);
	p->op.id = id;
	return submit(p);
}

/* "Context Store": the store in use, whatever its backend. */
static enum cam_component_status probe(void *arg, char *msg, size_t len)
{
	return cam_memctx_health(arg, msg, len);
}

/* "Redis Backend": the store's health when it is Redis, else disabled. */
static enum cam_component_status probe_redis(void *arg, char *msg, size_t len)
{
	const char *b = cam_memctx_backend(arg);

	if (strcmp(b, "redis") == 0)
		return cam_memctx_health(arg, msg, len);
	snprintf(msg, len, "Redis not in use: the context store is %s (CAM_REDIS_URL is not set)",
		 b);
	return CAM_COMPONENT_DISABLED;
}

/* The durable store's figures, when it is the backend. */
static void collect_store(cam_context_verbs *cv)
{
	cam_store *s = cam_memctx_store(cv->o.store);
	struct cam_store_stats st;

	if (!s)
		return;
	cam_store_stats(s, &st);
	cam_gauge_set(cv->commits, (double)st.commits);
	cam_gauge_set(cv->syncs, (double)st.syncs);
	cam_gauge_set(cv->committed, (double)st.changes);
	cam_gauge_set(cv->commit_seconds, st.last_commit_s);
	cam_gauge_set(cv->nospace, (double)st.failures_nospace);
	cam_gauge_set(cv->io_errors, (double)st.failures_io);
	cam_gauge_set(cv->free_bytes, (double)st.free_bytes);
}

/* With Redis Cluster: its state, slots and masters (no series otherwise,
 * so an alert on them never fires for a single Redis). */
static void collect_cluster(cam_context_verbs *cv)
{
	static const char *const states[] = { "ok", "pfail", "fail", "uncovered" };
	struct cam_memctx_cluster ci;
	unsigned v[4];

	if (cam_memctx_cluster(cv->o.store, &ci))
		return;
	v[0] = ci.slots_ok;
	v[1] = ci.slots_pfail;
	v[2] = ci.slots_fail;
	v[3] = ci.slots_uncovered;
	cam_gauge_set(cam_series_get(cv->cluster[0], NULL), ci.ok ? 1 : 0);
	for (size_t i = 0; i < 4; i++)
		cam_gauge_set(cam_series_get(cv->cluster[1], (const char *[]){ states[i] }), v[i]);
	cam_gauge_set(cam_series_get(cv->cluster[2], NULL), ci.masters);
}

/* Before each snapshot: the size gauge and the store's own counters. */
static void collect(void *arg)
{
	cam_context_verbs *cv = arg;

	cam_gauge_set(cv->size, (double)cam_memctx_size_bytes(cv->o.store));
	cam_gauge_set(cv->reconnects, (double)cam_memctx_reconnects(cv->o.store));
	cam_gauge_set(cv->master_changes, (double)cam_memctx_master_changes(cv->o.store));
	cam_gauge_set(cv->unconfirmed, (double)cam_memctx_unconfirmed(cv->o.store));
	collect_store(cv);
	collect_cluster(cv);
}

static int register_metrics(cam_context_verbs *cv)
{
	const char *backend = cam_memctx_backend(cv->o.store);
	cam_family *f[NMETRICS];
	char why[160];
	int rc = cam_metrics_table_register(metrics, NMETRICS, f, why, sizeof(why));

	if (rc) {
		cam_log(CAM_LOG_ERROR, "memctx", "%s", why);
		return rc;
	}
	cv->operations = f[M_OPERATIONS];
	for (size_t i = 0; i < NOPS; i++) {
		cv->ok[i] = cam_series_get(f[M_OPERATIONS], (const char *[]){ op_names[i], "ok" });
		cv->duration[i] = cam_series_get(f[M_DURATION], (const char *[]){ op_names[i] });
	}
	cv->versions = cam_series_get(f[M_VERSIONS], NULL);
	cv->size = cam_series_get(f[M_SIZE], (const char *[]){ backend });
	cv->reconnects = cam_series_get(f[M_RECONNECTS], NULL);
	cv->master_changes = cam_series_get(f[M_MASTER_CHANGES], NULL);
	cv->unconfirmed = cam_series_get(f[M_UNCONFIRMED], NULL);
	cv->cluster[0] = f[M_CLUSTER_STATE];
	cv->cluster[1] = f[M_CLUSTER_SLOTS];
	cv->cluster[2] = f[M_CLUSTER_MASTERS];
	cv->quota_refusals = cam_quota_refusals("memctx_bytes_per_caller");
	/* Failures exist at 0 on every backend, so the alert on them always
	 * has its series; the rest only where a durable store commits. */
	cv->nospace = cam_series_get(f[M_FAILURES], (const char *[]){ "no_space" });
	cv->io_errors = cam_series_get(f[M_FAILURES], (const char *[]){ "io_error" });
	if (!cam_memctx_store(cv->o.store))
		return 0;
	cv->commits = cam_series_get(f[M_COMMITS], NULL);
	cv->syncs = cam_series_get(f[M_SYNCS], NULL);
	cv->committed = cam_series_get(f[M_COMMITTED], NULL);
	cv->commit_seconds = cam_series_get(f[M_COMMIT_SECONDS], NULL);
	cv->free_bytes = cam_series_get(f[M_FREE], NULL);
	return 0;
}

/* The namespace a call acts on, for the policy: its own, or for a
 * snapshot id the namespace the snapshot was taken of (a snapshot belongs
 * to its namespace's owner). */
static int ns_resource(void *ctx, struct cam_syscall *sc, char *buf, size_t len)
{
	cam_context_verbs *cv = ctx;
	const char *id = cam_payload_get(sc->payload, "snapshot_id");
	char ns[CAM_MEMCTX_MAX_NAME + 1], why[CAM_MEMCTX_WHY];
	int rc;

	if (!id || !*id || cam_payload_get(sc->payload, "namespace"))
		return cam_resource_from_key(sc, "namespace", "namespace", buf, len);
	if ((rc = cam_memctx_snapshot_ns(cv->o.store, sc->deadline_ns, id, ns, why)))
		return cam_syscall_fail(sc, rc, "%s", why);
	snprintf(buf, len, "namespace:%s", ns);
	return 0;
}

static const char *const K_WRITE[] = { "namespace", "key", "value", "expected_version", NULL };
static const char *const K_READ[] = { "namespace", "key", "version", NULL };
static const char *const K_KEY[] = { "namespace", "key", NULL };
static const char *const K_DELETE[] = { "namespace", "key", "snapshot_id", NULL };
static const char *const K_NS[] = { "namespace", NULL };
static const char *const K_RESTORE[] = { "snapshot_id", NULL };

static const struct cam_verb rows[] = {
	{ .name = "context_write", .fn = context_write, .resource = ns_resource, .keys = K_WRITE, .scope = CAM_SCOPE_WRITE },
	{ .name = "context_read", .fn = context_read, .resource = ns_resource, .keys = K_READ, .scope = CAM_SCOPE_READ },
	{ .name = "context_versions", .fn = context_versions, .resource = ns_resource, .keys = K_KEY,
	  .scope = CAM_SCOPE_READ },
	{ .name = "context_delete", .fn = context_delete, .resource = ns_resource, .keys = K_DELETE,
	  .scope = CAM_SCOPE_WRITE },
	{ .name = "context_snapshot", .fn = context_snapshot, .resource = ns_resource, .keys = K_NS,
	  .scope = CAM_SCOPE_WRITE },
	{ .name = "context_restore", .fn = context_restore, .resource = ns_resource, .keys = K_RESTORE,
	  .scope = CAM_SCOPE_WRITE },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

/* The rows with may_block set as the store's backend says: a store that
 * completes its calls on a thread of its own never blocks the handler, nor
 * does memory; one answered on the calling thread does. A snapshot id's
 * namespace (ns_resource, for the policy) is looked up synchronously: on
 * Redis that is a round trip, so the verbs naming a snapshot id run on a
 * worker there (context_delete only when it names one). */
static int add_rows(cam_context_verbs *cv)
{
	bool blocks = !cam_memctx_async(cv->o.store) &&
		      strcmp(cam_memctx_backend(cv->o.store), "memory") != 0;
	bool lookup_blocks = blocks || strcmp(cam_memctx_backend(cv->o.store), "redis") == 0;
	struct cam_verb r[NROWS];

	for (size_t i = 0; i < NROWS; i++) {
		r[i] = rows[i];
		r[i].may_block = blocks;
		if (lookup_blocks && strcmp(r[i].name, "context_restore") == 0)
			r[i].may_block = true;
		if (lookup_blocks && strcmp(r[i].name, "context_delete") == 0 && !blocks)
			r[i].blocks_with = "snapshot_id";
	}
	return cam_verbs_add(cv->o.verbs, "memory context", r, NROWS, cv);
}

int cam_context_verbs_new(const struct cam_context_verbs_opts *o, cam_context_verbs **out)
{
	cam_context_verbs *cv;
	int rc;

	if (!o->store)
		return CAM_EINVAL;
	cv = cam_xcalloc(1, sizeof(*cv));
	cv->o = *o;
	if ((rc = register_metrics(cv)) || (rc = add_rows(cv)))
		goto out_free;
	if ((rc = cam_metrics_add_collector(collect, cv)))
		goto out_remove_rows;
	if (o->components &&
	    (rc = cam_components_set(o->components, "Redis Backend", probe_redis, o->store)))
		goto out_remove_collector;
	if (o->components &&
	    (rc = cam_components_set(o->components, "Context Store", probe, o->store)))
		goto out_clear_redis;
	*out = cv;
	return 0;
out_clear_redis:
	cam_components_clear(o->components, "Redis Backend");
out_remove_collector:
	cam_metrics_remove_collector(collect, cv);
out_remove_rows:
	cam_verbs_remove(o->verbs, rows, NROWS);
out_free:
	free(cv);
	return rc;
}

void cam_context_verbs_free(cam_context_verbs *cv)
{
	if (!cv)
		return;
	cam_components_clear(cv->o.components, "Context Store");
	cam_components_clear(cv->o.components, "Redis Backend");
	cam_metrics_remove_collector(collect, cv);
	cam_verbs_remove(cv->o.verbs, rows, NROWS);
	free(cv);
}
