/*
 * What the verb layer's unit tests share: the kernel's syscall layer put
 * together as kernel/main.c does (auth, the verb registry, HealthCheck's
 * components, the span ring, the dispatcher), without a gRPC server. A
 * test adds the verbs it tests, calls h_ready, and sends requests through
 * the real dispatcher with h_call: the call's answer comes back through
 * the dispatcher's transport interface (dispatch.h), recorded here, so a
 * test sees exactly what a client would get and how many times.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_TESTS_VERB_HARNESS_H
#define CAM_TESTS_VERB_HARNESS_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/grpc_status.h"
#include "common/metrics.h"
#include "kernel/security/auth.h"
#include "kernel/syscall/components.h"
#include "kernel/syscall/dispatch.h"
#include "kernel/syscall/verbs.h"
#include "kernel/tracing/span_ring.h"

/* What came back for one call. */
struct answer {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int answers;        /* times the transport was asked to answer */
	int releases;       /* times the call was released */
	int status;         /* gRPC status of the (last) answer */
	char error[256];
	char result[8192];
	uint8_t data[4096];
	size_t data_len;
	char request_id[40];
	pthread_t thread;   /* the thread that answered */
	atomic_bool cancelled; /* what the call says when asked */
};

/* One request, as the gRPC transport would decode it. */
struct req {
	const char *verb;
	const char *payload;
	const char *caller_id;
	const char *authorization;
	const char *traceparent;
	const void *data;
	size_t data_len;
	bool has_priority;
	uint32_t priority;
	int64_t deadline_ns;
	bool undecodable;       /* the message was not a SyscallRequest */
	struct cam_grpc_sched *sched;
};

struct h_call {
	struct cam_dispatch_call dc; /* first */
	struct answer *a;
	struct cam_grpc_sched sched;
};

static inline void h_answer(struct cam_dispatch_call *dc, int status)
{
	struct answer *a = ((struct h_call *)dc)->a;

	pthread_mutex_lock(&a->lock);
	a->answers++;
	a->status = status;
	a->thread = pthread_self();
	snprintf(a->error, sizeof(a->error), "%s", status ? dc->sc.error : "");
	snprintf(a->result, sizeof(a->result), "%s", status ? "" : cam_result_str(&dc->sc.result));
	snprintf(a->request_id, sizeof(a->request_id), "%s", dc->request_id);
	a->data_len = 0;
	if (status == 0 && dc->sc.out_len && dc->sc.out_len <= sizeof(a->data)) {
		memcpy(a->data, dc->sc.out_data, dc->sc.out_len);
		a->data_len = dc->sc.out_len;
	}
	pthread_mutex_unlock(&a->lock);
}

static inline void h_release(struct cam_dispatch_call *dc)
{
	struct answer *a = ((struct h_call *)dc)->a;

	free(dc);
	pthread_mutex_lock(&a->lock);
	a->releases++;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

static inline bool h_cancelled(const struct cam_dispatch_call *dc)
{
	return atomic_load(&((const struct h_call *)dc)->a->cancelled);
}

static const struct cam_dispatch_call_ops h_ops = { h_answer, h_release, h_cancelled };

struct harness {
	cam_auth *auth;
	cam_verbs *verbs;
	cam_components *components;
	cam_span_ring *spans;
	cam_sched *sched;      /* a test may set one before h_ready */
	cam_dispatch *dispatch;
};

/* Everything but the dispatcher; tokens_file NULL: anonymous callers. */
static inline void h_begin(struct harness *h, const char *tokens_file)
{
	char why[256] = "";

	memset(h, 0, sizeof(*h));
	cam_metrics_reset();
	if (cam_auth_new(&(struct cam_auth_opts){ .tokens_file = tokens_file }, &h->auth, why,
			 sizeof(why)))
		fail_msg("auth: %s", why);
	assert_int_equal(cam_verbs_new(&h->verbs), 0);
	assert_int_equal(cam_components_new(&h->components), 0);
	assert_int_equal(cam_span_ring_new(64, &h->spans), 0);
}

/* The dispatcher, once the test's verbs are added. */
static inline void h_ready(struct harness *h)
{
	struct cam_dispatch_opts o = {
		.verbs = h->verbs,
		.auth = h->auth,
		.sched = h->sched,
		.spans = h->spans,
		.instance_id = "abcdef0123456789",
		.access_log = CAM_ACCESS_LOG_NONE,
	};

	assert_int_equal(cam_dispatch_new(&o, &h->dispatch), 0);
}

static inline void h_end(struct harness *h)
{
	cam_dispatch_free(h->dispatch);
	cam_span_ring_free(h->spans);
	cam_components_free(h->components);
	cam_verbs_free(h->verbs);
	cam_auth_free(h->auth);
	cam_metrics_reset();
}

static inline struct h_call *h_call_new(struct answer *a, const struct req *r)
{
	struct h_call *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->a = a;
	c->dc.ops = &h_ops;
	c->dc.decoded = !r->undecodable;
	c->dc.verb = r->verb ? r->verb : "";
	c->dc.payload = r->payload ? r->payload : "";
	c->dc.caller_id = r->caller_id ? r->caller_id : "";
	c->dc.authorization = r->authorization;
	c->dc.traceparent = r->traceparent;
	c->dc.has_priority = r->has_priority;
	c->dc.priority = r->priority;
	c->dc.sc.data = r->data;
	c->dc.sc.data_len = r->data_len;
	c->dc.sc.deadline_ns = r->deadline_ns;
	c->sched = r->sched ? *r->sched : (struct cam_grpc_sched){ .priority = 5 };
	c->dc.sched = &c->sched;
	return c;
}

static inline void answer_init(struct answer *a)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
}

