/*
 * The OTLP settings of otlp_settings.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/otlp_settings.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/config.h"
#include "common/error.h"

static const char *const upper[CAM_OTLP_NSIGNALS] = { "METRICS", "LOGS", "TRACES" };

static const char *set(const char *v)
{
	return v && v[0] ? v : NULL;
}

/*
 * The first of: the CAM_ setting cam (may be NULL), the signal's OTEL
 * variable OTEL_EXPORTER_OTLP_<SIGNAL>_<what>, the general one; *name gets
 * the name of the one that was set, for error messages.
 */
static const char *pick(cam_otlp_get_fn get, void *arg, enum cam_otlp_signal sig,
			const char *cam, const char *what, char *name, size_t n)
{
	const char *v;

	if (cam && (v = set(get(arg, cam)))) {
		snprintf(name, n, "%s", cam);
		return v;
	}
	snprintf(name, n, "OTEL_EXPORTER_OTLP_%s_%s", upper[sig], what);
	if ((v = set(get(arg, name))))
		return v;
	snprintf(name, n, "OTEL_EXPORTER_OTLP_%s", what);
	return set(get(arg, name));
}

static bool has_path(const char *url)
{
	const char *host = strstr(url, "://");
	const char *path = host ? strchr(host + 3, '/') : NULL;

	return path && strcmp(path, "/") != 0;
}

/* base with its trailing '/' cut, then /v1/<signal>; a base ending in
 * /v1/traces (spans-only use) is cut there first, but kept for traces. */
static void join(char *out, size_t n, const char *base, enum cam_otlp_signal sig)
{
	static const char old[] = "/v1/traces";
	size_t len = strlen(base), k = sizeof(old) - 1;

	if (len >= k && strcmp(base + len - k, old) == 0) {
		if (sig == CAM_OTLP_TRACES) {
			snprintf(out, n, "%s", base);
			return;
		}
		len -= k;
	}
	while (len && base[len - 1] == '/')
		len--;
	snprintf(out, n, "%.*s/v1/%s", (int)len, base, cam_otlp_signal_name(sig));
}

static int check_url(const char *url, const char *what, char *err, size_t errlen)
{
	if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
	    strlen(url) > 900 || strpbrk(url, " \t\r\n")) {
		snprintf(err, errlen, "%s must be an http:// or https:// URL, not \"%s\"", what, url);
		return CAM_EINVAL;
	}
	return 0;
}

static int endpoint(struct cam_otlp_signal_settings *ss, enum cam_otlp_signal sig,
		    cam_otlp_get_fn get, void *arg, char *err, size_t errlen)
{
	char own[64], name[64];
	bool base;
	const char *v = cam_otlp_endpoint(sig, get, arg, &base);

	if (!v)
		return 0;
	ss->on = true;
	snprintf(own, sizeof(own), "CAM_OTLP_%s_ENDPOINT", upper[sig]);
	if (base)
		snprintf(name, sizeof(name), "%s",
			 set(get(arg, "CAM_OTLP_ENDPOINT")) ? "CAM_OTLP_ENDPOINT"
							    : "OTEL_EXPORTER_OTLP_ENDPOINT");
	else if (set(get(arg, own)))
		snprintf(name, sizeof(name), "%s", own);
	else
		snprintf(name, sizeof(name), "OTEL_EXPORTER_OTLP_%s_ENDPOINT", upper[sig]);
	if (check_url(v, name, err, errlen))
		return CAM_EINVAL;
	if (base || (set(get(arg, own)) && !has_path(v)))
		join(ss->url, sizeof(ss->url), v, sig);
	else
		snprintf(ss->url, sizeof(ss->url), "%s", v);
	return 0;
}

/* HTTP header names are tokens (RFC 9110). */
static bool token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

static int headers(struct cam_otlp_signal_settings *ss, enum cam_otlp_signal sig,
		   cam_otlp_get_fn get, void *arg, char *err, size_t errlen)
{
	char name[64];
	const char *v = pick(get, arg, sig, "CAM_OTLP_HEADERS", "HEADERS", name, sizeof(name));

	if (cam_otlp_kv_parse(&ss->headers, v, name, err, errlen))
		return CAM_EINVAL;
	for (size_t i = 0; i < ss->headers.n; i++)
		if (!token(ss->headers.kv[i].key)) {
			snprintf(err, errlen, "%s: \"%s\" is not an HTTP header name", name,
				 ss->headers.kv[i].key);
			return CAM_EINVAL;
		}
	return 0;
}

static int file(const char **out, enum cam_otlp_signal sig, cam_otlp_get_fn get, void *arg,
		const char *cam, const char *what, char *err, size_t errlen)
{
	char name[64];

	*out = pick(get, arg, sig, cam, what, name, sizeof(name));
	if (*out && access(*out, R_OK) != 0) {
		snprintf(err, errlen, "%s: cannot read \"%s\"", name, *out);
		return CAM_EINVAL;
	}
	return 0;
}

