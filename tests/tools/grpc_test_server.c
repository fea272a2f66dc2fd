/*
 * A stand-alone server for the gRPC transport tests: the transport, health
 * and reflection of kernel/grpc with a toy /cam.SyscallService/Execute, so
 * the transport can be tested apart from the syscall layer.
 *
 * Verbs: ping (echo payload in result, data in data), sleep (payload = ms,
 * ends early when the call is cancelled), big (payload = n: n bytes of
 * data back), stats (transport figures in payload grammar), anything else
 * UNIMPLEMENTED (all but ping when GRPC_TEST_SERVER_PING_ONLY=1). Prints "listening on HOST:PORT" (the real port, so
 * --listen 127.0.0.1:0 works) once bound; SIGTERM/SIGINT drain and exit.
 * --require NAME=VALUE sets an admission check: a call without that
 * header (exactly once) is UNAUTHENTICATED at its headers.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "kernel/grpc/health.h"
#include "kernel/grpc/reflection.h"
#include "kernel/grpc/server.h"
#include "proto/cam.pb-c.h"

struct ctx {
	cam_grpc_server *srv;
	const char *require_name, *require_value; /* --require NAME=VALUE */
	bool ping_only; /* GRPC_TEST_SERVER_PING_ONLY=1: behave like a server
			 * without the test verbs (tests their fallbacks) */
};

