/*
 * HTTP answers to requests that are not gRPC: a browser, a curl or a
 * health checker that speaks HTTP/2 but not gRPC gets an HTTP status and a
 * short text saying why, as grpc-go answers, instead of a gRPC
 * trailers-only response it cannot read. 404 for a path no method has,
 * 415 for a content-type other than application/grpc, 405 for a method
 * other than POST. The answer goes out once the client has ended its
 * stream (RFC 9113 8.1); what it sends meanwhile is read and dropped.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "kernel/grpc/internal.h"

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), \
		   NGHTTP2_NV_FLAG_NO_COPY_NAME }

static void set_answer(struct cam_grpc_call *c, int status, const char *fmt, const char *arg)
{
	char body[256];
	int n = snprintf(body, sizeof(body), fmt, arg);

	c->http_status = status;
	c->http_len = n < 0 ? 0 : (size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1;
	c->http_body = cam_xmalloc(c->http_len + 1);
	memcpy(c->http_body, body, c->http_len);
	c->http_body[c->http_len] = '\0';
}

/* The path as it may appear in a text: printable ASCII, shortened. */
static void printable_path(const char *path, char *out, size_t cap)
{
	size_t n = 0;

	for (; path && *path && n + 1 < cap && n < 100; path++)
		out[n++] = *path > ' ' && *path < 0x7f ? *path : '?';
	out[n] = '\0';
}

void cam_grpc__http_classify(struct cam_grpc_call *c)
{
	char path[104];

	if (c->is_post && c->is_grpc)
		return;
	printable_path(c->path, path, sizeof(path));
	if (!c->method) {
		set_answer(c, 404, "no such path: %s (this port serves gRPC)\n", path);
	} else if (!c->is_grpc) {
		cam_grpc__count_perr(c->srv, PERR_CONTENT_TYPE);
		set_answer(c, 415, "%s is a gRPC method: content-type must be application/grpc\n",
			   path);
	} else {
		cam_grpc__count_perr(c->srv, PERR_HEADER);
		set_answer(c, 405, "%s is a gRPC method: use POST\n", path);
	}
	cam_grpc__count_refusal(c->srv, REFUSE_NOT_GRPC, NULL);
	c->ended_io = true; /* nothing of the request is buffered or run */
}

static ssize_t read_text(nghttp2_session *h2, int32_t stream_id, uint8_t *buf,
			 size_t length, uint32_t *data_flags, nghttp2_data_source *source,
			 void *ud)
{
	struct cam_grpc_call *c = source->ptr;
	size_t n = c->http_len - c->http_off;

	(void)h2;
	(void)stream_id;
	(void)ud;
	if (n > length)
		n = length;
	memcpy(buf, c->http_body + c->http_off, n);
	c->http_off += n;
	if (c->http_off == c->http_len)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

void cam_grpc__http_answer(struct cam_grpc_call *c)
{
	static const char *const codes[] = { "404", "415", "405" };
	char len[24];
	const char *code = c->http_status == 404 ? codes[0] : c->http_status == 415 ? codes[1]
										  : codes[2];
	nghttp2_nv nv[5] = { NV(":status", code),
			     NV("content-type", "text/plain; charset=utf-8") };
	nghttp2_data_provider prd = { .source.ptr = c, .read_callback = read_text };
	size_t n = 2;

	if (c->headers_sent || !c->conn)
		return;
	snprintf(len, sizeof(len), "%zu", c->http_len);
	nv[n++] = (nghttp2_nv)NV("content-length", len);
	if (c->http_status == 405)
		nv[n++] = (nghttp2_nv)NV("allow", "POST");
	c->headers_sent = c->trailers_sent = true;
	nghttp2_submit_response(c->conn->h2, c->stream_id, nv, n, c->is_head ? NULL : &prd);
}
