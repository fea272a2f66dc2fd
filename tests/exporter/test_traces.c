/*
 * Unit tests of exporter/traces.c and exporter/span_json.c: endpoint URLs,
 * sampling, both JSON encodings (read back with yajl), and a sender
 * against a small libmicrohttpd receiver that refuses the first request:
 * the spans are retried and arrive, none lost.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <microhttpd.h>
#include <yajl/yajl_tree.h>

#include "common/log.h"
#include "common/metrics.h"
#include "exporter/render.h"
#include "exporter/span_json.h"
#include "exporter/traces.h"

static void test_urls(void **state)
{
	char u[256];

	(void)state;
	assert_string_equal(cam_traces_url("http://c:4318", "/v1/traces", u, sizeof(u)),
			    "http://c:4318/v1/traces");
	assert_string_equal(cam_traces_url("http://c:4318/", "/v1/traces", u, sizeof(u)),
			    "http://c:4318/v1/traces");
	assert_string_equal(cam_traces_url("https://c/otlp/v1/traces", "/v1/traces", u, sizeof(u)),
			    "https://c/otlp/v1/traces");
	assert_string_equal(cam_traces_url("http://z:9411", "/api/v2/spans", u, sizeof(u)),
			    "http://z:9411/api/v2/spans");
}

static void test_sampling(void **state)
{
	(void)state;
	assert_true(cam_traces_sampled("ffffffffffffffffffffffffffffffff", 1));
	assert_false(cam_traces_sampled("00000000000000000000000000000001", 0));
	assert_true(cam_traces_sampled("ffffffffffffffff0000000000000001", 0.5));
	assert_false(cam_traces_sampled("0000000000000000ffffffffffffffff", 0.5));
}

/* Two spans of one batch, one a child of the other. */
struct two {
	Cam__Bus__SpanBatch batch;
	Cam__Bus__Span span[2];
	Cam__Bus__Span *ptr[2];
	Cam__Bus__SpanAttribute attr;
	Cam__Bus__SpanAttribute *attrs[1];
	struct cam_span_ref refs[2];
};

static void make_two(struct two *t)
{
	cam__bus__span_batch__init(&t->batch);
	t->batch.instance_id = "inst";
	t->batch.version = "0.1.0";
	for (int i = 0; i < 2; i++) {
		cam__bus__span__init(&t->span[i]);
		t->span[i].trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
		t->span[i].start_unix_ns = 1700000000000000000 + i;
		t->span[i].duration_ns = 2000;
		t->ptr[i] = &t->span[i];
		t->refs[i] = (struct cam_span_ref){ &t->span[i], &t->batch };
	}
	t->span[0].span_id = "00f067aa0ba902b7";
	t->span[0].name = "root \"quoted\"\n";
	t->span[1].span_id = "53995c3f42cd8ad8";
	t->span[1].parent_span_id = "00f067aa0ba902b7";
	t->span[1].name = "syscall ping";
	t->span[1].kind = CAM__BUS__SPAN_KIND__SPAN_KIND_SERVER;
	t->span[1].error = 1;
	t->span[1].service = "agent";
	cam__bus__span_attribute__init(&t->attr);
	t->attr.key = "cam.syscall";
	t->attr.value = "ping";
	t->attrs[0] = &t->attr;
	t->span[1].n_attributes = 1;
	t->span[1].attributes = t->attrs;
	t->batch.n_spans = 2;
	t->batch.spans = t->ptr;
}

static yajl_val parse(const struct cam_render_buf *b)
{
	char *text = malloc(b->len + 1), err[256];
	yajl_val v;

	assert_non_null(text);
	memcpy(text, b->data, b->len);
	text[b->len] = '\0';
	v = yajl_tree_parse(text, err, sizeof(err));
	if (!v)
		fail_msg("not JSON (%s): %s", err, text);
	free(text);
	return v;
}

static const char *str_at(yajl_val v, const char **path)
{
	yajl_val s = yajl_tree_get(v, path, yajl_t_string);

	return s ? YAJL_GET_STRING(s) : NULL;
}

