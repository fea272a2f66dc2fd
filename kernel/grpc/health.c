/*
 * The standard health service. Check is an ordinary unary handler; Watch
 * is a streaming method whose calls are kept (with a reference) in a list
 * and sent a message whenever their service changes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/grpc/health.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xmalloc.h"
#include "proto/grpc/health/v1/health.pb-c.h"

#define MAX_SERVICES 32
#define MAX_SERVICE_NAME 200

typedef Grpc__Health__V1__HealthCheckResponse__ServingStatus serving_status;

struct watcher {
	struct watcher *next;
	struct cam_grpc_call *call;
	char service[MAX_SERVICE_NAME];
};

struct cam_grpc_health {
	pthread_mutex_t mu;
	struct {
		char name[MAX_SERVICE_NAME];
		bool serving;
	} svc[MAX_SERVICES];
	size_t nsvc;
	struct watcher *watchers;
};

/* Status of service; caller holds mu. */
static serving_status status_locked(const cam_grpc_health *h, const char *service,
				    bool *known)
{
	for (size_t i = 0; i < h->nsvc; i++) {
		if (strcmp(h->svc[i].name, service) == 0) {
			*known = true;
			return h->svc[i].serving ?
				GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING :
				GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
		}
	}
	*known = false;
	return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
}

/* Packs a response into buf (a few bytes); returns its length. */
static size_t pack_status(serving_status st, uint8_t *buf)
{
	Grpc__Health__V1__HealthCheckResponse r =
		GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;

	r.status = st;
	return grpc__health__v1__health_check_response__pack(&r, buf);
}

static void check(void *arg, struct cam_grpc_call *c)
{
	cam_grpc_health *h = arg;
	Grpc__Health__V1__HealthCheckRequest *req;
	const uint8_t *msg;
	uint8_t buf[16];
	serving_status st;
	size_t len;
	bool known;

	msg = cam_grpc_call_message(c, &len);
	req = grpc__health__v1__health_check_request__unpack(NULL, len, msg);
	if (!req) {
		cam_grpc_call_fail(c, CAM_GRPC_INVALID_ARGUMENT, "malformed HealthCheckRequest");
		return;
	}
	pthread_mutex_lock(&h->mu);
	st = status_locked(h, req->service, &known);
	pthread_mutex_unlock(&h->mu);
	grpc__health__v1__health_check_request__free_unpacked(req, NULL);
	if (!known) {
		cam_grpc_call_fail(c, CAM_GRPC_NOT_FOUND, "unknown service");
		return;
	}
	cam_grpc_call_reply(c, buf, pack_status(st, buf));
}

static void watch_message(void *arg, struct cam_grpc_call *c, const uint8_t *msg,
			  size_t len)
{
	cam_grpc_health *h = arg;
	Grpc__Health__V1__HealthCheckRequest *req;
	struct watcher *w;
	uint8_t buf[16];
	bool known;

	req = grpc__health__v1__health_check_request__unpack(NULL, len, msg);
	if (!req || strlen(req->service) >= MAX_SERVICE_NAME) {
		if (req)
			grpc__health__v1__health_check_request__free_unpacked(req, NULL);
		cam_grpc_call_end(c, CAM_GRPC_INVALID_ARGUMENT, "malformed HealthCheckRequest");
		return;
	}
	w = cam_xcalloc(1, sizeof(*w));
	strcpy(w->service, req->service);
	grpc__health__v1__health_check_request__free_unpacked(req, NULL);
	cam_grpc_call_ref(c);
	w->call = c;
	pthread_mutex_lock(&h->mu);
	cam_grpc_call_send(c, buf, pack_status(status_locked(h, w->service, &known), buf));
	w->next = h->watchers;
	h->watchers = w;
	pthread_mutex_unlock(&h->mu);
}

static void watch_close(void *arg, struct cam_grpc_call *c)
{
	cam_grpc_health *h = arg;
	struct watcher **pw, *w = NULL;

	pthread_mutex_lock(&h->mu);
	for (pw = &h->watchers; *pw; pw = &(*pw)->next) {
		if ((*pw)->call == c) {
			w = *pw;
			*pw = w->next;
			break;
		}
	}
	pthread_mutex_unlock(&h->mu);
	if (w) {
		cam_grpc_call_unref(w->call);
		free(w);
	}
}

static const struct cam_grpc_stream_ops watch_ops = {
	.on_message = watch_message,
	.on_close = watch_close,
};

/* Tells the watchers of service its status; caller holds mu. */
static void notify_locked(cam_grpc_health *h, const char *service)
{
	uint8_t buf[16];
	bool known;
	size_t n = pack_status(status_locked(h, service, &known), buf);

	for (struct watcher *w = h->watchers; w; w = w->next)
		if (strcmp(w->service, service) == 0)
			cam_grpc_call_send(w->call, buf, n);
}

int cam_grpc_health_set(cam_grpc_health *h, const char *service, bool serving)
{
	size_t i;

	if (strlen(service) >= MAX_SERVICE_NAME)
		return CAM_EINVAL;
	pthread_mutex_lock(&h->mu);
	for (i = 0; i < h->nsvc; i++)
		if (strcmp(h->svc[i].name, service) == 0)
			break;
	if (i == h->nsvc) {
		if (h->nsvc == MAX_SERVICES) {
			pthread_mutex_unlock(&h->mu);
			return CAM_ELIMIT;
		}
		strcpy(h->svc[h->nsvc++].name, service);
	}
	if (h->svc[i].serving != serving || i == h->nsvc - 1) {
		h->svc[i].serving = serving;
		notify_locked(h, service);
	}
	pthread_mutex_unlock(&h->mu);
	return 0;
}

void cam_grpc_health_set_all(cam_grpc_health *h, bool serving)
{
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->nsvc; i++) {
		if (h->svc[i].serving == serving)
			continue;
		h->svc[i].serving = serving;
		notify_locked(h, h->svc[i].name);
	}
	pthread_mutex_unlock(&h->mu);
}

static void on_server_shutdown(void *arg)
{
	cam_grpc_health_set_all(arg, false);
}

int cam_grpc_health_register(cam_grpc_server *s, cam_grpc_health **out)
{
	cam_grpc_health *h = cam_xcalloc(1, sizeof(*h));
	int rc;

	pthread_mutex_init(&h->mu, NULL);
	cam_grpc_health_set(h, "", true);
	cam_grpc_health_set(h, "cam.SyscallService", true);
	rc = cam_grpc_server_add_method(s, "/grpc.health.v1.Health/Check", check, h);
	if (!rc)
		rc = cam_grpc_server_add_stream_method(s, "/grpc.health.v1.Health/Watch",
						       &watch_ops, h);
	if (!rc)
		rc = cam_grpc_server_on_shutdown(s, on_server_shutdown, h);
	if (rc) {
		cam_grpc_health_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void cam_grpc_health_free(cam_grpc_health *h)
{
	if (!h)
		return;
	while (h->watchers) {
		struct watcher *w = h->watchers;

		h->watchers = w->next;
		cam_grpc_call_unref(w->call);
		free(w);
	}
	pthread_mutex_destroy(&h->mu);
	free(h);
}
