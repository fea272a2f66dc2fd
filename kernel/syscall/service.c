/*
 * cam.SyscallService on the gRPC server (service.h).
 *
 * Execute runs on a worker thread (the scheduler's): it decodes the
 * SyscallRequest into a dispatch call (struct exec, on the heap because a
 * verb may finish it later from another thread) and runs it; the
 * dispatcher answers through exec_ops. A call the transport refuses
 * before a worker runs it (queue full, expired, cancelled) reaches
 * refused(), so it is still counted and logged as a syscall.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/service.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/tcache.h"
#include "common/utf8.h"
#include "common/version.h"
#include "common/xmalloc.h"
#include "kernel/grpc/pool.h"
#include "kernel/scheduler/scheduler.h"
#include "kernel/syscall/wire_strings.h"
#include "proto/cam.pb-c.h"

#define EXECUTE "/cam.SyscallService/Execute"
#define HEALTH_CHECK "/cam.SyscallService/HealthCheck"

struct cam_syscall_service {
	struct cam_syscall_service_opts o;
	char instance_id[64];
	_Atomic bool draining; /* SIGTERM: HealthCheck says NOT_SERVING */
};

/* ---- Execute ---------------------------------------------------------- */

struct exec {
	struct cam_dispatch_call dc; /* first: the dispatcher gets back here; its
				      * parsed payload last (exec_new) */
	Cam__SyscallRequest *req;
	struct cam_grpc_call *call;
	struct cam_peer_cert cert;   /* the connection's client certificate, if any */
	/* The unpacked request lives here when it fits (protobuf-c's
	 * allocator below), so a call allocates nothing for it. */
	size_t arena_used;
	bool heap_used;              /* something did not fit the arena */
	_Alignas(16) uint8_t arena[512];
};

_Static_assert(offsetof(struct cam_dispatch_call, parsed) + sizeof(struct cam_payload) ==
		       sizeof(struct cam_dispatch_call),
	       "exec_new zeroes the call up to its payload's pairs: parsed stays last");

/* The classifier's note (cam_grpc_sched.note): the string fields were
 * checked; the low bits are the bad one's number (0: none). */
#define NOTE_STRINGS_CHECKED 0x100u

/* The call's client certificate into cert: cert, or NULL without one. */
static const struct cam_peer_cert *peer_cert(const struct cam_grpc_call *call,
					     struct cam_peer_cert *cert)
{
	const char *caller, *error;

	if (!cam_grpc_call_client_cert(call, &caller, &error))
		return NULL;
	cert->caller = caller[0] ? caller : NULL;
	cert->error = error[0] ? error : NULL;
	return cert;
}

static void *arena_alloc(void *data, size_t size)
{
	struct exec *x = data;
	size_t n = (size + 15) & ~(size_t)15;

	if (n >= size && x->arena_used + n <= sizeof(x->arena)) {
		void *p = x->arena + x->arena_used;

		x->arena_used += n;
		return p;
	}
	x->heap_used = true;
	return malloc(size);
}

static void arena_free(void *data, void *p)
{
	struct exec *x = data;

	if ((uint8_t *)p < x->arena || (uint8_t *)p >= x->arena + sizeof(x->arena))
		free(p);
}

static void pack_response(void *arg, uint8_t *out)
{
	cam__syscall_response__pack(arg, out);
}

static void reply(struct exec *x)
{
	Cam__SyscallResponse resp = CAM__SYSCALL_RESPONSE__INIT;
	size_t rlen;
	char *repaired = NULL;

	resp.success = 1;
	resp.result = (char *)cam_result_str(&x->dc.sc.result);
	/* A result is a proto3 string: valid UTF-8 whatever a verb (a
	 * driver's output, say) put in it. */
	if (!cam_utf8_valid(resp.result, &rlen) && (repaired = cam_utf8_repair(resp.result)))
		resp.result = repaired;
	resp.request_id = x->dc.request_id;
	resp.status_code = "OK";
	resp.data.data = x->dc.sc.out_data;
	resp.data.len = x->dc.sc.out_len;
	/* Packed straight into the call's output buffer: no copy. */
	cam_grpc_call_reply_packed(x->call, cam__syscall_response__get_packed_size(&resp),
				   pack_response, &resp);
	free(repaired);
}