static void test_otlp_json(void **state)
{
	struct two t;
	struct cam_render_buf b;
	yajl_val v, rs, spans;

	(void)state;
	make_two(&t);
	cam_render_buf_init(&b, 0);
	cam_span_json_otlp(&b, t.refs, 2, "cam-os");
	v = parse(&b);
	rs = yajl_tree_get(v, (const char *[]){ "resourceSpans", NULL }, yajl_t_array);
	assert_non_null(rs);
	/* Two services: two resources. */
	assert_int_equal(YAJL_GET_ARRAY(rs)->len, 2);
	spans = yajl_tree_get(YAJL_GET_ARRAY(rs)->values[1],
			      (const char *[]){ "scopeSpans", NULL }, yajl_t_array);
	spans = yajl_tree_get(YAJL_GET_ARRAY(spans)->values[0],
			      (const char *[]){ "spans", NULL }, yajl_t_array);
	{
		yajl_val s = YAJL_GET_ARRAY(spans)->values[0];
		assert_string_equal(str_at(s, (const char *[]){ "parentSpanId", NULL }),
				    "00f067aa0ba902b7");
		assert_string_equal(str_at(s, (const char *[]){ "startTimeUnixNano", NULL }),
				    "1700000000000000001");
		assert_string_equal(str_at(s, (const char *[]){ "endTimeUnixNano", NULL }),
				    "1700000000000002001");
	}
	assert_non_null(strstr(b.data, "\"root \\\"quoted\\\"\\u000a\""));
	assert_non_null(strstr(b.data, "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"agent\"}}"));
	assert_non_null(strstr(b.data, "\"service.instance.id\",\"value\":{\"stringValue\":\"inst\"}"));
	assert_non_null(strstr(b.data, "\"status\":{\"code\":2}"));
	yajl_tree_free(v);
	cam_render_buf_free(&b);
}

static void test_zipkin_json(void **state)
{
	struct two t;
	struct cam_render_buf b;
	yajl_val v, s;

	(void)state;
	make_two(&t);
	cam_render_buf_init(&b, 0);
	cam_span_json_zipkin(&b, t.refs, 2, "cam-os");
	v = parse(&b);
	assert_true(YAJL_IS_ARRAY(v));
	assert_int_equal(YAJL_GET_ARRAY(v)->len, 2);
	s = YAJL_GET_ARRAY(v)->values[1];
	assert_string_equal(str_at(s, (const char *[]){ "id", NULL }), "53995c3f42cd8ad8");
	assert_string_equal(str_at(s, (const char *[]){ "parentId", NULL }), "00f067aa0ba902b7");
	assert_string_equal(str_at(s, (const char *[]){ "kind", NULL }), "SERVER");
	assert_string_equal(str_at(s, (const char *[]){ "localEndpoint", "serviceName", NULL }),
			    "agent");
	assert_string_equal(str_at(s, (const char *[]){ "tags", "cam.syscall", NULL }), "ping");
	assert_string_equal(str_at(s, (const char *[]){ "tags", "error", NULL }), "true");
	assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(s, (const char *[]){ "timestamp", NULL },
							yajl_t_number)),
			 1700000000000000);
	assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(s, (const char *[]){ "duration", NULL },
							yajl_t_number)),
			 2);
	s = YAJL_GET_ARRAY(v)->values[0];
	assert_null(yajl_tree_get(s, (const char *[]){ "parentId", NULL }, yajl_t_any));
	assert_string_equal(str_at(s, (const char *[]){ "localEndpoint", "serviceName", NULL }),
			    "cam-os");
	yajl_tree_free(v);
	cam_render_buf_free(&b);
}

/* A receiver that answers 503 to its first request, then 200. */
struct receiver {
	struct MHD_Daemon *d;
	atomic_int requests;
	atomic_int spans_seen; /* "spanId" occurrences in accepted bodies */
	char body[65536];
	size_t len;
};

