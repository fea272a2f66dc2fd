/*
 * The dispatcher (dispatch.h): checks, handler, accounting, answer.
 *
 * Checks run in a fixed order in run(), each a small function returning 0
 * or a CAM_E* code with sc->error set: the place to add one. finish() is
 * the only way out of a call: it turns the handler's code into a gRPC
 * status (status_of), accounts for the call, answers it through the
 * transport and releases it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/dispatch.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "kernel/syscall/dispatch_audit.h"
#include "common/metrics_table.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "kernel/syscall/factors.h"
#include "kernel/tracing/syscall_trace.h"
#include "kernel/tracing/trace_id.h"

enum { M_DURATION, M_TOTAL, M_ERRORS, NMETRICS };
static const char *const L_VERB[] = { "verb", NULL };
static const char *const L_VERB_CODE[] = { "verb", "code", NULL };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_DURATION] = { .name = "cam_os_syscall_duration_seconds",
			 .help = "Histogram of syscall execution times", .type = CAM_HISTOGRAM,
			 .unit = "seconds", .label_names = L_VERB, .max_series = CAM_VERBS_MAX + 1,
			 .native = &cam_native_defaults },
	[M_TOTAL] = { .name = "cam_os_syscall_total", .help = "Counter of total syscalls executed",
		      .type = CAM_COUNTER, .label_names = L_VERB, .max_series = CAM_VERBS_MAX + 1 },
	[M_ERRORS] = { .name = "cam_os_syscall_errors_total", .help = "Counter of syscall errors",
		       .type = CAM_COUNTER, .label_names = L_VERB_CODE, .max_series = 1024 },
};

struct cam_dispatch {
	struct cam_dispatch_opts o;
	char instance_id[9];
	size_t nverbs;            /* rows when made; index nverbs is "unknown" */
	cam_family *errors;
	cam_series **total, **duration;
	cam_access_log *log;
	uint64_t generation;      /* which dispatcher a thread's id block is from */
	_Atomic uint64_t next_request;
};

/* Request ids are handed to each thread in blocks, so a call moves no
 * counter another thread moves: ids stay unique, in order per thread. */
#define ID_BLOCK 1024
static _Atomic uint64_t generations;
static _Thread_local struct {
	uint64_t generation, next, end;
} ids;

static uint64_t next_request_id(cam_dispatch *d)
{
	if (ids.generation != d->generation || ids.next == ids.end) {
		ids.generation = d->generation;
		ids.next = atomic_fetch_add_explicit(&d->next_request, ID_BLOCK,
						     memory_order_relaxed) + 1;
		ids.end = ids.next + ID_BLOCK;
	}
	return ids.next++;
}

int cam_dispatch_new(const struct cam_dispatch_opts *o, cam_dispatch **out)
{
	cam_family *f[NMETRICS];
	cam_dispatch *d;
	char why[160];
	int rc;

	if (!o->verbs || !o->auth)
		return CAM_EINVAL;
	if ((rc = cam_metrics_table_register(metrics, NMETRICS, f, why, sizeof(why)))) {
		cam_log(CAM_LOG_ERROR, "syscall_dispatcher", "%s", why);
		return rc;
	}
	d = cam_xcalloc(1, sizeof(*d));
	d->o = *o;
	d->generation = atomic_fetch_add(&generations, 1) + 1;
	if ((rc = cam_access_log_new(&(struct cam_access_log_opts){
					     .mode = o->access_log,
					     .error_rate = o->access_log_error_rate },
				     &d->log))) {
		free(d);
		return rc;
	}
	snprintf(d->instance_id, sizeof(d->instance_id), "%s", o->instance_id ? o->instance_id : "");
	d->nverbs = cam_verbs_count(o->verbs);
	d->errors = f[M_ERRORS];
	d->total = cam_xcalloc(d->nverbs + 1, sizeof(*d->total));
	d->duration = cam_xcalloc(d->nverbs + 1, sizeof(*d->duration));
	/* Resolved once: the hot path only indexes. */
	for (size_t i = 0; i <= d->nverbs; i++) {
		const char *name = i < d->nverbs ? cam_verbs_at(o->verbs, i)->name : "unknown";

		d->total[i] = cam_series_get(f[M_TOTAL], (const char *[]){ name });
		d->duration[i] = cam_series_get(f[M_DURATION], (const char *[]){ name });
	}
	*out = d;
	return 0;
}

void cam_dispatch_free(cam_dispatch *d)
{
	if (!d)
		return;
	cam_access_log_free(d->log);
	free(d->total);
	free(d->duration);
	free(d);
}