static int transport(struct cam_otlp_signal_settings *ss, enum cam_otlp_signal sig,
		     cam_otlp_get_fn get, void *arg, char *err, size_t errlen)
{
	char name[64];
	const char *v;
	long ms;

	v = pick(get, arg, sig, "CAM_OTLP_TIMEOUT_MS", "TIMEOUT", name, sizeof(name));
	ss->timeout_ms = CAM_OTLP_DEFAULT_TIMEOUT_MS;
	if (v && cam_config_long(v, 1, 600000, &ms) == 0)
		ss->timeout_ms = (uint32_t)ms;
	else if (v) {
		snprintf(err, errlen, "%s must be 1-600000 (milliseconds)", name);
		return CAM_EINVAL;
	}
	v = pick(get, arg, sig, "CAM_OTLP_COMPRESSION", "COMPRESSION", name, sizeof(name));
	if (v && strcasecmp(v, "gzip") != 0 && strcasecmp(v, "none") != 0) {
		snprintf(err, errlen, "%s must be gzip or none, not \"%s\"", name, v);
		return CAM_EINVAL;
	}
	ss->gzip = v && !strcasecmp(v, "gzip");
	v = pick(get, arg, sig, NULL, "PROTOCOL", name, sizeof(name));
	if (v && sig != CAM_OTLP_TRACES && strcmp(v, "http/protobuf") != 0) {
		snprintf(err, errlen,
			 "%s is \"%s\": cam-exporter pushes %s as http/protobuf only (OTLP/HTTP "
			 "on port 4318, not gRPC)", name, v, cam_otlp_signal_name(sig));
		return CAM_EINVAL;
	}
	if (file(&ss->ca_file, sig, get, arg, "CAM_OTLP_CERTIFICATE", "CERTIFICATE", err, errlen) ||
	    file(&ss->client_cert, sig, get, arg, "CAM_OTLP_CLIENT_CERTIFICATE",
		 "CLIENT_CERTIFICATE", err, errlen) ||
	    file(&ss->client_key, sig, get, arg, "CAM_OTLP_CLIENT_KEY", "CLIENT_KEY", err, errlen))
		return CAM_EINVAL;
	return 0;
}

/* A number from the CAM_ setting, else the OTEL_ one, else def. */
static int number(cam_otlp_get_fn get, void *arg, const char *cam, const char *otel, long min,
		  long max, long def, long *out, char *err, size_t errlen)
{
	const char *name = cam, *v = set(get(arg, cam));

	if (!v && otel && (v = set(get(arg, otel))))
		name = otel;
	*out = def;
	if (v && cam_config_long(v, min, max, out)) {
		snprintf(err, errlen, "%s must be a number from %ld to %ld", name, min, max);
		return CAM_EINVAL;
	}
	return 0;
}

static int resource(struct cam_otlp_settings *s, cam_otlp_get_fn get, void *arg, char *err,
		    size_t errlen)
{
	const char *v;

	if (cam_otlp_kv_parse(&s->resource, get(arg, "OTEL_RESOURCE_ATTRIBUTES"),
			      "OTEL_RESOURCE_ATTRIBUTES", err, errlen))
		return CAM_EINVAL;
	if ((v = set(get(arg, "OTEL_SERVICE_NAME"))))
		cam_otlp_kv_set(&s->resource, "service.name", v);
	if ((v = set(get(arg, "CAM_K8S_POD_NAME"))))
		cam_otlp_kv_set(&s->resource, "k8s.pod.name", v);
	if ((v = set(get(arg, "CAM_K8S_NAMESPACE"))))
		cam_otlp_kv_set(&s->resource, "k8s.namespace.name", v);
	return 0;
}

int cam_otlp_settings_read(struct cam_otlp_settings *s, cam_otlp_get_fn get, void *arg,
			   char *err, size_t errlen)
{
	long interval, flush, retry, queue, batch, buffer;

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < CAM_OTLP_NSIGNALS; i++) {
		struct cam_otlp_signal_settings *ss = &s->sig[i];

		if (endpoint(ss, (enum cam_otlp_signal)i, get, arg, err, errlen))
			return CAM_EINVAL;
		if (ss->on && (headers(ss, (enum cam_otlp_signal)i, get, arg, err, errlen) ||
			       transport(ss, (enum cam_otlp_signal)i, get, arg, err, errlen)))
			return CAM_EINVAL;
	}
	if (number(get, arg, "CAM_OTLP_METRICS_INTERVAL_MS", "OTEL_METRIC_EXPORT_INTERVAL", 100,
		   86400000, CAM_OTLP_DEFAULT_INTERVAL_MS, &interval, err, errlen) ||
	    number(get, arg, "CAM_OTLP_LOGS_FLUSH_MS", "OTEL_BLRP_SCHEDULE_DELAY", 10, 600000, 1000,
		   &flush, err, errlen) ||
	    number(get, arg, "CAM_OTLP_LOGS_BATCH", "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", 1, 100000,
		   512, &batch, err, errlen) ||
	    number(get, arg, "CAM_OTLP_LOGS_BUFFER", "OTEL_BLRP_MAX_QUEUE_SIZE", 1, 10000000, 8192,
		   &buffer, err, errlen) ||
	    number(get, arg, "CAM_OTLP_RETRY_MAX_MS", NULL, 100, 3600000, 30000, &retry, err,
		   errlen) ||
	    number(get, arg, "CAM_OTLP_QUEUE_BYTES", NULL, 65536, 1L << 30,
		   CAM_OTLP_DEFAULT_QUEUE_BYTES, &queue, err, errlen))
		return CAM_EINVAL;
	s->metrics_interval_ms = (uint32_t)interval;
	s->logs_flush_ms = (uint32_t)flush;
	s->logs_batch = (size_t)batch;
	s->logs_buffer = (size_t)(buffer < batch ? batch : buffer);
	s->retry_max_ms = (uint32_t)retry;
	s->queue_bytes = (size_t)queue;
	return resource(s, get, arg, err, errlen);
}

void cam_otlp_settings_free(struct cam_otlp_settings *s)
{
	for (int i = 0; i < CAM_OTLP_NSIGNALS; i++)
		cam_otlp_kv_free(&s->sig[i].headers);
	cam_otlp_kv_free(&s->resource);
}