static void reply(struct cam_grpc_call *c, Cam__SyscallResponse *r)
{
	size_t n = cam__syscall_response__get_packed_size(r);
	uint8_t *buf = malloc(n ? n : 1);

	if (!buf) {
		cam_grpc_call_fail(c, CAM_GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	cam__syscall_response__pack(r, buf);
	cam_grpc_call_reply(c, buf, n);
	free(buf);
}

static void sleep_ms(struct cam_grpc_call *c, long ms)
{
	struct timespec ts = { 0, 10 * 1000000L };

	for (; ms > 0 && !cam_grpc_call_cancelled(c); ms -= 10)
		nanosleep(&ts, NULL);
}

static void execute(void *arg, struct cam_grpc_call *c)
{
	struct ctx *ctx = arg;
	Cam__SyscallResponse r = CAM__SYSCALL_RESPONSE__INIT;
	Cam__SyscallRequest *req;
	const uint8_t *msg;
	char stats[160];
	uint8_t *big = NULL;
	size_t len;

	msg = cam_grpc_call_message(c, &len);
	req = cam__syscall_request__unpack(NULL, len, msg);
	if (!req) {
		cam_grpc_call_fail(c, CAM_GRPC_INVALID_ARGUMENT, "malformed SyscallRequest");
		return;
	}
	r.success = 1;
	r.status_code = "OK";
	if (ctx->ping_only && strcmp(req->verb, "ping") != 0) {
		cam__syscall_request__free_unpacked(req, NULL);
		cam_grpc_call_fail(c, CAM_GRPC_UNIMPLEMENTED, "unknown verb");
		return;
	}
	if (strcmp(req->verb, "ping") == 0) {
		r.result = req->payload;
		r.data = req->data;
	} else if (strcmp(req->verb, "sleep") == 0) {
		sleep_ms(c, atol(req->payload));
		r.result = "slept";
	} else if (strcmp(req->verb, "big") == 0) {
		r.data.len = (size_t)atol(req->payload);
		big = calloc(1, r.data.len ? r.data.len : 1);
		r.data.data = big;
	} else if (strcmp(req->verb, "stats") == 0) {
		struct cam_grpc_server_stats st;

		cam_grpc_server_stats(ctx->srv, &st);
		snprintf(stats, sizeof(stats),
			 "connections:%llu,streams:%llu,calls:%llu,protocol_errors:%llu,"
			 "buffered:%llu,refused:%llu,closed:%llu",
			 (unsigned long long)st.connections,
			 (unsigned long long)st.streams,
			 (unsigned long long)st.calls_total,
			 (unsigned long long)st.protocol_errors,
			 (unsigned long long)st.buffered_bytes,
			 (unsigned long long)st.refused_total,
			 (unsigned long long)st.closed_total);
		r.result = stats;
	} else {
		cam__syscall_request__free_unpacked(req, NULL);
		cam_grpc_call_fail(c, CAM_GRPC_UNIMPLEMENTED, "unknown verb");
		return;
	}
	reply(c, &r);
	free(big);
	cam__syscall_request__free_unpacked(req, NULL);
}

static int require_header(void *arg, const struct cam_grpc_call *c, char *why, size_t len)
{
	const struct ctx *ctx = arg;
	const char *v = cam_grpc_call_metadata(c, ctx->require_name);

	if (cam_grpc_call_metadata_count(c, ctx->require_name) > 1) {
		snprintf(why, len, "header %s given more than once", ctx->require_name);
		return CAM_GRPC_UNAUTHENTICATED;
	}
	if (!v || strcmp(v, ctx->require_value) != 0) {
		snprintf(why, len, "missing or wrong header %s", ctx->require_name);
		return CAM_GRPC_UNAUTHENTICATED;
	}
	return CAM_GRPC_OK;
}

static void print_listening(const char *listen, int port)
{
	const char *colon = strrchr(listen, ':');
	int hlen = colon ? (int)(colon - listen) : 0;

	printf("listening on %.*s:%d\n", hlen, listen, port);
	fflush(stdout);
}

static int usage(void)
{
	fprintf(stderr, "usage: grpc_test_server [--listen|--grpc-listen ADDR] [--workers N] "
			"[--max-msg BYTES] [--drain-ms MS] [--max-buffered BYTES] "
			"[--max-connections N] [--handshake-ms MS] [--idle-ms MS] [--io-threads N] "
			"[--max-age-ms MS] [--max-age-grace-ms MS] [--ping-min-ms MS] "
			"[--require NAME=VALUE]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct cam_grpc_server_opts o = { .listen = "127.0.0.1:50051" };
	struct ctx ctx = { 0 };
	cam_grpc_health *health = NULL;
	sigset_t set;
	int sig, rc;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			return usage();
		if (strcmp(argv[i], "--listen") == 0 ||
		    strcmp(argv[i], "--grpc-listen") == 0)
			o.listen = argv[++i];
		else if (strcmp(argv[i], "--workers") == 0)
			o.workers = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--max-msg") == 0)
			o.max_msg_bytes = (size_t)atol(argv[++i]);
		else if (strcmp(argv[i], "--drain-ms") == 0)
			o.drain_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--max-buffered") == 0)
			o.max_buffered_bytes = (size_t)atol(argv[++i]);
		else if (strcmp(argv[i], "--max-connections") == 0)
			o.max_connections = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--handshake-ms") == 0)
			o.handshake_timeout_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--idle-ms") == 0)
			o.idle_timeout_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--io-threads") == 0)
			o.io_threads = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--max-age-ms") == 0)
			o.max_age_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--max-age-grace-ms") == 0)
			o.max_age_grace_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--ping-min-ms") == 0)
			o.keepalive_min_time_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--require") == 0 && strchr(argv[i + 1], '=')) {
			char *eq = strchr(argv[++i], '=');

			*eq = '\0';
			ctx.require_name = argv[i];
			ctx.require_value = eq + 1;
		} else
			return usage();
	}
	ctx.ping_only = getenv("GRPC_TEST_SERVER_PING_ONLY") &&
			strcmp(getenv("GRPC_TEST_SERVER_PING_ONLY"), "1") == 0;
	if (getenv("CAM_LOG_LEVEL")) {
		enum cam_log_level lv;

		if (cam_log_parse_level(getenv("CAM_LOG_LEVEL"), &lv) == 0)
			cam_log_set_level(lv);
	}
	/* Handle signals in this thread only: block them before threads start. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	rc = cam_grpc_server_new(&o, &ctx.srv);
	if (!rc)
		rc = cam_grpc_server_add_method(ctx.srv, "/cam.SyscallService/Execute",
						execute, &ctx);
	if (!rc && ctx.require_name)
		rc = cam_grpc_server_set_admission(ctx.srv, "/cam.SyscallService/Execute",
						   require_header, &ctx);
	if (!rc)
		rc = cam_grpc_health_register(ctx.srv, &health);
	if (!rc)
		rc = cam_grpc_reflection_register(ctx.srv);
	if (!rc)
		rc = cam_grpc_server_start(ctx.srv);
	if (rc) {
		fprintf(stderr, "grpc_test_server: %s\n", cam_strerror(rc));
		cam_grpc_server_free(ctx.srv);
		cam_grpc_health_free(health);
		return 1;
	}
	print_listening(o.listen, cam_grpc_server_port(ctx.srv));
	sigwait(&set, &sig);
	cam_grpc_server_shutdown(ctx.srv);
	cam_grpc_server_free(ctx.srv);
	cam_grpc_health_free(health);
	return 0;
}
