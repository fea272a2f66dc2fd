/*
 * cam.SyscallService/Execute: from the wire to a verb handler and back.
 *
 * Runs on a transport worker thread; a verb that waits on something slow
 * (a driver) defers the call and completes it later from its own thread,
 * so no worker is held meanwhile. Every call, good or bad, is counted
 * in cam_os_syscall_total{verb} and timed in
 * cam_os_syscall_duration_seconds{verb}; failures also count in
 * cam_os_syscall_errors_total{verb,code}. A verb outside the table counts
 * as verb="unknown", so the label set stays bounded. One access-log line
 * per call goes through the async logger.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/service.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "kernel/grpc/pool.h"
#include "kernel/grpc/server.h"
#include "kernel/scheduler/scheduler.h"
#include "kernel/scheduler/think.h"
#include "kernel/security/admit.h"
#include "common/grpc_status.h"
#include "kernel/syscall/syscall.h"
#include "kernel/syscall/trace_id.h"
#include "kernel/tracing/syscall_trace.h"
#include "proto/cam.pb-c.h"

#define MAX_VERBS 64

static struct {
	struct cam_syscall_env env;
	size_t nverbs;
	/* Index nverbs is "unknown". Resolved once at registration. */
	cam_series *total[MAX_VERBS + 1];
	cam_series *duration[MAX_VERBS + 1];
	_Atomic uint64_t next_request;
} d;

const struct cam_syscall_env *cam_syscall_env(void)
{
	return &d.env;
}

/* Whether every payload key is one the verb accepts; names the first
 * one it does not in sc->error. The scheduling factors (think.h) are
 * accepted by every verb: a request may carry them instead of a priority. */
static int check_keys(struct cam_syscall *sc)
{
	const char *const *keys = sc->verb->keys;

	if (!keys)
		return 0;
	for (size_t i = 0; i < sc->payload->n; i++) {
		const char *k = sc->payload->pairs[i].key;
		size_t j = 0;

		if (cam_think_factor_index(k, strlen(k)) >= 0)
			continue;
		while (keys[j] && strcmp(keys[j], k) != 0)
			j++;
		if (!keys[j])
			return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT,
						"verb %s does not take payload key '%s'",
						sc->verb->name, k);
	}
	return 0;
}

/* The trace id of a W3C traceparent "00-<32 hex>-<16 hex>-<2 hex>". */
static void trace_from_metadata(struct cam_syscall *sc, struct cam_grpc_call *call)
{
	const char *tp = cam_grpc_call_metadata(call, "traceparent");

	if (tp && strlen(tp) >= 55 && tp[2] == '-' && tp[35] == '-' &&
	    cam_trace_id_is_w3c(tp + 3, 32)) {
		memcpy(sc->trace_id, tp + 3, 32);
		sc->trace_id[32] = '\0';
	}
}

/* Parses, checks and runs a decoded request; returns the status. */
static int run(struct cam_syscall *sc, const Cam__SyscallRequest *req,
	       struct cam_payload *payload, struct cam_grpc_call *call)
{
	double factors[CAM_THINK_NFACTORS];
	char err[200];
	int status;

	/* Who calls comes first: nobody learns more without credentials. */
	status = cam_security_admit(sc, cam_grpc_call_metadata(call, "authorization"),
				    req->caller_id);
	if (status)
		return status;
	if (!sc->verb)
		return cam_syscall_fail(sc, CAM_GRPC_UNIMPLEMENTED, "unknown verb '%.64s'",
					req->verb);
	status = cam_security_authorize(sc);
	if (status)
		return status;
	if (req->priority_opt_case == CAM__SYSCALL_REQUEST__PRIORITY_OPT_PRIORITY) {
		if (req->priority > 9)
			return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT,
						"priority %u is out of range 0-9",
						req->priority);
		sc->priority = req->priority;
	}
	if (cam_payload_parse(req->payload, strlen(req->payload), payload, err,
			      sizeof(err)))
		return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT, "%s", err);
	sc->payload = payload;
	status = check_keys(sc);
	if (status)
		return status;
	if (cam_think_from_payload(payload, factors, err, sizeof(err)) < 0)
		return cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT, "%s", err);
	if (!sc->verb->fn)
		return cam_syscall_fail(sc, CAM_GRPC_UNIMPLEMENTED,
					"verb %s belongs to the %s subsystem, which this build does not have yet",
					sc->verb->name, sc->verb->subsystem);
	if (sc->deadline_ns && cam_mono_ns() >= sc->deadline_ns)
		return cam_syscall_fail(sc, CAM_GRPC_DEADLINE_EXCEEDED,
					"deadline passed before the syscall ran");
	trace_from_metadata(sc, call);
	return sc->verb->fn(sc);
}

