/*
 * Unit tests of the verb registry (kernel/syscall/verbs.c) and the
 * dispatcher (kernel/syscall/dispatch.c), without a gRPC server: unknown
 * verbs, key checks, scopes, priorities, deadlines, deferral, and every
 * error path answered exactly once with the status the table says.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tests/kernel/verb_harness.h"

#include <unistd.h>

/* ---- test verbs ------------------------------------------------------- */

struct probe_ctx {
	int calls;
	int rc;                  /* what "fail" returns */
	const char *msg;         /* and says; NULL: nothing */
	unsigned priority;       /* what the handler saw */
	char caller[128];
	void *seen_ctx;
	char trace_id[33];
};

static int v_echo(void *ctx, struct cam_syscall *sc)
{
	struct probe_ctx *p = ctx;

	p->calls++;
	p->seen_ctx = ctx;
	p->priority = sc->priority;
	snprintf(p->caller, sizeof(p->caller), "%s", sc->caller_id);
	snprintf(p->trace_id, sizeof(p->trace_id), "%s", sc->trace_id);
	for (size_t i = 0; i < sc->payload->n; i++)
		cam_result_add(&sc->result, sc->payload->pairs[i].key, sc->payload->pairs[i].value);
	sc->out_data = malloc(3);
	memcpy(sc->out_data, "bin", 3);
	sc->out_len = 3;
	return 0;
}

static int v_fail(void *ctx, struct cam_syscall *sc)
{
	struct probe_ctx *p = ctx;

	p->calls++;
	if (p->msg)
		return cam_syscall_fail(sc, p->rc, "%s", p->msg);
	return p->rc;
}

/* Defers: a thread of its own completes the call after the handler has
 * returned (it waits for `go`), with ctx's rc. */
struct deferred {
	struct cam_syscall *sc;
	struct probe_ctx *p;
	atomic_bool go;
	pthread_t thread;
	bool cancelled_seen;
};

static struct deferred later;

static void *complete_later(void *arg)
{
	struct deferred *d = arg;

	while (!atomic_load(&d->go))
		usleep(1000);
	d->cancelled_seen = cam_syscall_cancelled(d->sc);
	if (d->p->rc == 0)
		cam_result_add(&d->sc->result, "later", "true");
	else
		cam_syscall_fail(d->sc, d->p->rc, "failed later");
	cam_syscall_complete(d->sc, d->p->rc);
	return NULL;
}

static int v_defer(void *ctx, struct cam_syscall *sc)
{
	struct probe_ctx *p = ctx;

	p->calls++;
	later.sc = sc;
	later.p = p;
	atomic_store(&later.go, false);
	assert_int_equal(pthread_create(&later.thread, NULL, complete_later, &later), 0);
	return CAM_SYSCALL_DEFERRED;
}

static const char *const K_ECHO[] = { "a", "b", NULL };

static struct probe_ctx echo_ctx, fail_ctx, defer_ctx;

static const struct cam_verb rows[] = {
	{ .name = "echo", .fn = v_echo, .keys = K_ECHO, .scope = CAM_SCOPE_READ },
	{ .name = "any", .fn = v_echo, .keys = NULL, .scope = CAM_SCOPE_READ },
	{ .name = "write_it", .fn = v_echo, .keys = NULL, .scope = CAM_SCOPE_WRITE },
	{ .name = "admin_it", .fn = v_echo, .keys = NULL, .scope = CAM_SCOPE_ADMIN },
};

static struct harness h;

static void setup_verbs(const char *tokens)
{
	h_begin(&h, tokens);
	memset(&echo_ctx, 0, sizeof(echo_ctx));
	memset(&fail_ctx, 0, sizeof(fail_ctx));
	memset(&defer_ctx, 0, sizeof(defer_ctx));
	assert_int_equal(cam_verbs_add(h.verbs, "test", rows, 4, &echo_ctx), 0);
	assert_int_equal(cam_verbs_add(h.verbs, "test",
				       &(struct cam_verb){ .name = "fail", .fn = v_fail,
							   .scope = CAM_SCOPE_READ },
				       1, &fail_ctx), 0);
	assert_int_equal(cam_verbs_add(h.verbs, "test",
				       &(struct cam_verb){ .name = "defer", .fn = v_defer,
							   .scope = CAM_SCOPE_READ },
				       1, &defer_ctx), 0);
	h_ready(&h);
}

