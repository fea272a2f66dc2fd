/*
 * The OTLP/HTTP POST of otlp_post.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/otlp_post.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/gzip.h"

#define CONNECT_TIMEOUT_MS 2000
/* The longest Retry-After honoured; a larger one is cut to this. */
#define RETRY_AFTER_MAX_MS (5u * 60 * 1000)

enum cam_otlp_post_result cam_otlp_post_classify(long status)
{
	if (status >= 200 && status < 300)
		return CAM_OTLP_POST_OK;
	if (status == 0 || status == 429 || status == 502 || status == 503 || status == 504)
		return CAM_OTLP_POST_RETRY;
	return CAM_OTLP_POST_REFUSED;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static struct curl_slist *header_list(const struct cam_curl_lib *cl,
				      const struct cam_otlp_post_config *c)
{
	struct curl_slist *h = cl->slist_append(NULL, "Content-Type: application/x-protobuf");
	char line[1024];

	if (c->gzip)
		h = cl->slist_append(h, "Content-Encoding: gzip");
	/* No "Expect: 100-continue" round trip for large bodies. */
	h = cl->slist_append(h, "Expect:");
	for (size_t i = 0; c->headers && i < c->headers->n; i++) {
		snprintf(line, sizeof(line), "%s: %s", c->headers->kv[i].key,
			 c->headers->kv[i].value);
		h = cl->slist_append(h, line);
	}
	return h;
}

static void set_tls(const struct cam_curl_lib *cl, CURL *curl, const struct cam_otlp_post_config *c)
{
	if (c->ca_file)
		cl->easy_setopt(curl, CURLOPT_CAINFO, c->ca_file);
	if (c->client_cert)
		cl->easy_setopt(curl, CURLOPT_SSLCERT, c->client_cert);
	if (c->client_key)
		cl->easy_setopt(curl, CURLOPT_SSLKEY, c->client_key);
}

enum cam_otlp_post_result cam_otlp_post(const struct cam_curl_lib *cl, CURL *curl,
					const struct cam_otlp_post_config *c, const void *body,
					size_t len, struct cam_otlp_post_answer *ans)
{
	struct curl_slist *hdr = header_list(cl, c);
	void *packed = NULL;
	size_t packed_len = len;
	curl_off_t retry_after = 0;
	CURLcode rc;

	memset(ans, 0, sizeof(*ans));
	if (c->gzip && cam_gzip(body, len, &packed, &packed_len) == 0)
		body = packed;
	else
		packed_len = len;
	cl->easy_setopt(curl, CURLOPT_URL, c->url);
	cl->easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	cl->easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)packed_len);
	cl->easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
	cl->easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	cl->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(c->timeout_ms < CONNECT_TIMEOUT_MS ? c->timeout_ms : CONNECT_TIMEOUT_MS));
	cl->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	cl->easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	cl->easy_setopt(curl, CURLOPT_USERAGENT, "cam-exporter");
	set_tls(cl, curl, c);
	rc = cl->easy_perform(curl);
	cl->slist_free_all(hdr);
	free(packed);
	if (rc != CURLE_OK) {
		snprintf(ans->detail, sizeof(ans->detail), "%s", cl->easy_strerror(rc));
		return CAM_OTLP_POST_RETRY;
	}
	cl->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &ans->status);
	if (cl->easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
	    retry_after > 0)
		ans->retry_after_ms = retry_after > RETRY_AFTER_MAX_MS / 1000
					      ? RETRY_AFTER_MAX_MS
					      : (uint32_t)retry_after * 1000u;
	snprintf(ans->detail, sizeof(ans->detail), "HTTP %ld", ans->status);
	return cam_otlp_post_classify(ans->status);
}
