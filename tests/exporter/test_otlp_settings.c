/*
 * Tests of exporter/otlp_settings.c, exporter/otlp_kv.c and
 * common/otlp_switch.c: which signals the one switch turns on, the URL
 * each signal posts to, CAM_ over OTEL_ and signal over general, the
 * key=value lists, and the errors that name the setting.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "exporter/otlp_settings.h"

/* The settings a test sets: NULL-terminated name, value pairs. */
static const char *get(void *arg, const char *name)
{
	const char *const *kv = arg;

	for (; kv[0]; kv += 2)
		if (!strcmp(kv[0], name))
			return kv[1];
	return NULL;
}

static int read_s(struct cam_otlp_settings *s, const char *const *kv, char *err)
{
	return cam_otlp_settings_read(s, get, (void *)kv, err, 256);
}

static void test_one_switch(void **state)
{
	const char *const kv[] = { "CAM_OTLP_ENDPOINT", "http://collector:4318/", NULL };
	struct cam_otlp_settings s;
	char err[256];

	(void)state;
	assert_int_equal(read_s(&s, kv, err), 0);
	assert_string_equal(s.sig[CAM_OTLP_METRICS].url, "http://collector:4318/v1/metrics");
	assert_string_equal(s.sig[CAM_OTLP_LOGS].url, "http://collector:4318/v1/logs");
	assert_string_equal(s.sig[CAM_OTLP_TRACES].url, "http://collector:4318/v1/traces");
	assert_int_equal(s.metrics_interval_ms, CAM_OTLP_DEFAULT_INTERVAL_MS);
	assert_int_equal(s.sig[CAM_OTLP_METRICS].timeout_ms, CAM_OTLP_DEFAULT_TIMEOUT_MS);
	assert_false(s.sig[CAM_OTLP_LOGS].gzip);
	cam_otlp_settings_free(&s);
}

static void test_base_with_path(void **state)
{
	const char *const a[] = { "CAM_OTLP_ENDPOINT", "https://gw/otlp", NULL };
	const char *const b[] = { "CAM_OTLP_ENDPOINT", "http://c:4318/v1/traces", NULL };
	struct cam_otlp_settings s;
	char err[256];

	(void)state;
	assert_int_equal(read_s(&s, a, err), 0);
	assert_string_equal(s.sig[CAM_OTLP_METRICS].url, "https://gw/otlp/v1/metrics");
	cam_otlp_settings_free(&s);
	/* The spans-only form of old: traces as given, the others beside. */
	assert_int_equal(read_s(&s, b, err), 0);
	assert_string_equal(s.sig[CAM_OTLP_TRACES].url, "http://c:4318/v1/traces");
	assert_string_equal(s.sig[CAM_OTLP_LOGS].url, "http://c:4318/v1/logs");
	cam_otlp_settings_free(&s);
}

static void test_signal_endpoints_and_otel(void **state)
{
	const char *const kv[] = {
		"CAM_OTLP_METRICS_ENDPOINT", "http://m:4318",
		"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://l:4318/custom",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318",
		"OTEL_TRACES_EXPORTER", "none",
		"OTEL_EXPORTER_OTLP_HEADERS", "api-key=general",
		"OTEL_EXPORTER_OTLP_LOGS_HEADERS", "api-key=logs%20only, x = y ",
		"OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip",
		"OTEL_EXPORTER_OTLP_TIMEOUT", "2500",
		"OTEL_METRIC_EXPORT_INTERVAL", "60000",
		"CAM_OTLP_METRICS_INTERVAL_MS", "1000",
		"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,service.name=x",
		"OTEL_SERVICE_NAME", "edge",
		"CAM_K8S_POD_NAME", "cam-os-7",
		NULL,
	};
	struct cam_otlp_settings s;
	char err[256];

	(void)state;
	assert_int_equal(read_s(&s, kv, err), 0);
	assert_string_equal(s.sig[CAM_OTLP_METRICS].url, "http://m:4318/v1/metrics");
	assert_string_equal(s.sig[CAM_OTLP_LOGS].url, "http://l:4318/custom");
	assert_false(s.sig[CAM_OTLP_TRACES].on);
	assert_string_equal(cam_otlp_kv_get(&s.sig[CAM_OTLP_METRICS].headers, "api-key"), "general");
	assert_string_equal(cam_otlp_kv_get(&s.sig[CAM_OTLP_LOGS].headers, "api-key"), "logs only");
	assert_string_equal(cam_otlp_kv_get(&s.sig[CAM_OTLP_LOGS].headers, "x"), "y");
	assert_true(s.sig[CAM_OTLP_METRICS].gzip);
	assert_false(s.sig[CAM_OTLP_LOGS].gzip);
	assert_int_equal(s.sig[CAM_OTLP_LOGS].timeout_ms, 2500);
	assert_int_equal(s.metrics_interval_ms, 1000);
	assert_string_equal(cam_otlp_kv_get(&s.resource, "service.name"), "edge");
	assert_string_equal(cam_otlp_kv_get(&s.resource, "deployment.environment"), "prod");
	assert_string_equal(cam_otlp_kv_get(&s.resource, "k8s.pod.name"), "cam-os-7");
	cam_otlp_settings_free(&s);
}