static int setup(void **state)
{
	(void)state;
	setup_verbs(NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_end(&h);
	return 0;
}

/* ---- the registry ----------------------------------------------------- */

static int nop(void *ctx, struct cam_syscall *sc)
{
	(void)ctx;
	(void)sc;
	return 0;
}

static void test_registry(void **state)
{
	static char names[CAM_VERBS_MAX + 1][16];
	struct cam_verb many[CAM_VERBS_MAX + 1];
	const struct cam_verb bad[][1] = {
		{ { .name = NULL, .fn = nop } },
		{ { .name = "", .fn = nop } },
		{ { .name = "Bad", .fn = nop } },
		{ { .name = "9lives", .fn = nop } },
		{ { .name = "has space", .fn = nop } },
		{ { .name = "a_name_that_is_much_longer_than_31", .fn = nop } },
		{ { .name = "no_handler", .fn = NULL } },
	};
	cam_verbs *v;
	int ctx;

	(void)state;
	assert_int_equal(cam_verbs_new(&v), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cam_verbs_add(v, "t", bad[i], 1, NULL), CAM_EINVAL);
	assert_int_equal(cam_verbs_add(v, "t", rows, 4, &ctx), 0);
	assert_int_equal(cam_verbs_count(v), 4);
	assert_ptr_equal(cam_verbs_find(v, "any")->ctx, &ctx);
	assert_string_equal(cam_verbs_find(v, "any")->subsystem, "t");
	assert_int_equal(cam_verbs_find(v, "write_it")->index, 2);
	assert_null(cam_verbs_find(v, "nope"));
	assert_null(cam_verbs_find(v, NULL));
	/* A name already there, or twice in one add: nothing is added. */
	assert_int_equal(cam_verbs_add(v, "t", rows + 1, 1, NULL), CAM_EEXIST);
	assert_int_equal(cam_verbs_add(v, "t",
				       (struct cam_verb[]){ { .name = "x", .fn = nop },
							    { .name = "x", .fn = nop } },
				       2, NULL), CAM_EEXIST);
	assert_int_equal(cam_verbs_count(v), 4);
	/* Removing closes the gap; indexes follow. */
	cam_verbs_remove(v, rows + 1, 1);
	assert_int_equal(cam_verbs_count(v), 3);
	assert_null(cam_verbs_find(v, "any"));
	assert_int_equal(cam_verbs_find(v, "write_it")->index, 1);
	assert_string_equal(cam_verbs_at(v, 2)->name, "admin_it");
	assert_null(cam_verbs_at(v, 3));
	cam_verbs_remove(v, rows, 4);
	assert_int_equal(cam_verbs_count(v), 0);
	/* At most CAM_VERBS_MAX rows: all or none. */
	for (int i = 0; i <= CAM_VERBS_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "v%d", i);
		many[i] = (struct cam_verb){ .name = names[i], .fn = nop };
	}
	assert_int_equal(cam_verbs_add(v, "t", many, CAM_VERBS_MAX + 1, NULL), CAM_ELIMIT);
	assert_int_equal(cam_verbs_count(v), 0);
	assert_int_equal(cam_verbs_add(v, "t", many, CAM_VERBS_MAX, NULL), 0);
	assert_int_equal(cam_verbs_add(v, "t", many + CAM_VERBS_MAX, 1, NULL), CAM_ELIMIT);
	cam_verbs_free(v);
	cam_verbs_free(NULL);
}

/* ---- the dispatcher --------------------------------------------------- */