int cam_syscall_fail(struct cam_syscall *sc, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sc->error, sizeof(sc->error), fmt, ap);
	va_end(ap);
	return err;
}

/* ---- the checks, in the order run() makes them ------------------------ */

/* Who calls, and one call taken from their rate limit. */
static int admit(cam_dispatch *d, struct cam_dispatch_call *c)
{
	struct cam_syscall *sc = &c->sc;
	struct cam_identity id;
	int rc = cam_auth_identify_peer(d->o.auth, c->authorization, c->cert, c->caller_id, &id,
					sc->error, sizeof(sc->error));

	if (rc)
		return rc;
	cam_strlcpy(sc->caller_buf, id.caller_id, sizeof(sc->caller_buf));
	sc->caller_id = sc->caller_buf;
	sc->scopes = id.scopes;
	sc->authenticated = id.authenticated;
	sc->identified_by = id.by;
	if ((rc = cam_auth_rate_limit(d->o.auth, &id, sc->error, sizeof(sc->error))))
		sc->refusal = "rate_limit";
	return rc;
}

/* The caller must hold the scope the verb's row asks for. */
static int authorize(cam_dispatch *d, struct cam_syscall *sc)
{
	struct cam_identity id = { .scopes = sc->scopes };

	cam_strlcpy(id.caller_id, sc->caller_id, sizeof(id.caller_id));
	return cam_auth_check_scope(d->o.auth, &id, sc->verb->scope, sc->verb->name, sc->error,
				    sizeof(sc->error));
}

static int check_priority(struct cam_dispatch_call *c)
{
	if (!c->has_priority)
		return 0;
	if (c->priority > 9)
		return cam_syscall_fail(&c->sc, CAM_EINVAL, "priority %u is out of range 0-9",
					c->priority);
	c->sc.priority = c->priority;
	return 0;
}

/* Whether every payload key is one the verb accepts (a verb with no key
 * list takes any); names the first one it does not. The scheduling
 * factors are accepted by every verb, and must be numbers from 0 to 1. */
static int check_keys(struct cam_syscall *sc)
{
	const char *const *keys = sc->verb->keys;
	char err[200];

	for (size_t i = 0; i < sc->payload->n; i++) {
		const struct cam_payload_pair *pair = &sc->payload->pairs[i];
		const char *k = pair->key;
		size_t j = 0;
		double v;
		int f, rc = cam_factors_pair(pair, &f, &v, err, sizeof(err));

		if (rc < 0)
			return cam_syscall_fail(sc, CAM_EINVAL, "%s", err);
		if (rc || !keys)
			continue;
		while (keys[j] && (keys[j][0] != k[0] || strcmp(keys[j], k) != 0))
			j++;
		if (!keys[j])
			return cam_syscall_fail(sc, CAM_EINVAL, "verb %s does not take payload key '%s'",
						sc->verb->name, k);
	}
	return 0;
}

static int check_payload(struct cam_dispatch_call *c)
{
	struct cam_syscall *sc = &c->sc;
	char err[200];

	if (cam_payload_parse(c->payload, strlen(c->payload), &c->parsed, err, sizeof(err)))
		return cam_syscall_fail(sc, CAM_EINVAL, "%s", err);
	sc->payload = &c->parsed;
	return check_keys(sc);
}

/*
 * The policy's word on an authenticated call: the verb on the resource its
 * row names. Denied: PERMISSION_DENIED naming the rule (in shadow mode the
 * call goes on, and the decision is counted as shadow_deny and logged).
 * Anonymous callers (loopback, no credentials configured) are not kept
 * apart: the policy is not asked.
 */
static int check_policy(cam_dispatch *d, struct cam_syscall *sc)
{
	struct cam_policy_decision dec;
	int rc;

	if (!d->o.policy || !sc->authenticated)
		return 0;
	if (sc->verb->resource &&
	    (rc = sc->verb->resource(sc->verb->ctx, sc, sc->resource, sizeof(sc->resource))))
		return rc;
	cam_policy_decide_as(d->o.policy, sc->caller_id, sc->scopes & CAM_SCOPE_ADMIN,
			     sc->verb->name, sc->resource, true, &dec);
	cam_strlcpy(sc->policy_rule, dec.rule, sizeof(sc->policy_rule));
	cam_strlcpy(sc->policy_name, dec.policy, sizeof(sc->policy_name));
	sc->policy_version = dec.version;
	if (dec.allowed)
		return 0;
	if (!dec.enforced) { /* counted as shadow_deny, never as an auth failure */
		cam_log(CAM_LOG_WARN, "security",
			"shadow policy would deny %s %s on %s (rule %s, policy %s v%llu)",
			sc->caller_id, sc->verb->name, sc->resource[0] ? sc->resource : "-", dec.rule,
			dec.policy[0] ? dec.policy : "-", (unsigned long long)dec.version);
		return 0;
	}
	cam_auth_count_policy_denial(d->o.auth);
	return cam_syscall_fail(sc, CAM_EPERM, "%s may not %s %s: rule %s%s%s%s", sc->caller_id,
				sc->verb->name, sc->resource[0] ? sc->resource : "(no resource)",
				dec.rule, dec.policy[0] ? " of policy " : "", dec.policy,
				strcmp(dec.rule, "default") ? ""
				: " (a namespace belongs to its owner: grant it with an allow rule)");
}

