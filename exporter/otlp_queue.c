/*
 * The request queue of otlp_queue.h: a singly linked FIFO.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/otlp_queue.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

void cam_otlp_queue_init(struct cam_otlp_queue *q, size_t max_bytes)
{
	memset(q, 0, sizeof(*q));
	q->max_bytes = max_bytes;
}

struct cam_otlp_request *cam_otlp_queue_pop(struct cam_otlp_queue *q)
{
	struct cam_otlp_request *r = q->head;

	if (!r)
		return NULL;
	q->head = r->next;
	if (!q->head)
		q->tail = NULL;
	q->count--;
	q->bytes -= r->len;
	q->items -= r->items;
	r->next = NULL;
	return r;
}

size_t cam_otlp_queue_push(struct cam_otlp_queue *q, const void *body, size_t len, size_t items,
			   size_t *dropped_requests)
{
	struct cam_otlp_request *r = cam_xmalloc(sizeof(*r) + (len ? len : 1));
	size_t dropped = 0, nreq = 0;

	r->next = NULL;
	r->len = len;
	r->items = items;
	memcpy(r->data, body, len);
	while (q->head && q->bytes + len > q->max_bytes) {
		struct cam_otlp_request *old = cam_otlp_queue_pop(q);

		dropped += old->items;
		nreq++;
		free(old);
	}
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->count++;
	q->bytes += len;
	q->items += items;
	if (dropped_requests)
		*dropped_requests = nreq;
	return dropped;
}

size_t cam_otlp_queue_clear(struct cam_otlp_queue *q)
{
	struct cam_otlp_request *r;
	size_t items = 0;

	while ((r = cam_otlp_queue_pop(q))) {
		items += r->items;
		free(r);
	}
	return items;
}