/* Counts the call; its duration is observed by cam_syscall_trace_done,
 * which can attach the trace id as an exemplar. */
static void count(const char *verb_label, size_t idx, int status)
{
	cam_counter_inc(d.total[idx]);
	if (status != CAM_GRPC_OK)
		cam_counter_inc(cam_series_get(d.env.metrics->syscall_errors,
					       (const char *[]){ verb_label,
								 cam_grpc_status_name(status) }));
}

static void access_log(const struct cam_syscall *sc, const char *verb_label,
		       const char *request_id, int status, double seconds)
{
	struct cam_log_line l;
	enum cam_log_level level = status == CAM_GRPC_OK ? CAM_LOG_INFO : CAM_LOG_WARN;

	if (d.env.access_log == CAM_ACCESS_LOG_NONE ||
	    (d.env.access_log == CAM_ACCESS_LOG_ERRORS && status == CAM_GRPC_OK))
		return;
	if (!cam_log_begin(&l, level, "syscall_dispatcher", NULL))
		return;
	cam_log_str(&l, "syscall", verb_label);
	cam_log_str(&l, "caller_id", sc->caller_id);
	cam_log_num(&l, "latency_ms", seconds * 1e3);
	cam_log_bool(&l, "success", status == CAM_GRPC_OK);
	cam_log_str(&l, "code", cam_grpc_status_name(status));
	cam_log_str(&l, "request_id", request_id);
	if (sc->trace_id[0])
		cam_log_str(&l, "trace_id", sc->trace_id);
	if (status != CAM_GRPC_OK)
		cam_log_str(&l, "error", sc->error);
	cam_log_end(&l);
}

/* Keeps how the call was scheduled for explain_action. */
static void record(const struct cam_syscall *sc, struct cam_grpc_call *call,
		   const char *verb_label, const char *request_id, int status)
{
	struct cam_sched_decision dec;

	if (!d.env.scheduler)
		return;
	snprintf(dec.request_id, sizeof(dec.request_id), "%s", request_id);
	memcpy(dec.trace_id, sc->trace_id, sizeof(dec.trace_id));
	snprintf(dec.verb, sizeof(dec.verb), "%s", verb_label);
	dec.sched = cam_grpc_call_task(call)->sched;
	dec.sched.reject = NULL;
	dec.status = status;
	cam_sched_record(d.env.scheduler, &dec);
}