/* The trace id of a W3C traceparent "00-<32 hex>-<16 hex>-<2 hex>". */
static void trace_from_metadata(struct cam_syscall *sc, const char *tp)
{
	if (tp && strlen(tp) >= 55 && tp[2] == '-' && tp[35] == '-' &&
	    cam_trace_id_is_w3c(tp + 3, 32)) {
		memcpy(sc->trace_id, tp + 3, 32);
		sc->trace_id[32] = '\0';
	}
}

/* Checks and runs a call; returns the handler's code, a check's, or
 * CAM_SYSCALL_DEFERRED. */
static int run(cam_dispatch *d, struct cam_dispatch_call *c)
{
	struct cam_syscall *sc = &c->sc;
	int rc;

	if (!c->decoded)
		return cam_syscall_fail(sc, CAM_EINVAL, "request is not a cam.SyscallRequest");
	if (c->bad_string)
		return cam_syscall_fail(sc, CAM_EINVAL,
					"field %s is not valid UTF-8 text (a NUL byte or a bad "
					"sequence; binary goes in data)", c->bad_string);
	/* Who calls comes first: nobody learns more without credentials. */
	if ((rc = admit(d, c)))
		return rc;
	if (!sc->verb)
		return cam_syscall_fail(sc, CAM_ENOTSUP, "unknown verb '%.64s'", c->verb);
	if ((rc = authorize(d, sc)) || (rc = check_priority(c)) || (rc = check_payload(c)) ||
	    (rc = check_policy(d, sc)))
		return rc;
	if (sc->deadline_ns && cam_mono_ns() >= sc->deadline_ns)
		return cam_syscall_fail(sc, CAM_ETIMEDOUT, "deadline passed before the syscall ran");
	trace_from_metadata(sc, c->traceparent);
	if ((rc = cam_dispatch_audit_before(d->o.audit, c)))
		return rc;
	return sc->verb->fn(sc->verb->ctx, sc);
}

/* ---- accounting and answering ----------------------------------------- */

/* The gRPC status a handler's code is answered with. A positive code is
 * a handler's bug (no success or error means that): INTERNAL, said. */
static int status_of(struct cam_syscall *sc, int rc)
{
	if (rc == 0)
		return CAM_GRPC_OK;
	if (rc > 0) {
		snprintf(sc->error, sizeof(sc->error), "verb %s returned %d, not 0 or an error code",
			 sc->verb ? sc->verb->name : "?", rc);
		return CAM_GRPC_INTERNAL;
	}
	if (!sc->error[0])
		cam_strlcpy(sc->error, cam_strerror(rc), sizeof(sc->error));
	return cam_err_grpc_status(rc);
}

/* Keeps how the call was scheduled for explain_action. */
static void record(cam_dispatch *d, const struct cam_dispatch_call *c, int status)
{
	struct cam_sched_decision dec;

	if (!d->o.sched || !c->sched)
		return;
	cam_strlcpy(dec.request_id, c->request_id, sizeof(dec.request_id));
	memcpy(dec.trace_id, c->sc.trace_id, sizeof(dec.trace_id));
	cam_strlcpy(dec.verb, c->verb_label, sizeof(dec.verb));
	dec.sched = *c->sched;
	dec.sched.reject = NULL;
	dec.status = status;
	cam_sched_record(d->o.sched, &dec);
}