static void test_ok_call(void **state)
{
	struct answer a;

	(void)state;
	h_call(&h, &(struct req){ .verb = "echo", .payload = "a:1,b:x,y", .caller_id = "agent-7" },
	       &a);
	assert_answer(&a, CAM_GRPC_OK, "a:1,b:x,y");
	assert_int_equal(a.data_len, 3);
	assert_memory_equal(a.data, "bin", 3);
	assert_int_equal(echo_ctx.calls, 1);
	assert_ptr_equal(echo_ctx.seen_ctx, &echo_ctx);
	assert_string_equal(echo_ctx.caller, "agent-7");
	assert_int_equal(echo_ctx.priority, 5);
	/* The request id: the instance id's first 8 characters and a count. */
	assert_int_equal(strncmp(a.request_id, "abcdef01-", 9), 0);
	assert_true(h_metric("cam_os_syscall_total", (const char *[]){ "echo", NULL }) == 1);
	assert_true(h_metric("cam_os_syscall_duration_seconds", (const char *[]){ "echo", NULL }) == 1);
	/* No caller_id: anonymous. */
	h_call(&h, &(struct req){ .verb = "echo" }, &a);
	assert_answer(&a, CAM_GRPC_OK, NULL);
	assert_string_equal(echo_ctx.caller, "anonymous");
}

static void test_unknown_and_undecodable(void **state)
{
	struct answer a;

	(void)state;
	h_call(&h, &(struct req){ .verb = "frobnicate" }, &a);
	assert_answer(&a, CAM_GRPC_UNIMPLEMENTED, "unknown verb 'frobnicate'");
	assert_true(h_metric("cam_os_syscall_total", (const char *[]){ "unknown", NULL }) == 1);
	assert_true(h_metric("cam_os_syscall_errors_total",
			     (const char *[]){ "unknown", "UNIMPLEMENTED", NULL }) == 1);
	h_call(&h, &(struct req){ .undecodable = true }, &a);
	assert_answer(&a, CAM_GRPC_INVALID_ARGUMENT, "request is not a cam.SyscallRequest");
	assert_true(h_metric("cam_os_syscall_total", (const char *[]){ "unknown", NULL }) == 2);
	assert_int_equal(echo_ctx.calls, 0);
}

