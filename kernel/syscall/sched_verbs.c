/*
 * The scheduler's verbs: think (the 5-D score of a task,
 * kernel/scheduler/think.h), explain_action (why a recent call was
 * scheduled as it was) and tune_system (weights, queue limits, workers and
 * stall time at run time); and the "Scheduler" health component.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/sched_verbs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/grpc_status.h"
#include "common/xmalloc.h"
#include "kernel/scheduler/think.h"
#include "kernel/security/auth.h"
#include "kernel/syscall/factors.h"

struct cam_sched_verbs {
	struct cam_sched_verbs_opts o;
};

static int think(void *ctx, struct cam_syscall *sc)
{
	double f[CAM_THINK_NFACTORS];
	struct cam_think th;
	char err[128], defaulted[64] = "";
	int n = cam_factors_from_payload(sc->payload, f, err, sizeof(err));

	(void)ctx;
	if (n < 0)
		return cam_syscall_fail(sc, CAM_EINVAL, "%s", err);
	if (n == 0)
		return cam_syscall_fail(sc, CAM_EINVAL,
					"think needs at least one of urgency, importance, efficiency, energy, trust (each 0-1)");
	cam_think_score(f, &th);
	cam_result_addf(&sc->result, "score", "%.4f", th.score);
	cam_result_addf(&sc->result, "priority", "%u", th.priority);
	cam_result_add(&sc->result, "class", cam_sched_class_name(th.klass));
	for (int i = 0; i < CAM_THINK_NFACTORS; i++) {
		char key[40];

		cam_result_addf(&sc->result, cam_think_factor_names[i], "%.4f", th.factors[i]);
		snprintf(key, sizeof(key), "contribution_%s", cam_think_factor_names[i]);
		cam_result_addf(&sc->result, key, "%.4f", th.contrib[i]);
		if (!cam_payload_get(sc->payload, cam_think_factor_names[i]))
			snprintf(defaulted + strlen(defaulted), sizeof(defaulted) - strlen(defaulted),
				 "%s%s", defaulted[0] ? "+" : "", cam_think_factor_names[i]);
	}
	if (defaulted[0])
		cam_result_add(&sc->result, "defaulted", defaulted);
	cam_result_add(&sc->result, "formula",
		       "0.30*urgency+0.25*importance+0.15*efficiency+0.10*energy+0.20*trust");
	return 0;
}

/* "why" in words without the grammar's separators (',' and ':'). */
static void explain_reason(const struct cam_sched_decision *d, char *out, size_t len)
{
	static const char *const ranges[] = { "7-9", "3-6", "0-2" };
	const struct cam_grpc_sched *x = &d->sched;
	char from[64];

	if (x->source == CAM_SCHED_SRC_FIELD)
		snprintf(from, sizeof(from), "the request's priority field");
	else if (x->source == CAM_SCHED_SRC_FACTORS)
		snprintf(from, sizeof(from), "its factors (score %.4f)", x->score);
	else
		snprintf(from, sizeof(from), "the default (no priority or factors given)");
	snprintf(out, len,
		 "priority %u from %s puts it in class %s (priorities %s); %u calls were ahead of it in that queue and it waited %.3f ms",
		 x->priority, from, cam_sched_class_name(x->klass),
		 x->klass < 3 ? ranges[x->klass] : "?", x->queue_len,
		 (double)(x->dequeued_ns - x->enqueued_ns) / 1e6);
}