/* Counts, times, traces, logs and records the call. */
static void account(cam_dispatch *d, struct cam_dispatch_call *c, int status)
{
	struct cam_syscall *sc = &c->sc;
	double seconds = (double)(cam_mono_ns() - c->t0) / 1e9;
	char span_id[17];

	cam_counter_inc(d->total[c->idx]);
	if (status != CAM_GRPC_OK)
		cam_counter_inc(cam_series_get(d->errors,
					       (const char *[]){ c->verb_label,
								 cam_grpc_status_name(status) }));
	cam_syscall_trace_done(d->o.spans, &(struct cam_syscall_done){
		.verb = c->verb_label,
		.request_id = c->request_id,
		.caller_id = sc->caller_id,
		.error = sc->error,
		.status = status,
		.seconds = seconds,
		.duration = d->duration[c->idx],
		.traceparent = c->traceparent,
		.trace_id = sc->trace_id,
		.span_id = sc->payload ? cam_payload_get(sc->payload, "span_id") : NULL,
		.span_out = span_id,
	});
	cam_access_log_write(d->log, &(struct cam_access_entry){
		.verb = c->verb_label,
		.caller_id = sc->caller_id,
		.request_id = c->request_id,
		.trace_id = sc->trace_id,
		.span_id = span_id,
		.error = sc->error,
		.grpc_status = status,
		.seconds = seconds,
	});
	record(d, c, status);
}

static void release(struct cam_dispatch_call *c)
{
	cam_result_free(&c->sc.result);
	free(c->sc.out_data);
	c->sc.out_data = NULL;
	cam_payload_free(&c->parsed);
	c->ops->release(c);
}

/* The one way out of a call that ran: status, accounting, answer. */
static void finish(struct cam_dispatch_call *c, int rc)
{
	int status = status_of(&c->sc, rc);

	account(c->d, c, status);
	cam_dispatch_audit_after(c->d->o.audit, c, status);
	c->ops->answer(c, status);
	release(c);
}

/* A call's request id, verb row and label, caller and timing, before
 * anything is checked. */
static void prepare(cam_dispatch *d, struct cam_dispatch_call *c)
{
	struct cam_syscall *sc = &c->sc;
	const struct cam_verb *row = c->decoded && !c->bad_string
					     ? cam_verbs_find(d->o.verbs, c->verb) : NULL;

	c->d = d;
	if (!c->t0)
		c->t0 = cam_mono_ns();
	/* "<8 hex of the instance id>-<sequence>" */
	{
		size_t n = cam_strlcpy(c->request_id, d->instance_id, sizeof(c->request_id) - 22);

		c->request_id[n++] = '-';
		cam_u64_to_dec(c->request_id + n, next_request_id(d));
	}
	c->verb_label = "unknown";
	c->idx = d->nverbs;
	if (row && row->index < d->nverbs) {
		sc->verb = row;
		c->verb_label = row->name;
		c->idx = row->index;
	}
	sc->caller_id = c->decoded && !c->bad_string && c->caller_id && c->caller_id[0]
				? c->caller_id : "anonymous";
	sc->priority = c->sched ? c->sched->priority : 5;
	if (!c->payload)
		c->payload = "";
}

void cam_dispatch_run(cam_dispatch *d, struct cam_dispatch_call *c)
{
	int rc;

	prepare(d, c);
	rc = run(d, c);
	/* Deferred: the verb owns the call now and completes it; touch nothing. */
	if (rc != CAM_SYSCALL_DEFERRED)
		finish(c, rc);
}

void cam_dispatch_refused(cam_dispatch *d, struct cam_dispatch_call *c, int grpc_status,
			  const char *why)
{
	prepare(d, c);
	/* Never admitted, yet its line names who the credentials name. */
	if (c->decoded && !c->bad_string && d->o.auth) {
		enum cam_identified_by by = cam_auth_caller_of(d->o.auth, c->authorization, c->cert,
							       c->sc.caller_buf,
							       sizeof(c->sc.caller_buf));

		if (by != CAM_ID_ANONYMOUS) {
			c->sc.caller_id = c->sc.caller_buf;
			c->sc.identified_by = by;
			c->sc.authenticated = true;
		}
	}
	cam_strlcpy(c->sc.error, why ? why : "", sizeof(c->sc.error));
	if (grpc_status == CAM_GRPC_RESOURCE_EXHAUSTED && strstr(c->sc.error, "per caller"))
		c->sc.refusal = "quota";
	account(d, c, grpc_status);
	cam_dispatch_audit_after(d->o.audit, c, grpc_status);
	release(c);
}

void cam_syscall_complete(struct cam_syscall *sc, int rc)
{
	/* Completing with "deferred" again would never answer: a bug, said. */
	if (rc == CAM_SYSCALL_DEFERRED)
		rc = cam_syscall_fail(sc, CAM_EINTERNAL, "verb %s completed its call as deferred",
				      sc->verb ? sc->verb->name : "?");
	finish((struct cam_dispatch_call *)sc, rc);
}

bool cam_syscall_cancelled(const struct cam_syscall *sc)
{
	const struct cam_dispatch_call *c = (const struct cam_dispatch_call *)sc;

	return c->ops->cancelled && c->ops->cancelled(c);
}