static void reply(struct cam_grpc_call *call, const struct cam_syscall *sc,
		  const char *request_id)
{
	Cam__SyscallResponse resp = CAM__SYSCALL_RESPONSE__INIT;
	uint8_t stackbuf[1024], *buf = stackbuf;
	size_t n;

	resp.success = 1;
	resp.result = (char *)cam_result_str(&sc->result);
	resp.request_id = (char *)request_id;
	resp.status_code = "OK";
	resp.data.data = sc->out_data;
	resp.data.len = sc->out_len;
	n = cam__syscall_response__get_packed_size(&resp);
	if (n > sizeof(stackbuf) && !(buf = malloc(n))) {
		cam_grpc_call_fail(call, CAM_GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	cam__syscall_response__pack(&resp, buf);
	cam_grpc_call_reply(call, buf, n);
	if (buf != stackbuf)
		free(buf);
}

/* One Execute call, from decoding to the reply. On the heap because a
 * verb may finish it later from another thread (CAM_SYSCALL_DEFERRED). */
struct exec {
	struct cam_syscall sc; /* first: cam_syscall_complete gets back here */
	struct cam_payload payload;
	Cam__SyscallRequest *req;
	struct cam_grpc_call *call;
	int64_t t0;
	const char *verb_label;
	size_t idx;
	char request_id[40];
};

/* Counts, times, traces and logs the call. */
static void account(struct exec *x, int status)
{
	struct cam_syscall *sc = &x->sc;
	double seconds = (double)(cam_mono_ns() - x->t0) / 1e9;

	count(x->verb_label, x->idx, status);
	cam_syscall_trace_done(sc, x->call, &(struct cam_syscall_done){
		x->verb_label, x->request_id, status, x->t0, seconds, d.duration[x->idx] });
	access_log(sc, x->verb_label, x->request_id, status, seconds);
	record(sc, x->call, x->verb_label, x->request_id, status);
}

static void release(struct exec *x)
{
	cam_result_free(&x->sc.result);
	free(x->sc.out_data);
	cam_payload_free(&x->payload);
	if (x->req)
		cam__syscall_request__free_unpacked(x->req, NULL);
	free(x);
}

/* Accounts for the call, answers it, frees it. */
static void finish(struct exec *x, int status)
{
	account(x, status);
	if (status == CAM_GRPC_OK)
		reply(x->call, &x->sc, x->request_id);
	else
		cam_grpc_call_fail(x->call, status, x->sc.error);
	release(x);
}

void cam_syscall_complete(struct cam_syscall *sc, int status)
{
	finish((struct exec *)sc, status);
}

bool cam_syscall_cancelled(const struct cam_syscall *sc)
{
	return cam_grpc_call_cancelled(((const struct exec *)sc)->call);
}

/*
 * A call's state from its request: a request id, and the verb and caller
 * when the message decodes (x->req is NULL when it does not). t0 is when
 * the call is timed from.
 */
static struct exec *exec_new(struct cam_grpc_call *call, int64_t t0)
{
	struct exec *x = cam_xcalloc(1, sizeof(*x));
	const uint8_t *msg;
	size_t len;

	x->t0 = t0;
	x->call = call;
	x->verb_label = "unknown";
	x->idx = d.nverbs;
	x->sc.caller_id = "anonymous";
	x->sc.priority = cam_grpc_call_task(call)->sched.priority;
	snprintf(x->request_id, sizeof(x->request_id), "%.8s-%llu", d.env.instance_id,
		 (unsigned long long)atomic_fetch_add(&d.next_request, 1) + 1);
	msg = cam_grpc_call_message(call, &len);
	x->req = cam__syscall_request__unpack(NULL, len, msg);
	if (x->req) {
		x->sc.verb = cam_verb_find(x->req->verb);
		if (x->sc.verb) {
			x->verb_label = x->sc.verb->name;
			x->idx = x->sc.verb->index;
		}
		if (x->req->caller_id[0])
			x->sc.caller_id = x->req->caller_id;
	}
	return x;
}

static void execute(void *arg, struct cam_grpc_call *call)
{
	struct exec *x = exec_new(call, cam_mono_ns());
	struct cam_syscall *sc = &x->sc;
	int status;

	(void)arg;
	sc->deadline_ns = cam_grpc_call_deadline_ns(call);
	if (!x->req) {
		status = cam_syscall_fail(sc, CAM_GRPC_INVALID_ARGUMENT,
					  "request is not a cam.SyscallRequest");
	} else {
		sc->data = x->req->data.data;
		sc->data_len = x->req->data.len;
		status = run(sc, x->req, &x->payload, call);
	}
	/* Deferred: the verb owns x now and completes it; touch nothing. */
	if (status != CAM_SYSCALL_DEFERRED)
		finish(x, status);
}

/*
 * A call the transport answers without running execute (scheduler queue
 * full, deadline passed in the queue, cancelled while queued) is still a
 * syscall: counted, timed from its queueing, traced and logged here.
 */
static void refused(void *arg, struct cam_grpc_call *call, int status, const char *why)
{
	int64_t queued = cam_grpc_call_task(call)->sched.enqueued_ns;
	struct exec *x = exec_new(call, queued ? queued : cam_mono_ns());

	(void)arg;
	snprintf(x->sc.error, sizeof(x->sc.error), "%s", why);
	account(x, status);
	release(x);
}

int cam_syscall_service_register(cam_grpc_server *s, const struct cam_syscall_env *env)
{
	const struct cam_verb *verbs = cam_verbs(&d.nverbs);
	int rc;

	if (d.nverbs > MAX_VERBS)
		return -1;
	d.env = *env;
	for (size_t i = 0; i <= d.nverbs; i++) {
		const char *name = i < d.nverbs ? verbs[i].name : "unknown";
		d.total[i] = cam_series_get(env->metrics->syscall_total, (const char *[]){ name });
		d.duration[i] =
			cam_series_get(env->metrics->syscall_duration, (const char *[]){ name });
	}
	rc = cam_grpc_server_add_method(s, "/cam.SyscallService/Execute", execute, NULL);
	if (rc)
		return rc;
	rc = cam_grpc_server_set_refusal_hook(s, "/cam.SyscallService/Execute", refused, NULL);
	if (rc)
		return rc;
	/* The scheduler queues by priority: read it on the I/O thread. */
	if (env->scheduler &&
	    (rc = cam_grpc_server_set_classifier(s, "/cam.SyscallService/Execute",
						 cam_sched_classify_request, NULL)))
		return rc;
	return cam_health_check_register(s);
}