static void test_checks_before_the_handler(void **state)
{
	static const struct {
		struct req r;
		int status;
		const char *says;
	} cases[] = {
		{ { .verb = "echo", .payload = "a:1,colour:red" }, CAM_GRPC_INVALID_ARGUMENT,
		  "verb echo does not take payload key 'colour'" },
		{ { .verb = "echo", .payload = "a:1,a:2" }, CAM_GRPC_INVALID_ARGUMENT, "duplicate" },
		{ { .verb = "echo", .payload = "Bad:1" }, CAM_GRPC_INVALID_ARGUMENT, NULL },
		{ { .verb = "echo", .payload = ":1" }, CAM_GRPC_INVALID_ARGUMENT, NULL },
		{ { .verb = "echo", .payload = "urgency:2" }, CAM_GRPC_INVALID_ARGUMENT,
		  "urgency must be a number from 0 to 1" },
		{ { .verb = "echo", .has_priority = true, .priority = 10 },
		  CAM_GRPC_INVALID_ARGUMENT, "priority 10 is out of range 0-9" },
		{ { .verb = "echo", .deadline_ns = 1 }, CAM_GRPC_DEADLINE_EXCEEDED,
		  "deadline passed before the syscall ran" },
	};
	struct answer a;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h_call(&h, &cases[i].r, &a);
		assert_answer(&a, cases[i].status, cases[i].says);
	}
	assert_int_equal(echo_ctx.calls, 0);
	assert_true(h_metric("cam_os_syscall_errors_total",
			     (const char *[]){ "echo", "INVALID_ARGUMENT", NULL }) == 6);
	/* The factors are every verb's keys; a verb with no key list takes any. */
	h_call(&h, &(struct req){ .verb = "echo", .payload = "a:1,urgency:0.9,trust:1" }, &a);
	assert_answer(&a, CAM_GRPC_OK, "urgency:0.9");
	h_call(&h, &(struct req){ .verb = "any", .payload = "whatever:1,else:2" }, &a);
	assert_answer(&a, CAM_GRPC_OK, "else:2");
	/* A valid priority reaches the handler. */
	h_call(&h, &(struct req){ .verb = "echo", .has_priority = true, .priority = 8 }, &a);
	assert_answer(&a, CAM_GRPC_OK, NULL);
	assert_int_equal(echo_ctx.priority, 8);
	/* A traceparent names the call's trace. */
	h_call(&h, &(struct req){ .verb = "echo", .traceparent =
			"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }, &a);
	assert_string_equal(echo_ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_int_equal(cam_span_ring_pending(h.spans), 1);
}

/* Every CAM_E* a handler may return is answered once, with the status of
 * common/error.h's table and the handler's message, or the code's own. */
static void test_every_error_answered_once(void **state)
{
	static const int codes[] = {
#define CODE(name, value, grpc, msg) CAM_##name,
		CAM_ERRNO_MAP(CODE)
#undef CODE
	};
	struct answer a;

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		fail_ctx.rc = codes[i];
		fail_ctx.msg = i % 2 ? "the handler says why" : NULL;
		h_call(&h, &(struct req){ .verb = "fail" }, &a);
		assert_answer(&a, cam_err_grpc_status(codes[i]),
			      fail_ctx.msg ? fail_ctx.msg : cam_strerror(codes[i]));
		assert_int_not_equal(a.status, CAM_GRPC_OK);
	}
	assert_int_equal(fail_ctx.calls, (int)(sizeof(codes) / sizeof(codes[0])));
	/* A code outside the table: UNKNOWN; a positive one is a handler's
	 * bug: INTERNAL, said. Both answered. */
	fail_ctx.rc = -1000;
	fail_ctx.msg = NULL;
	h_call(&h, &(struct req){ .verb = "fail" }, &a);
	assert_answer(&a, CAM_GRPC_UNKNOWN, "unknown error");
	fail_ctx.rc = 2;
	h_call(&h, &(struct req){ .verb = "fail" }, &a);
	assert_answer(&a, CAM_GRPC_INTERNAL, "verb fail returned 2");
	assert_true(h_metric("cam_os_syscall_errors_total",
			     (const char *[]){ "fail", "RESOURCE_EXHAUSTED", NULL }) == 2);
}

/* A deferred call is answered once, by the thread that completes it,
 * after the handler has returned; with any code. */
static void test_deferred(void **state)
{
	static const int codes[] = { 0, CAM_EINVAL, CAM_ETIMEDOUT, CAM_EUNAVAIL, CAM_ECANCELED };
	struct answer a;

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		defer_ctx.rc = codes[i];
		answer_init(&a);
		atomic_store(&a.cancelled, i == 4);
		cam_dispatch_run(h.dispatch, &h_call_new(&a, &(struct req){ .verb = "defer" })->dc);
		/* Returned, not answered yet: the verb owns the call. */
		pthread_mutex_lock(&a.lock);
		assert_int_equal(a.answers, 0);
		pthread_mutex_unlock(&a.lock);
		atomic_store(&later.go, true);
		assert_true(h_wait(&a));
		pthread_join(later.thread, NULL);
		assert_int_equal(a.answers, 1);
		assert_int_equal(a.releases, 1);
		assert_true(pthread_equal(a.thread, later.thread));
		assert_int_equal(later.cancelled_seen, i == 4);
		if (codes[i] == 0)
			assert_answer(&a, CAM_GRPC_OK, "later:true");
		else
			assert_answer(&a, cam_err_grpc_status(codes[i]), "failed later");
		pthread_cond_destroy(&a.cond);
		pthread_mutex_destroy(&a.lock);
	}
	assert_true(h_metric("cam_os_syscall_total", (const char *[]){ "defer", NULL }) == 5);
}

static int complete_as_deferred(void *ctx, struct cam_syscall *sc)
{
	(void)ctx;
	cam_syscall_complete(sc, CAM_SYSCALL_DEFERRED);
	return CAM_SYSCALL_DEFERRED;
}

