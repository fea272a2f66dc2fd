/*
 * Log lines for the exporter's OTLP logs push, carried over the bus.
 *
 * The kernel never speaks HTTP on its own, so when OTLP logs are on
 * (CAM_OTLP_LOGS_ENDPOINT or CAM_OTLP_ENDPOINT, set on both programs) the
 * lines it logs travel to cam-exporter beside the span batches: the
 * logger thread hands each line it writes to this buffer (the log tap,
 * common/log.h) and the publisher thread takes them out as LogBatch
 * messages after each snapshot. The buffer is bounded in lines and bytes;
 * a line that finds it full is dropped and counted in
 * cam_os_log_bus_lines_dropped_total{reason="buffer_full"}, a batch the bus
 * refused in {reason="send_failed"}. The syscall path is not involved: it
 * only queued its line in the logger's ring, as before.
 *
 * Audit records (another kind of JSON line) join the same batches through
 * cam_log_bus_add with CAM_LOG_BUS_AUDIT: kernel/main.c sets the audit
 * writer's tap to cam_log_bus_audit_tap while OTLP logs are on, and the
 * exporter turns them into LogRecords of their own instrumentation
 * scope (cam-kernel/audit), the body "audit <verb>", every field an
 * attribute.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_KERNEL_LOG_BUS_H
#define CAM_KERNEL_LOG_BUS_H

#include <stddef.h>
#include <stdint.h>


typedef struct cam_log_bus cam_log_bus;

enum cam_log_bus_kind {
	CAM_LOG_BUS_LOG = 1,   /* a line of the kernel's log */
	CAM_LOG_BUS_AUDIT = 2, /* a line of the audit log */
};

/* Defaults of cam_log_bus_new's bounds. */
#define CAM_LOG_BUS_DEFAULT_LINES 16384
#define CAM_LOG_BUS_DEFAULT_BYTES (8u * 1024 * 1024)

/*
 * Makes an empty buffer of at most max_lines lines and max_bytes bytes (0:
 * the defaults) and registers its metrics. 0 or a CAM_E* code. Free with
 * cam_log_bus_free (NULL is a no-op) after the tap is removed.
 */
int cam_log_bus_new(size_t max_lines, size_t max_bytes, cam_log_bus **out);
void cam_log_bus_free(cam_log_bus *b);

/*
 * Copies one line in (a trailing newline is cut). Thread-safe, never
 * blocks on I/O; a line that does not fit, is empty or longer than
 * CAM_LOG_BUS_LINE_MAX is dropped and counted. Returns 0 or CAM_ELIMIT.
 */
int cam_log_bus_add(cam_log_bus *b, enum cam_log_bus_kind kind, const char *line,
		    size_t len);

/* The log tap (cam_log_set_tap(cam_log_bus_tap, b)): cam_log_bus_add of a
 * CAM_LOG_BUS_LOG line. */
void cam_log_bus_tap(void *arg, const char *line, size_t len);

/* The audit log's tap (struct cam_audit_opts.tap, arg the log bus):
 * cam_log_bus_add of a CAM_LOG_BUS_AUDIT line. */
void cam_log_bus_audit_tap(void *arg, const char *line, size_t len);

/* Lines waiting. */
size_t cam_log_bus_pending(cam_log_bus *b);

/*
 * The publisher's side: takes up to CAM_LOG_BATCH_MAX of the oldest lines
 * and packs them into an Envelope holding a LogBatch (*buf malloc'd, the
 * caller frees it). Returns the number of lines packed (0: none waiting,
 * *buf NULL). The lines are gone from the buffer once taken: count them
 * lost with cam_log_bus_lost if the bus refuses the batch.
 */
size_t cam_log_bus_take(cam_log_bus *b, const char *instance_id, const char *version,
			uint8_t **buf, size_t *len);

/* Counts n lines of a batch the bus did not take; and n sent. */
void cam_log_bus_lost(cam_log_bus *b, size_t n);
void cam_log_bus_sent(cam_log_bus *b, size_t n);

#endif
