/*
 * The bounded buffer of log lines for the bus (log_bus.h): a ring of
 * malloc'd copies behind one mutex. The logger thread (through the tap)
 * and the audit writer add, the publisher thread takes; neither is on the
 * syscall path, and the lock is held for a copy or a pointer move.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/log_bus.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_table.h"
#include "common/snapshot.h"
#include "common/xmalloc.h"
#include "proto/bus.pb-c.h"

struct line {
	enum cam_log_bus_kind kind;
	size_t len;
	char *json; /* NUL-terminated copy */
};

struct cam_log_bus {
	pthread_mutex_t lock;
	struct line *ring;
	size_t cap, head, count; /* lines */
	size_t bytes, max_bytes;
	uint64_t sequence; /* of the batches taken */
	cam_series *sent, *dropped_full, *dropped_send, *dropped_invalid, *pending;
};

enum { M_SENT, M_DROPPED, M_PENDING, NMETRICS };
static const char *const L_REASON[] = { "reason", NULL };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_SENT] = { .name = "cam_os_log_bus_lines_published_total", .type = CAM_COUNTER,
		     .help = "Log lines the kernel published on the bus for the exporter's "
			     "OTLP logs push." },
	[M_DROPPED] = { .name = "cam_os_log_bus_lines_dropped_total", .type = CAM_COUNTER,
			.label_names = L_REASON,
			.help = "Log lines meant for the OTLP logs push that were lost: the "
				"buffer was full (buffer_full) or the bus refused their batch "
				"(send_failed)." },
	[M_PENDING] = { .name = "cam_os_log_bus_lines_pending", .type = CAM_GAUGE,
			.help = "Log lines waiting for the publisher to put them on the bus." },
};

int cam_log_bus_new(size_t max_lines, size_t max_bytes, cam_log_bus **out)
{
	cam_family *f[NMETRICS];
	cam_log_bus *b;
	char why[160];
	int rc = cam_metrics_table_register(metrics, NMETRICS, f, why, sizeof(why));

	if (rc) {
		cam_log(CAM_LOG_ERROR, "log_bus", "%s", why);
		return rc;
	}
	b = cam_xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	b->cap = max_lines ? max_lines : CAM_LOG_BUS_DEFAULT_LINES;
	b->max_bytes = max_bytes ? max_bytes : CAM_LOG_BUS_DEFAULT_BYTES;
	b->ring = cam_xcalloc(b->cap, sizeof(*b->ring));
	b->sent = cam_series_get(f[M_SENT], NULL);
	b->dropped_full = cam_series_get(f[M_DROPPED], (const char *[]){ "buffer_full", NULL });
	b->dropped_send = cam_series_get(f[M_DROPPED], (const char *[]){ "send_failed", NULL });
	b->dropped_invalid = cam_series_get(f[M_DROPPED], (const char *[]){ "invalid", NULL });
	b->pending = cam_series_get(f[M_PENDING], NULL);
	*out = b;
	return 0;
}

void cam_log_bus_free(cam_log_bus *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->count; i++)
		free(b->ring[(b->head + i) % b->cap].json);
	free(b->ring);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

int cam_log_bus_add(cam_log_bus *b, enum cam_log_bus_kind kind, const char *line, size_t len)
{
	struct line *l;
	char *copy;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0 || len > CAM_LOG_BUS_LINE_MAX || line[0] != '{') {
		cam_counter_inc(b->dropped_invalid);
		return CAM_ELIMIT;
	}
	copy = cam_xmalloc(len + 1);
	memcpy(copy, line, len);
	copy[len] = '\0';
	pthread_mutex_lock(&b->lock);
	if (b->count == b->cap || b->bytes + len > b->max_bytes) {
		pthread_mutex_unlock(&b->lock);
		free(copy);
		cam_counter_inc(b->dropped_full);
		return CAM_ELIMIT;
	}
	l = &b->ring[(b->head + b->count) % b->cap];
	*l = (struct line){ kind, len, copy };
	b->count++;
	b->bytes += len;
	cam_gauge_set(b->pending, (double)b->count);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

void cam_log_bus_tap(void *arg, const char *line, size_t len)
{
	cam_log_bus_add(arg, CAM_LOG_BUS_LOG, line, len);
}

void cam_log_bus_audit_tap(void *arg, const char *line, size_t len)
{
	cam_log_bus_add(arg, CAM_LOG_BUS_AUDIT, line, len);
}

size_t cam_log_bus_pending(cam_log_bus *b)
{
	size_t n;

	pthread_mutex_lock(&b->lock);
	n = b->count;
	pthread_mutex_unlock(&b->lock);
	return n;
}

/* Moves up to max of the oldest lines into out (lock held). */
static size_t pop(cam_log_bus *b, struct line *out, size_t max)
{
	size_t n = b->count < max ? b->count : max;

	for (size_t i = 0; i < n; i++) {
		out[i] = b->ring[b->head];
		b->bytes -= out[i].len;
		b->head = (b->head + 1) % b->cap;
	}
	b->count -= n;
	cam_gauge_set(b->pending, (double)b->count);
	return n;
}

size_t cam_log_bus_take(cam_log_bus *b, const char *instance_id, const char *version,
			uint8_t **buf, size_t *len)
{
	struct line *taken = cam_xmalloc(CAM_LOG_BATCH_MAX * sizeof(*taken));
	Cam__Bus__LogLine *lines = NULL, **ptrs = NULL;
	Cam__Bus__Envelope env = CAM__BUS__ENVELOPE__INIT;
	Cam__Bus__LogBatch batch = CAM__BUS__LOG_BATCH__INIT;
	size_t n;

	*buf = NULL;
	*len = 0;
	pthread_mutex_lock(&b->lock);
	n = pop(b, taken, CAM_LOG_BATCH_MAX);
	if (n)
		batch.sequence = ++b->sequence;
	pthread_mutex_unlock(&b->lock);
	if (n == 0)
		goto out_free_taken;
	lines = cam_xmalloc(n * sizeof(*lines));
	ptrs = cam_xmalloc(n * sizeof(*ptrs));
	for (size_t i = 0; i < n; i++) {
		cam__bus__log_line__init(&lines[i]);
		lines[i].kind = taken[i].kind == CAM_LOG_BUS_AUDIT ? CAM__BUS__LOG_KIND__LOG_KIND_AUDIT
								    : CAM__BUS__LOG_KIND__LOG_KIND_LOG;
		lines[i].json = taken[i].json;
		ptrs[i] = &lines[i];
	}
	batch.instance_id = (char *)instance_id;
	batch.version = (char *)version;
	batch.n_lines = n;
	batch.lines = ptrs;
	env.body_case = CAM__BUS__ENVELOPE__BODY_LOGS;
	env.logs = &batch;
	*len = cam__bus__envelope__get_packed_size(&env);
	*buf = cam_xmalloc(*len ? *len : 1);
	cam__bus__envelope__pack(&env, *buf);
	for (size_t i = 0; i < n; i++)
		free(taken[i].json);
	free(ptrs);
	free(lines);
out_free_taken:
	free(taken);
	return n;
}

void cam_log_bus_lost(cam_log_bus *b, size_t n)
{
	cam_counter_add(b->dropped_send, (double)n);
}

void cam_log_bus_sent(cam_log_bus *b, size_t n)
{
	cam_counter_add(b->sent, (double)n);
}
