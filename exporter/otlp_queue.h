/*
 * The bounded queue of encoded OTLP requests waiting to be sent.
 *
 * Bounded in bytes: a request that would take it past the bound pushes
 * the oldest ones out (their data points or records are counted as lost by
 * the caller), so an endpoint that is down for long costs at most the
 * bound; when it is back, what is left goes in the order it was made,
 * oldest first, the order a receiver of cumulative series wants. The request just pushed is always
 * kept, even when it alone is larger than the bound. Not thread-safe: the
 * pusher holds its lock around every call.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_OTLP_QUEUE_H
#define CAM_EXPORTER_OTLP_QUEUE_H

#include <stddef.h>

struct cam_otlp_request {
	struct cam_otlp_request *next;
	size_t len;   /* bytes of data */
	size_t items; /* data points or log records it carries */
	char data[];
};

struct cam_otlp_queue {
	struct cam_otlp_request *head, *tail;
	size_t count, bytes, items;
	size_t max_bytes;
};

void cam_otlp_queue_init(struct cam_otlp_queue *q, size_t max_bytes);

/*
 * Appends a copy of body[0..len) carrying items, then drops the oldest
 * requests while the queue is over max_bytes (never the new one). Returns
 * the items of the requests dropped (0: none) and their number in
 * *dropped_requests (may be NULL).
 */
size_t cam_otlp_queue_push(struct cam_otlp_queue *q, const void *body, size_t len, size_t items,
			   size_t *dropped_requests);

/* Takes the oldest request out (the caller frees it with free()), or NULL. */
struct cam_otlp_request *cam_otlp_queue_pop(struct cam_otlp_queue *q);

/* Frees every request; returns the items they carried. */
size_t cam_otlp_queue_clear(struct cam_otlp_queue *q);

#endif