static void test_off_and_disabled(void **state)
{
	const char *const none[] = { NULL };
	const char *const disabled[] = { "OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318",
					 "OTEL_SDK_DISABLED", "true", NULL };
	const char *const cam_wins[] = { "CAM_OTLP_ENDPOINT", "http://c:4318",
					 "OTEL_METRICS_EXPORTER", "none", NULL };
	struct cam_otlp_settings s;
	bool base;
	char err[256];

	(void)state;
	assert_int_equal(read_s(&s, none, err), 0);
	for (int i = 0; i < CAM_OTLP_NSIGNALS; i++)
		assert_false(s.sig[i].on);
	cam_otlp_settings_free(&s);
	assert_null(cam_otlp_endpoint(CAM_OTLP_LOGS, get, (void *)disabled, &base));
	assert_non_null(cam_otlp_endpoint(CAM_OTLP_METRICS, get, (void *)cam_wins, &base));
	assert_true(base);
}

static void expect_error(const char *const *kv, const char *words)
{
	struct cam_otlp_settings s;
	char err[256];

	assert_int_equal(read_s(&s, kv, err), CAM_EINVAL);
	if (!strstr(err, words))
		fail_msg("\"%s\" does not say \"%s\"", err, words);
	cam_otlp_settings_free(&s);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error((const char *const[]){ "CAM_OTLP_ENDPOINT", "collector:4318", NULL },
		     "CAM_OTLP_ENDPOINT must be an http");
	expect_error((const char *const[]){ "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "udp://x", NULL },
		     "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT");
	expect_error((const char *const[]){ "CAM_OTLP_ENDPOINT", "http://c", "CAM_OTLP_HEADERS",
					    "a=1,bad", NULL },
		     "CAM_OTLP_HEADERS: \"bad\" is not key=value");
	expect_error((const char *const[]){ "CAM_OTLP_ENDPOINT", "http://c", "CAM_OTLP_HEADERS",
					    "a b=1", NULL },
		     "not an HTTP header name");
	expect_error((const char *const[]){ "CAM_OTLP_ENDPOINT", "http://c", "CAM_OTLP_HEADERS",
					    "a=%zz", NULL },
		     "percent-encoding");
	expect_error((const char *const[]){ "CAM_OTLP_ENDPOINT", "http://c",
					    "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", NULL },
		     "http/protobuf only");
	expect_error((const char *const[]){ "CAM_OTLP_ENDPOINT", "http://c",
					    "CAM_OTLP_COMPRESSION", "zstd", NULL },
		     "gzip or none");
	expect_error((const char *const[]){ "CAM_OTLP_METRICS_INTERVAL_MS", "5", NULL },
		     "CAM_OTLP_METRICS_INTERVAL_MS must be a number from 100");
	expect_error((const char *const[]){ "CAM_OTLP_ENDPOINT", "https://c",
					    "CAM_OTLP_CERTIFICATE", "/nonexistent/ca.pem", NULL },
		     "cannot read");
	expect_error((const char *const[]){ "OTEL_RESOURCE_ATTRIBUTES", "=x", NULL },
		     "empty key");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_switch),
		cmocka_unit_test(test_base_with_path),
		cmocka_unit_test(test_signal_endpoints_and_otel),
		cmocka_unit_test(test_off_and_disabled),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
