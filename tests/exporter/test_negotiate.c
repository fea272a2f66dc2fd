/*
 * Tests of exporter/negotiate.c: Accept and Accept-Encoding as Prometheus,
 * curl and browsers send them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include "exporter/negotiate.h"

#define OM CAM_RENDER_OPENMETRICS
#define TEXT CAM_RENDER_TEXT
#define PB CAM_RENDER_PROTOBUF

static void test_format(void **state)
{
	static const struct {
		const char *accept;
		enum cam_render_format want;
	} cases[] = {
		{NULL, TEXT},
		{"", TEXT},
		{"*/*", TEXT},
		{"text/plain", TEXT},
		{"text/plain;version=0.0.4", TEXT},
		{"application/openmetrics-text", OM},
		{"application/openmetrics-text; version=1.0.0; charset=utf-8", OM},
		/* Prometheus 2.x */
		{"application/openmetrics-text;version=1.0.0,application/"
		 "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
		 "q=0.5,*/*;q=0.1", OM},
		/* Prometheus 3.x */
		{"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;"
		 "q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/"
		 "plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;"
		 "version=0.0.4;q=0.2,*/*;q=0.1", OM},
		/* Prometheus told to prefer text */
		{"text/plain;version=0.0.4;q=1,application/openmetrics-text;"
		 "version=1.0.0;q=0.5", TEXT},
		{"application/openmetrics-text;q=0", TEXT},
		{"application/openmetrics-text;q=0,text/plain", TEXT},
		{"text/html,application/xhtml+xml,*/*;q=0.8", TEXT},
		{"text/plain, application/openmetrics-text", TEXT},
		{"application/openmetrics-text, text/plain", OM},
		{"APPLICATION/OpenMetrics-Text ; Q=0.9 , text/plain;q=0.2", OM},
		{"application/openmetrics-textual", TEXT},
		{",,, ;q=1", TEXT},
		/* Prometheus 2.42 with --enable-feature=native-histograms */
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
		 "encoding=delimited;q=0.8,application/openmetrics-text;version=1.0.0;q=0.6,"
		 "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=0.0.4;"
		 "q=0.3,*/*;q=0.2", PB},
		{"application/vnd.google.protobuf", PB},
		{"application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
		 "encoding=delimited", PB},
		/* Other encodings or messages are not served: the next best is. */
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
		 "encoding=text,text/plain;q=0.5", TEXT},
		{"application/vnd.google.protobuf;proto=other.Message;encoding=delimited,"
		 "application/openmetrics-text;q=0.5", OM},
		{"application/vnd.google.protobuf;q=0.5,application/openmetrics-text", OM},
		{"text/plain,application/vnd.google.protobuf", TEXT},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cam_negotiate_format(cases[i].accept) != cases[i].want)
			fail_msg("Accept: %s: expected %s", cases[i].accept,
				 cases[i].want == OM ? "OpenMetrics"
				 : cases[i].want == PB ? "protobuf" : "text");
	}
}

static void test_gzip(void **state)
{
	static const struct {
		const char *ae;
		bool want;
	} cases[] = {
		{NULL, false},
		{"", false},
		{"gzip", true},
		{"identity", false},
		{"deflate, gzip;q=1.0, *;q=0.5", true},
		{"gzip;q=0", false},
		{"GZIP", true},
		{"x-gzip", true},
		{"br, deflate", false},
		{"*", true},
		{"gzip;q=0, *", false},
		{"gzipped", false},
		{"deflate,gzip", true},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cam_negotiate_gzip(cases[i].ae) != cases[i].want)
			fail_msg("Accept-Encoding: %s: expected %d",
				 cases[i].ae ? cases[i].ae : "(none)",
				 cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_gzip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