static enum MHD_Result on_post(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *data,
			       size_t *size, void **con_cls)
{
	struct receiver *r = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned code;

	(void)url;
	(void)method;
	(void)version;
	if (!*con_cls) {
		*con_cls = r;
		r->len = 0;
		return MHD_YES;
	}
	if (*size) {
		if (r->len + *size < sizeof(r->body)) {
			memcpy(r->body + r->len, data, *size);
			r->len += *size;
		}
		*size = 0;
		return MHD_YES;
	}
	r->body[r->len] = '\0';
	code = atomic_fetch_add(&r->requests, 1) == 0 ? 503 : 200;
	if (code == 200)
		for (const char *p = r->body; (p = strstr(p, "\"spanId\"")); p++)
			atomic_fetch_add(&r->spans_seen, 1);
	resp = MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static Cam__Bus__Envelope *envelope(int n)
{
	Cam__Bus__Envelope *e = calloc(1, sizeof(*e));
	Cam__Bus__SpanBatch *b = calloc(1, sizeof(*b));

	assert_non_null(e);
	assert_non_null(b);
	cam__bus__envelope__init(e);
	cam__bus__span_batch__init(b);
	e->body_case = CAM__BUS__ENVELOPE__BODY_SPANS;
	e->spans = b;
	b->instance_id = strdup("inst");
	b->version = strdup("v");
	b->spans = calloc((size_t)n, sizeof(*b->spans));
	for (int i = 0; i < n; i++) {
		Cam__Bus__Span *s = calloc(1, sizeof(*s));
		char id[17];

		cam__bus__span__init(s);
		s->trace_id = strdup("4bf92f3577b34da6a3ce929d0e0e4736");
		snprintf(id, sizeof(id), "%016x", i + 1);
		s->span_id = strdup(id);
		s->parent_span_id = strdup("");
		s->name = strdup("n");
		s->service = strdup("");
		b->spans[b->n_spans++] = s;
	}
	return e;
}

static void test_retry_loses_nothing(void **state)
{
	struct receiver r = { 0 };
	struct cam_traces_config c = { .sample_ratio = 1, .flush_ms = 20, .retry_max_ms = 50,
				       .timeout_ms = 2000 };
	const union MHD_DaemonInfo *info;
	cam_traces *t = NULL;
	char url[64], err[256];
	struct timespec pause = { 0, 10 * 1000000L };

	(void)state;
	cam_log_set_level(CAM_LOG_ERROR);
	cam_metrics_reset();
	r.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_post, &r,
			       MHD_OPTION_END);
	assert_non_null(r.d);
	info = MHD_get_daemon_info(r.d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", info->port);
	c.otlp_endpoint = url;
	assert_int_equal(cam_traces_start(&c, &t, err, sizeof(err)), 0);
	assert_non_null(t);
	cam_traces_sink(t, envelope(3));
	cam_traces_sink(t, envelope(2));
	for (int i = 0; i < 300 && atomic_load(&r.spans_seen) < 5; i++)
		nanosleep(&pause, NULL);
	cam_traces_stop(t);
	MHD_stop_daemon(r.d);
	assert_true(atomic_load(&r.requests) >= 2); /* the refused one, then the retry */
	assert_int_equal(atomic_load(&r.spans_seen), 5);
	cam_metrics_reset();
}

static void test_bad_endpoint_refused(void **state)
{
	struct cam_traces_config c = { .sample_ratio = 1, .otlp_endpoint = "ftp://x" };
	cam_traces *t = NULL;
	char err[256];

	(void)state;
	assert_int_equal(cam_traces_start(&c, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "CAM_OTLP_ENDPOINT"));
	c.otlp_endpoint = NULL;
	assert_int_equal(cam_traces_start(&c, &t, err, sizeof(err)), 0);
	assert_null(t); /* no endpoint: tracing off */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_sampling),
		cmocka_unit_test(test_otlp_json),
		cmocka_unit_test(test_zipkin_json),
		cmocka_unit_test(test_retry_loses_nothing),
		cmocka_unit_test(test_bad_endpoint_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