/* Completing "as deferred" would never answer: it is answered INTERNAL. */
static void test_complete_as_deferred(void **state)
{
	struct answer a;

	(void)state;
	h_end(&h);
	h_begin(&h, NULL);
	assert_int_equal(cam_verbs_add(h.verbs, "t",
				       &(struct cam_verb){ .name = "bad", .fn = complete_as_deferred },
				       1, NULL), 0);
	h_ready(&h);
	h_call(&h, &(struct req){ .verb = "bad" }, &a);
	assert_answer(&a, CAM_GRPC_INTERNAL, "completed its call as deferred");
}

/* A call the transport refused is counted and released, not answered. */
static void test_refused(void **state)
{
	struct answer a;

	(void)state;
	answer_init(&a);
	cam_dispatch_refused(h.dispatch, &h_call_new(&a, &(struct req){ .verb = "echo" })->dc,
			     CAM_GRPC_RESOURCE_EXHAUSTED, "queue full");
	assert_int_equal(a.answers, 0);
	assert_int_equal(a.releases, 1);
	assert_int_equal(echo_ctx.calls, 0);
	assert_true(h_metric("cam_os_syscall_errors_total",
			     (const char *[]){ "echo", "RESOURCE_EXHAUSTED", NULL }) == 1);
	pthread_cond_destroy(&a.cond);
	pthread_mutex_destroy(&a.lock);
}

/* With tokens: who calls first, then the verb's scope. */
static void test_scopes(void **state)
{
	char path[] = "/tmp/cam-dispatch-tokens-XXXXXX", cmd[400];
	struct answer a;
	int fd;

	(void)state;
	h_end(&h);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	/* Hashes made the way an operator makes them (auth.h). */
	snprintf(cmd, sizeof(cmd),
		 "{ printf '%%s' reader-token | sha256sum | cut -d' ' -f1 | tr -d '\\n';"
		 " echo ' reader read';"
		 " printf '%%s' admin-token | sha256sum | cut -d' ' -f1 | tr -d '\\n';"
		 " echo ' boss admin'; } > %s", path);
	assert_int_equal(system(cmd), 0);
	setup_verbs(path);
	h_call(&h, &(struct req){ .verb = "echo" }, &a);
	assert_answer(&a, CAM_GRPC_UNAUTHENTICATED, "missing bearer token");
	/* Nobody learns whether a verb exists without credentials. */
	h_call(&h, &(struct req){ .verb = "frobnicate" }, &a);
	assert_answer(&a, CAM_GRPC_UNAUTHENTICATED, NULL);
	h_call(&h, &(struct req){ .verb = "echo", .authorization = "Bearer nope" }, &a);
	assert_answer(&a, CAM_GRPC_UNAUTHENTICATED, "invalid bearer token");
	h_call(&h, &(struct req){ .verb = "echo", .authorization = "Bearer reader-token" }, &a);
	assert_answer(&a, CAM_GRPC_OK, NULL);
	assert_string_equal(echo_ctx.caller, "reader");
	h_call(&h, &(struct req){ .verb = "echo", .authorization = "Bearer reader-token",
				  .caller_id = "someone-else" }, &a);
	assert_answer(&a, CAM_GRPC_PERMISSION_DENIED, "does not match");
	h_call(&h, &(struct req){ .verb = "write_it", .authorization = "Bearer reader-token" }, &a);
	assert_answer(&a, CAM_GRPC_PERMISSION_DENIED, "caller reader lacks scope write needed by write_it");
	h_call(&h, &(struct req){ .verb = "admin_it", .authorization = "Bearer admin-token" }, &a);
	assert_answer(&a, CAM_GRPC_OK, NULL);
	assert_true(h_metric("cam_os_security_auth_failures_total",
			     (const char *[]){ "missing_scope", NULL }) == 1);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test_setup_teardown(test_ok_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_and_undecodable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checks_before_the_handler, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_error_answered_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_complete_as_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scopes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