static void exec_answer(struct cam_dispatch_call *dc, int grpc_status)
{
	struct exec *x = (struct exec *)dc;

	if (grpc_status == CAM_GRPC_OK) {
		reply(x);
	} else {
		cam_grpc_call_set_request_id(x->call, dc->request_id);
		cam_grpc_call_fail(x->call, grpc_status, dc->sc.error);
	}
}

static void exec_release(struct cam_dispatch_call *dc)
{
	struct exec *x = (struct exec *)dc;
	ProtobufCAllocator a = { arena_alloc, arena_free, x };

	/* All in the arena (most requests): it goes with x, nothing to walk. */
	if (x->req && x->heap_used)
		cam__syscall_request__free_unpacked(x->req, &a);
	cam_tcache_free(x);
}

static bool exec_cancelled(const struct cam_dispatch_call *dc)
{
	return cam_grpc_call_cancelled(((const struct exec *)dc)->call);
}

static const struct cam_dispatch_call_ops exec_ops = {
	.answer = exec_answer,
	.release = exec_release,
	.cancelled = exec_cancelled,
};

/* A call's request as the dispatcher wants it; dc.decoded is false when
 * the message is not a SyscallRequest. t0 is when it is timed from. */
static struct exec *exec_new(struct cam_grpc_call *call, int64_t t0)
{
	/* Made and freed once a call, on the I/O and worker threads: each
	 * thread keeps a few in its free lists for its next calls. */
	struct exec *x = cam_tcache_xalloc(sizeof(*x));
	struct cam_dispatch_call *dc = &x->dc;
	ProtobufCAllocator a = { arena_alloc, arena_free, x };
	const uint8_t *msg;
	size_t len;

	/* Zeroed up to the payload's pair table: the table, its strings and
	 * the arena need no zeroing (the fields after dc are set below). */
	memset(x, 0, offsetof(struct exec, dc.parsed.pairs));
	x->req = NULL;
	x->arena_used = 0;
	x->heap_used = false;
	x->call = call;
	dc->ops = &exec_ops;
	dc->t0 = t0;
	dc->sched = &cam_grpc_call_task(call)->sched;
	dc->sc.deadline_ns = cam_grpc_call_deadline_ns(call);
	static const uint32_t strings[] = { 1, 2, 3 }; /* verb, payload, caller_id */
	static const char *const names[] = { NULL, "verb", "payload", "caller_id" };

	msg = cam_grpc_call_message(call, &len);
	x->req = cam__syscall_request__unpack(&a, len, msg);
	if (!x->req)
		return x;
	dc->decoded = true;
	if (dc->sched && (dc->sched->note & NOTE_STRINGS_CHECKED))
		dc->bad_string = names[dc->sched->note & 3];
	else
		dc->bad_string = names[cam_wire_bad_string(msg, len, strings, 3)];
	dc->verb = x->req->verb;
	dc->payload = x->req->payload;
	dc->caller_id = x->req->caller_id;
	dc->has_priority = x->req->priority_opt_case == CAM__SYSCALL_REQUEST__PRIORITY_OPT_PRIORITY;
	dc->priority = x->req->priority;
	dc->authorization = cam_grpc_call_metadata(call, "authorization");
	dc->traceparent = cam_grpc_call_metadata(call, "traceparent");
	dc->cert = peer_cert(call, &x->cert);
	dc->peer = cam_grpc_call_peer(call);
	dc->sc.data = x->req->data.data;
	dc->sc.data_len = x->req->data.len;
	return x;
}

static void execute(void *arg, struct cam_grpc_call *call)
{
	cam_syscall_service *s = arg;

	cam_dispatch_run(s->o.dispatch, &exec_new(call, cam_mono_ns())->dc);
}

static void refused(void *arg, struct cam_grpc_call *call, int status, const char *why)
{
	cam_syscall_service *s = arg;
	int64_t queued = cam_grpc_call_task(call)->sched.enqueued_ns;

	cam_dispatch_refused(s->o.dispatch, &exec_new(call, queued ? queued : cam_mono_ns())->dc,
			     status, why);
}

/* Execute's admission check (on the I/O thread, at HEADERS): one
 * authorization header at most, and where credentials are required a
 * valid token or client certificate. */
