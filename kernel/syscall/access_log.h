/*
 * The syscall access log: one JSON line per call (the seed's fields),
 * written through the async logger.
 *
 * Lines of failing calls are rate-limited per caller (callers hash into a
 * fixed table, since anonymous callers name themselves) and in all, so
 * that one client sending bad calls as fast as it can does not fill the
 * disk: every error is still counted in cam_os_syscall_errors_total, the
 * lines held back are counted in cam_os_access_log_suppressed_total, and
 * the next line of that caller says how many of its lines were held back.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_ACCESS_LOG_H
#define CAM_SYSCALL_ACCESS_LOG_H

#include <stdint.h>

typedef struct cam_access_log cam_access_log;

enum cam_access_log_mode {
	CAM_ACCESS_LOG_ALL,
	CAM_ACCESS_LOG_ERRORS,
	CAM_ACCESS_LOG_NONE,
};

struct cam_access_log_opts {
	enum cam_access_log_mode mode;
	/* Lines of failing calls per second for one caller (bursts of twice
	 * that); all callers together get ten times it. 0: no limit. */
	double error_rate;
};

/* One call as the log line shows it. */
struct cam_access_entry {
	const char *verb;
	const char *caller_id;
	const char *request_id;
	const char *trace_id;      /* "" or NULL: none */
	const char *span_id;       /* the call's span when traced; "" or NULL: none */
	const char *error;         /* for failing calls */
	int grpc_status;
	double seconds;
};

/* Registers cam_os_access_log_suppressed_total. 0 or CAM_E*. */
int cam_access_log_new(const struct cam_access_log_opts *o, cam_access_log **out);
void cam_access_log_free(cam_access_log *l);
/* Writes the line of one call, or holds it back (any thread, lock-free). */
void cam_access_log_write(cam_access_log *l, const struct cam_access_entry *e);

#endif