static int explain_action(void *ctx, struct cam_syscall *sc)
{
	cam_sched_verbs *v = ctx;
	const char *rid = cam_payload_get(sc->payload, "request_id");
	const char *tid = cam_payload_get(sc->payload, "trace_id");
	struct cam_sched_decision d;
	const struct cam_grpc_sched *x = &d.sched;
	char reason[384];

	if (!rid && !tid)
		return cam_syscall_fail(sc, CAM_EINVAL,
					"explain_action needs request_id (from a SyscallResponse) or trace_id");
	if (cam_sched_explain(v->o.sched, rid, rid ? NULL : tid, &d))
		return cam_syscall_fail(sc, CAM_ENOENT,
					"no recent decision for %s '%.64s' (the ring keeps the latest calls only)",
					rid ? "request_id" : "trace_id", rid ? rid : tid);
	cam_result_add(&sc->result, "request_id", d.request_id);
	if (d.trace_id[0])
		cam_result_add(&sc->result, "trace_id", d.trace_id);
	cam_result_add(&sc->result, "verb", d.verb);
	cam_result_addf(&sc->result, "priority", "%u", x->priority);
	cam_result_add(&sc->result, "class", cam_sched_class_name(x->klass));
	cam_result_add(&sc->result, "source", cam_sched_source_name(x->source));
	if (x->scored) {
		cam_result_addf(&sc->result, "score", "%.4f", x->score);
		for (int i = 0; i < CAM_THINK_NFACTORS; i++)
			cam_result_addf(&sc->result, cam_think_factor_names[i], "%.4f",
					x->factors[i]);
	}
	cam_result_addf(&sc->result, "queue_length", "%u", x->queue_len);
	cam_result_addf(&sc->result, "wait_ms", "%.3f",
			(double)(x->dequeued_ns - x->enqueued_ns) / 1e6);
	cam_result_add(&sc->result, "status", cam_grpc_status_name(d.status));
	explain_reason(&d, reason, sizeof(reason));
	cam_result_add(&sc->result, "reason", reason);
	return 0;
}

/* ---- tune_system ------------------------------------------------------- */

/* One whole number (the three-value parser refuses it otherwise). */
static bool one(const char *v, unsigned *out)
{
	unsigned three[CAM_SCHED_NCLASSES];

	if (cam_sched_parse_classes(v, true, three))
		return false;
	*out = three[0];
	return true;
}

static const char *const class_keys[3][3] = {
	{ "weight_high", "weight_normal", "weight_low" },
	{ "queue_limit_high", "queue_limit_normal", "queue_limit_low" },
	{ "queue_limit_per_caller_high", "queue_limit_per_caller_normal",
	  "queue_limit_per_caller_low" },
};

/* Reads the wanted settings over the current ones; the name of a key
 * whose value is not a number (or triple), or NULL. Bounds come later. */
static const char *read_wanted(const struct cam_payload *p, struct cam_sched_settings *w)
{
	const char *v;

	if ((v = cam_payload_get(p, "weights")) && cam_sched_parse_classes(v, false, w->weights))
		return "weights (high:normal:low, e.g. 8:4:1)";
	if ((v = cam_payload_get(p, "queue_limit")) &&
	    cam_sched_parse_classes(v, true, w->queue_limit))
		return "queue_limit (one number, or high:normal:low)";
	if ((v = cam_payload_get(p, "queue_limit_per_caller")) &&
	    cam_sched_parse_classes(v, true, w->queue_limit_per_caller))
		return "queue_limit_per_caller (one number, or high:normal:low; 0: a quarter of "
		       "the class)";
	for (int c = 0; c < 3; c++) {
		if ((v = cam_payload_get(p, class_keys[0][c])) &&
		    !one(v, &w->weights[c]))
			return class_keys[0][c];
		if ((v = cam_payload_get(p, class_keys[1][c])) &&
		    !one(v, &w->queue_limit[c]))
			return class_keys[1][c];
		if ((v = cam_payload_get(p, class_keys[2][c])) &&
		    !one(v, &w->queue_limit_per_caller[c]))
			return class_keys[2][c];
	}
	if ((v = cam_payload_get(p, "workers")) && !one(v, &w->workers))
		return "workers";
	if ((v = cam_payload_get(p, "stall_ms")) && !one(v, &w->stall_ms))
		return "stall_ms";
	return NULL;
}

static void add_settings(struct cam_result *r, const struct cam_sched_settings *st)
{
	cam_result_addf(r, "weights", "%u:%u:%u", st->weights[0], st->weights[1],
			st->weights[2]);
	cam_result_addf(r, "queue_limit", "%u:%u:%u", st->queue_limit[0],
			st->queue_limit[1], st->queue_limit[2]);
	/* What is in force: a 0 setting stands for a quarter of the class. */
	cam_result_addf(r, "queue_limit_per_caller", "%u:%u:%u", cam_sched_caller_limit(st, 0),
			cam_sched_caller_limit(st, 1), cam_sched_caller_limit(st, 2));
	cam_result_addf(r, "workers", "%u", st->workers);
	cam_result_addf(r, "stall_ms", "%u", st->stall_ms);
}

