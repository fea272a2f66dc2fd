/*
 * Structured logging: one JSON object per line on stderr.
 *
 * A line is built on the caller's stack (cam_log_begin, the field adders,
 * cam_log_end) and handed to a bounded lock-free ring; a logger thread
 * writes the ring out. The caller never blocks and never makes a syscall:
 * when the ring is full the line is dropped and counted
 * (cam_os_log_lines_dropped_total). Before cam_log_start() and after
 * cam_log_stop(), lines are written synchronously instead.
 *
 * Fields: timestamp (RFC 3339 UTC, milliseconds), level (DEBUG, INFO, WARN,
 * ERROR), component, message, then whatever the caller adds. Never pass
 * secrets (tokens, payload data) to a field.
 *
 * Formats (CAM_LOG_FORMAT): "json", the names above; "ecs", the same lines
 * with Elastic Common Schema names (@timestamp, log.level in lower case,
 * log.logger, message, service.name, ecs.version, trace.id, event.action,
 * event.outcome, event.duration in nanoseconds, user.name, event.id,
 * error.message; any other field as cam.<key>). Under systemd, when stderr
 * is the journal stream, each line goes to journald as a native entry
 * instead (common/log_journal.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_LOG_H
#define CAM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cam_log_level {
	CAM_LOG_DEBUG = 0,
	CAM_LOG_INFO = 1,
	CAM_LOG_WARN = 2,
	CAM_LOG_ERROR = 3,
};

enum cam_log_format {
	CAM_LOG_FORMAT_JSON = 0,
	CAM_LOG_FORMAT_ECS = 1,
};

#define CAM_LOG_LINE_MAX 1024

struct cam_log_line {
	size_t len;
	bool truncated;
	bool ecs;         /* field names are ECS's (the format when begun) */
	bool has_message;
	char buf[CAM_LOG_LINE_MAX];
};

/* "debug", "info", "warn"/"warning", "error" (any case); CAM_EINVAL else. */
int cam_log_parse_level(const char *s, enum cam_log_level *out);
void cam_log_set_level(enum cam_log_level level);
bool cam_log_enabled(enum cam_log_level level);

/* "json" or "ecs" (any case); CAM_EINVAL else. */
int cam_log_parse_format(const char *s, enum cam_log_format *out);
/* Lines begun from now on use this format. service names the program
 * (ECS service.name, the journal's SYSLOG_IDENTIFIER); a string literal or
 * one that outlives the logger. */
void cam_log_set_format(enum cam_log_format format, const char *service);
/* Sends lines to journald as native entries (true) or writes them to
 * stderr (false). */
void cam_log_set_journal(bool on);
/*
 * What a program's main calls with CAM_LOG_FORMAT: parses the format and
 * sets it, and switches to journal entries when stderr is the journal
 * stream (JOURNAL_STREAM). A bad format is CAM_EINVAL and changes nothing.
 */
int cam_log_configure(const char *format, const char *service);

/* Starts the logger thread with a ring of `capacity` lines (power of two). */
int cam_log_start(size_t capacity);
/* Writes out what the ring holds, then stops the thread. */
void cam_log_stop(void);
/* Lines dropped because the ring was full, since start. */
uint64_t cam_log_dropped(void);
/* Registers cam_os_log_lines_dropped_total (call once metrics exist). */
void cam_log_register_metrics(void);

/*
 * A tap sees every line the logger thread writes out of the ring (in the
 * line's format, its newline included), on the logger thread: it must be
 * quick and must not log. Lines written synchronously (before
 * cam_log_start, after cam_log_stop) do not pass it. One tap at a time;
 * setting NULL removes it and returns only once a call in progress has
 * returned, so arg may be freed then. The kernel's tap puts lines on the
 * bus for the exporter's OTLP logs push (kernel/log_bus.h).
 */
typedef void (*cam_log_tap_fn)(void *arg, const char *line, size_t len);
void cam_log_set_tap(cam_log_tap_fn fn, void *arg);

/* Returns false (and the line must not be used) when level is filtered. */
bool cam_log_begin(struct cam_log_line *l, enum cam_log_level level,
		   const char *component, const char *message);
void cam_log_str(struct cam_log_line *l, const char *key, const char *val);
void cam_log_num(struct cam_log_line *l, const char *key, double val);
void cam_log_int(struct cam_log_line *l, const char *key, int64_t val);
void cam_log_bool(struct cam_log_line *l, const char *key, bool val);
/* Closes the object and queues the line. */
void cam_log_end(struct cam_log_line *l);

/* A line with just a printf-style message. */
void cam_log(enum cam_log_level level, const char *component, const char *fmt,
	     ...) __attribute__((format(printf, 3, 4)));

/* Appends s to buf as JSON string content (no quotes); returns bytes written,
 * never more than cap - 1, always NUL-terminated. Shared with the renderers. */
size_t cam_json_escape(char *buf, size_t cap, const char *s);

#endif