static int admit_headers(void *arg, const struct cam_grpc_call *call, char *why, size_t len)
{
	cam_syscall_service *s = arg;
	struct cam_peer_cert cert;
	int rc = cam_auth_check_credentials_peer(s->o.auth,
						 cam_grpc_call_metadata(call, "authorization"),
						 cam_grpc_call_metadata_count(call, "authorization"),
						 peer_cert(call, &cert), why, len);

	return rc ? cam_err_grpc_status(rc) : CAM_GRPC_OK;
}

/* ---- HealthCheck ------------------------------------------------------ */

static void reply_health(cam_syscall_service *s, struct cam_grpc_call *call, bool detailed)
{
	Cam__HealthCheckResponse resp = CAM__HEALTH_CHECK_RESPONSE__INIT;
	Cam__ComponentHealth comp[CAM_COMPONENTS_N], *compp[CAM_COMPONENTS_N];
	char msgs[CAM_COMPONENTS_N][256];
	struct timespec ts;
	uint8_t *buf;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	resp.status = atomic_load(&s->draining) ? "NOT_SERVING" : "SERVING";
	resp.version = CAM_VERSION;
	resp.uptime_seconds = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - s->o.start_time;
	resp.instance_id = s->instance_id;
	if (detailed) {
		for (size_t i = 0; i < CAM_COMPONENTS_N; i++) {
			double ms;
			enum cam_component_status st = cam_components_probe(
				s->o.components, i, msgs[i], sizeof(msgs[i]), &ms);

			cam__component_health__init(&comp[i]);
			comp[i].name = (char *)cam_components_name(i);
			comp[i].status = (char *)cam_component_status_name(st);
			comp[i].message = msgs[i];
			comp[i].latency_ms = ms;
			compp[i] = &comp[i];
		}
		resp.n_components = CAM_COMPONENTS_N;
		resp.components = compp;
	}
	n = cam__health_check_response__get_packed_size(&resp);
	buf = malloc(n ? n : 1);
	if (!buf) {
		cam_grpc_call_fail(call, CAM_GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	cam__health_check_response__pack(&resp, buf);
	cam_grpc_call_reply(call, buf, n);
	free(buf);
}

static void health_check(void *arg, struct cam_grpc_call *call)
{
	Cam__HealthCheckRequest *req;
	const uint8_t *msg;
	size_t len;

	static const uint32_t strings[] = { 1 }; /* caller_id */

	msg = cam_grpc_call_message(call, &len);
	if (cam_wire_bad_string(msg, len, strings, 1)) {
		cam_grpc_call_fail(call, CAM_GRPC_INVALID_ARGUMENT,
				   "field caller_id is not valid UTF-8 text (a NUL byte or a bad sequence)");
		return;
	}
	req = cam__health_check_request__unpack(NULL, len, msg);
	if (!req) {
		cam_grpc_call_fail(call, CAM_GRPC_INVALID_ARGUMENT,
				   "request is not a cam.HealthCheckRequest");
		return;
	}
	reply_health(arg, call, req->detailed);
	cam__health_check_request__free_unpacked(req, NULL);
}

/* ---- registration ----------------------------------------------------- */

/* The server's shutdown hook: from the first moment of the drain on,
 * HealthCheck says NOT_SERVING, as grpc.health.v1 does. */
static void draining(void *arg)
{
	cam_syscall_service *s = arg;

	atomic_store(&s->draining, true);
}

/* Whether key is one of the payload's keys: at its start or after a
 * comma, followed by ':' (the payload grammar's own rule for a key). */
static bool payload_has_key(const uint8_t *p, size_t len, const char *key)
{
	size_t k = strlen(key);

	for (size_t i = 0; i + k < len; i++)
		if ((i == 0 || p[i - 1] == ',') && memcmp(p + i, key, k) == 0 && p[i + k] == ':')
			return true;
	return false;
}

/* Whether an Execute call's handler never blocks, from its registry row:
 * then it may run on the I/O thread. */
static bool never_blocks(const cam_verbs *verbs, const struct cam_wire_request *r)
{
	const struct cam_verb *row;
	char name[32];

	if (!verbs || !r->verb || r->verb_len == 0 || r->verb_len >= sizeof(name))
		return false;
	memcpy(name, r->verb, r->verb_len);
	name[r->verb_len] = '\0';
	if (!(row = cam_verbs_find(verbs, name)) || row->may_block)
		return false;
	return !row->blocks_with || !r->payload ||
	       !payload_has_key(r->payload, r->payload_len, row->blocks_with);
}

/*
 * Who calls, for the scheduler's fair share: what the call carries that
 * no other agent can claim, read on the I/O thread before the dispatcher
 * authenticates anything (the credentials were checked at HEADERS,
 * admit_headers). The client certificate's caller when the connection
 * has one, else the bearer token (a call claiming another's caller_id
 * with its own token is still keyed by its token), else the caller_id
 * anonymous callers name themselves with (r: NULL when the message does
 * not parse), else nothing: one key for all.
 */
static void key_caller(const struct cam_grpc_call *call, const struct cam_wire_request *r,
		       struct cam_grpc_sched *out)
{
	const char *token = cam_grpc_call_metadata(call, "authorization");
	const char *cert, *error;

	if (cam_grpc_call_client_cert(call, &cert, &error) && cert[0])
		cam_sched_set_caller(out, CAM_SCHED_BY_CERTIFICATE, cert, strlen(cert));
	else if (token)
		cam_sched_set_caller(out, CAM_SCHED_BY_TOKEN, token, strlen(token));
	else if (r && r->caller_id_len)
		cam_sched_set_caller(out, CAM_SCHED_BY_CALLER_ID, r->caller_id, r->caller_id_len);
}

/* Execute's classifier (I/O thread): one walk of the request's wire
 * bytes, allocating nothing, gives the scheduler's priority, its caller
 * and whether the call may run right there. Malformed: priority 5, to a
 * worker (which refuses it). */
static void classify_execute(void *arg, const struct cam_grpc_call *call, const uint8_t *msg,
			     size_t len, struct cam_grpc_sched *out)
{
	cam_syscall_service *s = arg;
	struct cam_wire_request r;
	bool parsed = cam_wire_request_peek(msg, len, &r);

	key_caller(call, parsed ? &r : NULL, out);
	if (!parsed)
		return;
	cam_sched_classify_fields(r.has_priority, r.priority, r.payload, r.payload_len, out);
	out->may_inline = !r.bad_string && never_blocks(s->o.verbs, &r);
	/* exec_new need not walk the strings again. */
	out->note = NOTE_STRINGS_CHECKED | r.bad_string;
}

/* The scheduler queues by priority: it is read on the I/O thread. Health
 * probes go first (grpc.health.v1's Check where it is served). */
static int prioritize(cam_syscall_service *s)
{
	static const char *const probes[] = { HEALTH_CHECK, "/grpc.health.v1.Health/Check" };
	cam_grpc_server *server = s->o.server;
	int rc = cam_grpc_server_set_classifier(server, EXECUTE, classify_execute, s);

	for (size_t i = 0; !rc && i < sizeof(probes) / sizeof(probes[0]); i++)
		if ((rc = cam_grpc_server_set_classifier(server, probes[i], cam_sched_classify_probe,
							 NULL)) == CAM_ENOENT)
			rc = 0;
	return rc;
}

int cam_syscall_service_new(const struct cam_syscall_service_opts *o,
			    cam_syscall_service **out)
{
	cam_syscall_service *s;
	int rc;

	if (!o->server || !o->dispatch || !o->components)
		return CAM_EINVAL;
	s = cam_xcalloc(1, sizeof(*s));
	s->o = *o;
	snprintf(s->instance_id, sizeof(s->instance_id), "%s", o->instance_id ? o->instance_id : "");
	if ((rc = cam_grpc_server_add_method(o->server, EXECUTE, execute, s)) ||
	    (rc = cam_grpc_server_set_refusal_hook(o->server, EXECUTE, refused, s)) ||
	    (o->auth && (rc = cam_grpc_server_set_admission(o->server, EXECUTE, admit_headers, s))) ||
	    (rc = cam_grpc_server_add_method(o->server, HEALTH_CHECK, health_check, s)) ||
	    (rc = cam_grpc_server_on_shutdown(o->server, draining, s)) ||
	    (o->prioritize && (rc = prioritize(s)))) {
		/* The server keeps what was added; it is not started, and its
		 * owner frees it on this failure. */
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void cam_syscall_service_free(cam_syscall_service *s)
{
	free(s);
}
