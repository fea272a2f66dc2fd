/*
 * The scheduler's verbs: think (the 5-D score of a task, think.h),
 * explain_action (why a recent call was scheduled as it was) and
 * tune_system (weights, queue limits, workers and stall time at run time).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernel/grpc/server.h"
#include "kernel/scheduler/scheduler.h"
#include "kernel/scheduler/think.h"
#include "kernel/syscall/service.h"
#include "common/grpc_status.h"
#include "kernel/syscall/syscall.h"

static cam_sched *scheduler(struct cam_syscall *sc, int *status)
{
	cam_sched *s = cam_syscall_env()->scheduler;

	if (!s)
		*status = cam_syscall_fail(sc, CAM_GRPC_UNAVAILABLE,
					   "the priority scheduler is not running");
	return s;
}

int cam_verb_think(struct cam_syscall *sc)
{
	double f[CAM_THINK_NFACTORS];
	struct cam_think th;
	char err[128], defaulted[64] = "";
	int n = cam_think_from_payload(sc->payload, f, err, sizeof(err));

	if (n < 0)
		return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT, "%s", err);
	if (n == 0)
		return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT,
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

int cam_verb_explain_action(struct cam_syscall *sc)
{
	const char *rid = cam_payload_get(sc->payload, "request_id");
	const char *tid = cam_payload_get(sc->payload, "trace_id");
	struct cam_sched_decision d;
	const struct cam_grpc_sched *x = &d.sched;
	char reason[384];
	int status = 0;
	cam_sched *s = scheduler(sc, &status);

	if (!s)
		return status;
	if (!rid && !tid)
		return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT,
					"explain_action needs request_id (from a SyscallResponse) or trace_id");
	if (cam_sched_explain(s, rid, rid ? NULL : tid, &d))
		return cam_syscall_fail(sc, CAM_GRPC_NOT_FOUND,
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

static const char *const class_keys[2][3] = {
	{ "weight_high", "weight_normal", "weight_low" },
	{ "queue_limit_high", "queue_limit_normal", "queue_limit_low" },
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
	for (int c = 0; c < 3; c++) {
		if ((v = cam_payload_get(p, class_keys[0][c])) &&
		    !one(v, &w->weights[c]))
			return class_keys[0][c];
		if ((v = cam_payload_get(p, class_keys[1][c])) &&
		    !one(v, &w->queue_limit[c]))
			return class_keys[1][c];
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
	cam_result_addf(r, "workers", "%u", st->workers);
	cam_result_addf(r, "stall_ms", "%u", st->stall_ms);
}

/*
 * Admin only: tune_system's row in the verb table asks for the "admin"
 * scope, which dispatch checks against the caller before any handler runs
 * (kernel/security/admit.h), so nothing here repeats it.
 */
int cam_verb_tune_system(struct cam_syscall *sc)
{
	struct cam_sched_settings cur, want;
	const char *bad, *why = NULL;
	int status = 0;
	bool changed;
	cam_sched *s;

	if (!(s = scheduler(sc, &status)))
		return status;
	cam_sched_get_settings(s, &cur);
	want = cur;
	if ((bad = read_wanted(sc->payload, &want)))
		return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT,
					"%s is not a valid value; nothing changed", bad);
	if (want.workers < CAM_SCHED_WORKERS_MIN)
		why = "workers must be 1-256";
	else
		why = cam_sched_settings_check(&want);
	if (why)
		return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT, "%s; nothing changed",
					why);
	changed = memcmp(&want, &cur, sizeof(want)) != 0;
	if (changed && cam_sched_tune(s, &want, &why))
		return cam_syscall_fail(sc, CAM_GRPC_UNAVAILABLE, "%s", why ? why : "tune failed");
	cam_sched_get_settings(s, &cur);
	add_settings(&sc->result, &cur);
	cam_result_add(&sc->result, "changed", changed ? "true" : "false");
	return 0;
}