/* Waits (at most 10 s) until the call was released; false if it was not. */
static inline bool h_wait(struct answer *a)
{
	int64_t until = cam_mono_ns() + 10 * 1000000000LL;
	bool done;

	pthread_mutex_lock(&a->lock);
	while (!a->releases && cam_mono_ns() < until) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&a->cond, &a->lock, &ts);
	}
	done = a->releases > 0;
	pthread_mutex_unlock(&a->lock);
	return done;
}

/* Runs one request through the dispatcher and waits for its answer (a
 * deferred verb answers from another thread). Fails the test unless it was
 * answered exactly once and released once. */
static inline void h_call(struct harness *h, const struct req *r, struct answer *a)
{
	answer_init(a);
	cam_dispatch_run(h->dispatch, &h_call_new(a, r)->dc);
	if (!h_wait(a))
		fail_msg("%s was not answered within 10 s", r->verb ? r->verb : "(no verb)");
	pthread_mutex_lock(&a->lock);
	if (a->answers != 1 || a->releases != 1)
		fail_msg("%s: answered %d times, released %d times", r->verb ? r->verb : "(none)",
			 a->answers, a->releases);
	pthread_mutex_unlock(&a->lock);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
}

/* The common case: verb and payload, anonymous. Returns the answer. */
static inline struct answer *h_ex(struct harness *h, const char *verb, const char *payload)
{
	static struct answer a;

	h_call(h, &(struct req){ .verb = verb, .payload = payload }, &a);
	return &a;
}

/* Fails unless the answer is status and its result (OK) or error (not OK)
 * holds text. */
#define assert_answer(a, st, text)                                                         \
	do {                                                                               \
		const struct answer *a_ = (a);                                             \
		const char *t_ = (text);                                                   \
		if (a_->status != (st))                                                    \
			fail_msg("status %s, not %s (%s%s)", cam_grpc_status_name(a_->status),  \
				 cam_grpc_status_name(st), a_->error, a_->result);         \
		if (t_ && !strstr(a_->status ? a_->error : a_->result, t_))                \
			fail_msg("'%s' does not say '%s'", a_->status ? a_->error : a_->result, \
				 t_);                                                      \
	} while (0)

/* The value of the series of family with these label values (NULL-ended;
 * NULL: the series without labels); -1 when there is none. */
struct h_probe {
	const char *family;
	const char *const *labels;
	double value;
};

static inline void h_on_series(void *arg, const struct cam_family_info *info,
			const struct cam_series_value *v)
{
	struct h_probe *p = arg;
	size_t n = 0;

	if (strcmp(info->name, p->family) != 0)
		return;
	while (p->labels && p->labels[n])
		n++;
	if (n != info->nlabels)
		return;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v->label_values[i], p->labels[i]) != 0)
			return;
	p->value = info->type == CAM_HISTOGRAM ? (double)v->count : v->value;
}

static inline double h_metric(const char *family, const char *const *labels)
{
	struct h_probe p = { family, labels, -1 };
	struct cam_metrics_visitor vis = { NULL, h_on_series, &p };

	cam_metrics_collect(&vis);
	return p.value;
}

/* The value of key in a payload-grammar result, or NULL (static buffer). */
static inline const char *h_field(const char *result, const char *key)
{
	static char out[4096];
	struct cam_payload p;
	char err[128];
	const char *v;

	if (cam_payload_parse(result, strlen(result), &p, err, sizeof(err)))
		return NULL;
	v = cam_payload_get(&p, key);
	if (v)
		snprintf(out, sizeof(out), "%s", v);
	cam_payload_free(&p);
	return v ? out : NULL;
}

#endif