/*
 * Admin only: tune_system's row asks for the "admin" scope, which the
 * dispatcher checks against the caller before any handler runs
 * (dispatch.c, authorize), so nothing here repeats it.
 */
static int tune_system(void *ctx, struct cam_syscall *sc)
{
	cam_sched_verbs *v = ctx;
	struct cam_sched_settings cur, want;
	const char *bad, *why = NULL;
	cam_sched *s = v->o.sched;
	bool changed;

	cam_sched_get_settings(s, &cur);
	want = cur;
	if ((bad = read_wanted(sc->payload, &want)))
		return cam_syscall_fail(sc, CAM_EINVAL,
					"%s is not a valid value; nothing changed", bad);
	if (want.workers < CAM_SCHED_WORKERS_MIN)
		why = "workers must be 1-256";
	else
		why = cam_sched_settings_check(&want);
	if (why)
		return cam_syscall_fail(sc, CAM_EINVAL, "%s; nothing changed",
					why);
	changed = memcmp(&want, &cur, sizeof(want)) != 0;
	if (changed && cam_sched_tune(s, &want, &why))
		return cam_syscall_fail(sc, CAM_EUNAVAIL, "%s", why ? why : "tune failed");
	cam_sched_get_settings(s, &cur);
	add_settings(&sc->result, &cur);
	cam_result_add(&sc->result, "changed", changed ? "true" : "false");
	return 0;
}

/* "Scheduler": degraded above 80 % queue fill, unhealthy when work is
 * queued and nothing was dequeued for the stall time. */
static enum cam_component_status probe(void *arg, char *msg, size_t msglen)
{
	switch (cam_sched_health(arg, msg, msglen)) {
	case CAM_SCHED_OK:
		return CAM_COMPONENT_HEALTHY;
	case CAM_SCHED_DEGRADED:
		return CAM_COMPONENT_DEGRADED;
	default:
		return CAM_COMPONENT_UNHEALTHY;
	}
}

static const char *const K_THINK[] = { "task", "urgency", "importance", "efficiency", "energy",
				       "trust", NULL };
static const char *const K_EXPLAIN[] = { "request_id", "trace_id", NULL };
static const char *const K_TUNE[] = { "weights", "weight_high", "weight_normal", "weight_low",
				      "queue_limit", "queue_limit_high", "queue_limit_normal",
				      "queue_limit_low", "queue_limit_per_caller",
				      "queue_limit_per_caller_high", "queue_limit_per_caller_normal",
				      "queue_limit_per_caller_low", "workers", "stall_ms", NULL };

static const struct cam_verb rows[] = {
	{ .name = "think", .fn = think, .keys = K_THINK, .scope = CAM_SCOPE_READ },
	{ .name = "explain_action", .fn = explain_action, .keys = K_EXPLAIN,
	  .scope = CAM_SCOPE_READ },
	/* Starting and retiring workers waits on threads. */
	{ .name = "tune_system", .fn = tune_system, .keys = K_TUNE, .scope = CAM_SCOPE_ADMIN,
	  .may_block = true },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

int cam_sched_verbs_new(const struct cam_sched_verbs_opts *o, cam_sched_verbs **out)
{
	cam_sched_verbs *v;
	int rc;

	if (!o->sched)
		return CAM_EINVAL;
	v = cam_xcalloc(1, sizeof(*v));
	v->o = *o;
	if ((rc = cam_verbs_add(o->verbs, "scheduler", rows, NROWS, v)))
		goto out_free;
	if (o->components && (rc = cam_components_set(o->components, "Scheduler", probe, o->sched)))
		goto out_remove_rows;
	*out = v;
	return 0;
out_remove_rows:
	cam_verbs_remove(o->verbs, rows, NROWS);
out_free:
	free(v);
	return rc;
}

void cam_sched_verbs_free(cam_sched_verbs *v)
{
	if (!v)
		return;
	cam_components_clear(v->o.components, "Scheduler");
	cam_verbs_remove(v->o.verbs, rows, NROWS);
	free(v);
}
