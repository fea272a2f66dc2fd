/*
 * The asynchronous JSON logger described in log.h.
 *
 * The ring is a bounded multi-producer queue (Vyukov's: each slot carries a
 * sequence number that says whether it is free for the producer at that
 * position or full for the consumer), so producers never take a lock and
 * never wait: a full ring means the line is dropped and counted. The logger
 * thread polls the ring, batching lines into one write(2); when the ring is
 * empty it sleeps a few milliseconds, so producers never have to wake it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/log.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log_journal.h"
#include "common/metrics.h"
#include "common/metrics_table.h"
#include "common/utf8.h"
#include "common/xmalloc.h"

struct slot {
	_Atomic size_t seq;
	size_t len;
	char buf[CAM_LOG_LINE_MAX];
};

static struct {
	struct slot *slots;
	size_t mask;
	_Atomic size_t head; /* next position to produce */
	size_t tail;         /* next position to consume (logger thread only) */
	_Atomic int running;
	pthread_t thread;
	_Atomic uint64_t dropped;
	_Atomic int level;
	_Atomic int format;
	_Atomic bool journal;
	const char *_Atomic service;
	int fd;
} ring = { .level = CAM_LOG_INFO, .format = CAM_LOG_FORMAT_JSON, .service = "cam-os", .fd = 2 };

/* The tap (log.h): called with tap_lock held, which drain() takes once per
 * batch of lines, so removing the tap waits for a call in progress. */
static pthread_mutex_t tap_lock = PTHREAD_MUTEX_INITIALIZER;
static cam_log_tap_fn tap_fn;
static void *tap_arg;

void cam_log_set_tap(cam_log_tap_fn fn, void *arg)
{
	pthread_mutex_lock(&tap_lock);
	tap_fn = fn;
	tap_arg = arg;
	pthread_mutex_unlock(&tap_lock);
}

static const char *const level_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
static const char *const ecs_level_names[] = { "debug", "info", "warn", "error" };

/* The ECS version whose field names the ecs format uses. */
#define ECS_VERSION "8.11.0"

/* Our field names that ECS has a field for; any other key becomes cam.<key>.
 * latency_ms and success are converted (event.duration, event.outcome). */
static const struct {
	const char *ours, *ecs;
} ecs_names[] = {
	{ "component", "log.logger" }, { "message", "message" },
	{ "syscall", "event.action" }, { "caller_id", "user.name" },
	{ "request_id", "event.id" },  { "trace_id", "trace.id" },
	{ "span_id", "span.id" },      { "error", "error.message" },
};

int cam_log_parse_level(const char *s, enum cam_log_level *out)
{
	if (!s)
		return CAM_EINVAL;
	if (!strcasecmp(s, "debug"))
		*out = CAM_LOG_DEBUG;
	else if (!strcasecmp(s, "info"))
		*out = CAM_LOG_INFO;
	else if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning"))
		*out = CAM_LOG_WARN;
	else if (!strcasecmp(s, "error"))
		*out = CAM_LOG_ERROR;
	else
		return CAM_EINVAL;
	return 0;
}

void cam_log_set_level(enum cam_log_level level)
{
	atomic_store(&ring.level, (int)level);
}

bool cam_log_enabled(enum cam_log_level level)
{
	return (int)level >= atomic_load_explicit(&ring.level, memory_order_relaxed);
}

int cam_log_parse_format(const char *s, enum cam_log_format *out)
{
	if (!s)
		return CAM_EINVAL;
	if (!strcasecmp(s, "json"))
		*out = CAM_LOG_FORMAT_JSON;
	else if (!strcasecmp(s, "ecs"))
		*out = CAM_LOG_FORMAT_ECS;
	else
		return CAM_EINVAL;
	return 0;
}

void cam_log_set_format(enum cam_log_format format, const char *service)
{
	if (service)
		atomic_store(&ring.service, service);
	atomic_store(&ring.format, (int)format);
}

void cam_log_set_journal(bool on)
{
	atomic_store(&ring.journal, on);
}

int cam_log_configure(const char *format, const char *service)
{
	enum cam_log_format f;

	if (cam_log_parse_format(format, &f))
		return CAM_EINVAL;
	cam_log_set_format(f, service);
	cam_log_set_journal(cam_log_journal_detect());
	return 0;
}

uint64_t cam_log_dropped(void)
{
	return atomic_load(&ring.dropped);
}

/* Writes all of buf, retrying on EINTR; a broken stderr is ignored. */
static void write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(ring.fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* One line to journald; to stderr when that fails (no journal socket, or
 * journald refused it), so a line is never lost on the way. */
static void emit_journal(const char *buf, size_t len)
{
	if (cam_log_journal_send(buf, len, atomic_load(&ring.service)) != 0)
		write_all(buf, len);
}

/* Moves what the ring holds into batch writes (or journal entries);
 * returns lines written. */
static size_t drain(void)
{
	static char out[64 * 1024];
	size_t used = 0, lines = 0;
	bool journal = atomic_load(&ring.journal);

	pthread_mutex_lock(&tap_lock);
	for (;;) {
		struct slot *s = &ring.slots[ring.tail & ring.mask];
		size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);

		if (seq != ring.tail + 1)
			break; /* empty, or a producer is still filling it */
		if (tap_fn)
			tap_fn(tap_arg, s->buf, s->len);
		if (journal) {
			emit_journal(s->buf, s->len);
		} else if (used + s->len > sizeof(out)) {
			write_all(out, used);
			used = 0;
		}
		if (!journal) {
			memcpy(out + used, s->buf, s->len);
			used += s->len;
		}
		atomic_store_explicit(&s->seq, ring.tail + ring.mask + 1,
				      memory_order_release);
		ring.tail++;
		lines++;
	}
	pthread_mutex_unlock(&tap_lock);
	if (used)
		write_all(out, used);
	return lines;
}

static void *logger_main(void *arg)
{
	const struct timespec nap = { 0, 5 * 1000 * 1000 };

	(void)arg;
	while (atomic_load(&ring.running)) {
		if (drain() == 0)
			nanosleep(&nap, NULL);
	}
	drain();
	return NULL;
}

int cam_log_start(size_t capacity)
{
	size_t cap = 16;

	if (atomic_load(&ring.running))
		return 0;
	while (cap < capacity)
		cap <<= 1;
	ring.slots = cam_xcalloc(cap, sizeof(struct slot));
	for (size_t i = 0; i < cap; i++)
		atomic_init(&ring.slots[i].seq, i);
	ring.mask = cap - 1;
	atomic_store(&ring.head, 0);
	ring.tail = 0;
	atomic_store(&ring.running, 1);
	if (pthread_create(&ring.thread, NULL, logger_main, NULL) != 0) {
		atomic_store(&ring.running, 0);
		free(ring.slots);
		ring.slots = NULL;
		return CAM_EINTERNAL;
	}
	return 0;
}

void cam_log_stop(void)
{
	if (!atomic_exchange(&ring.running, 0))
		return;
	pthread_join(ring.thread, NULL);
	free(ring.slots);
	ring.slots = NULL;
}

/* Queues a finished line; drops and counts it when the ring is full. */
static void enqueue(const char *buf, size_t len)
{
	size_t pos = atomic_load_explicit(&ring.head, memory_order_relaxed);

	if (!atomic_load_explicit(&ring.running, memory_order_acquire) || !ring.slots) {
		if (atomic_load(&ring.journal))
			emit_journal(buf, len);
		else
			write_all(buf, len);
		return;
	}
	for (;;) {
		struct slot *s = &ring.slots[pos & ring.mask];
		size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		intptr_t diff = (intptr_t)seq - (intptr_t)pos;

		if (diff == 0) {
			if (atomic_compare_exchange_weak_explicit(
				    &ring.head, &pos, pos + 1, memory_order_relaxed,
				    memory_order_relaxed)) {
				memcpy(s->buf, buf, len);
				s->len = len;
				atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
				return;
			}
		} else if (diff < 0) {
			atomic_fetch_add_explicit(&ring.dropped, 1, memory_order_relaxed);
			return;
		} else {
			pos = atomic_load_explicit(&ring.head, memory_order_relaxed);
		}
	}
}

/* cam_json_escape, saying whether all of s fitted. */
static size_t escape(char *buf, size_t cap, const char *s, bool *whole)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	*whole = !*p;
	if (cap == 0)
		return 0;
	while (*p) {
		char esc[8];
		const char *piece = esc;
		size_t plen, seq = cam_utf8_seq(p);

		if (seq == 0) {
			piece = "\\ufffd"; /* invalid UTF-8 byte */
			plen = 6;
			seq = 1;
		} else if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			plen = 2;
		} else if (*p == '\n') {
			piece = "\\n";
			plen = 2;
		} else if (*p == '\t') {
			piece = "\\t";
			plen = 2;
		} else if (*p == '\r') {
			piece = "\\r";
			plen = 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			plen = 6;
		} else {
			piece = (const char *)p;
			plen = seq;
		}
		if (o + plen >= cap)
			break;
		memcpy(buf + o, piece, plen);
		o += plen;
		p += seq;
	}
	buf[o] = '\0';
	*whole = !*p;
	return o;
}

size_t cam_json_escape(char *buf, size_t cap, const char *s)
{
	bool whole;

	return escape(buf, cap, s, &whole);
}

/*
 * A line is built field by field, each appended whole or not at all, so
 * that what is written is always a JSON object: a field that does not fit
 * is left out (a string value is shortened to fit) and the line says
 * "truncated":true. Room for that mark and the closing "}\n" is kept.
 */
static const char truncated_mark[] = ",\"truncated\":true";
#define LINE_RESERVE (sizeof(truncated_mark) - 1 + 2)

/* Bytes a field may still take. */
static size_t room(const struct cam_log_line *l)
{
	return l->len + LINE_RESERVE < sizeof(l->buf) ? sizeof(l->buf) - l->len - LINE_RESERVE : 0;
}

static void append_raw(struct cam_log_line *l, const char *s, size_t n)
{
	if (n > room(l)) {
		l->truncated = true;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/* Writes ,"key": into tmp (at least 140 bytes); returns its length. */
static size_t key_prefix(char *tmp, const char *key)
{
	size_t n = 0;

	tmp[n++] = ',';
	tmp[n++] = '"';
	n += cam_json_escape(tmp + n, 128, key);
	tmp[n++] = '"';
	tmp[n++] = ':';
	return n;
}

/* A field whose value is n bytes of JSON (a number, true, null). */
static void append_field(struct cam_log_line *l, const char *key, const char *val, size_t n)
{
	char tmp[192];
	size_t k = key_prefix(tmp, key);

	if (k + n > sizeof(tmp)) {
		l->truncated = true;
		return;
	}
	memcpy(tmp + k, val, n);
	append_raw(l, tmp, k + n);
}

/* The name a field has in the line's format: ours, or ECS's (tmp holds
 * cam.<key> for a key ECS has no field for). */
static const char *field_key(const struct cam_log_line *l, const char *key, char *tmp, size_t cap)
{
	if (!l->ecs)
		return key;
	for (size_t i = 0; i < sizeof(ecs_names) / sizeof(ecs_names[0]); i++) {
		if (!strcmp(key, ecs_names[i].ours))
			return ecs_names[i].ecs;
	}
	snprintf(tmp, cap, "cam.%s", key);
	return tmp;
}

bool cam_log_begin(struct cam_log_line *l, enum cam_log_level level,
		   const char *component, const char *message)
{
	struct timespec ts;
	struct tm tm;
	char head[96];
	int n;

	if (!cam_log_enabled(level))
		return false;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	l->len = 0;
	l->truncated = false;
	l->ecs = atomic_load_explicit(&ring.format, memory_order_relaxed) == CAM_LOG_FORMAT_ECS;
	l->has_message = false;
	n = snprintf(head, sizeof(head),
		     "{\"%s\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\","
		     "\"%s\":\"%s\"",
		     l->ecs ? "@timestamp" : "timestamp", tm.tm_year + 1900, tm.tm_mon + 1,
		     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
		     l->ecs ? "log.level" : "level",
		     l->ecs ? ecs_level_names[level] : level_names[level]);
	append_raw(l, head, (size_t)n);
	cam_log_str(l, "component", component);
	if (message)
		cam_log_str(l, "message", message);
	if (l->ecs) {
		/* Raw so that they keep their own names. */
		char tmp[160];

		n = snprintf(tmp, sizeof(tmp), ",\"service.name\":\"");
		n += (int)cam_json_escape(tmp + n, sizeof(tmp) - (size_t)n - 2,
					  atomic_load(&ring.service));
		n += snprintf(tmp + n, sizeof(tmp) - (size_t)n, "\"");
		append_raw(l, tmp, (size_t)n);
		append_raw(l, ",\"ecs.version\":\"" ECS_VERSION "\"",
			   sizeof(",\"ecs.version\":\"" ECS_VERSION "\"") - 1);
	}
	return true;
}

/* A string field under exactly this name. */
static void append_str(struct cam_log_line *l, const char *key, const char *val)
{
	char tmp[CAM_LOG_LINE_MAX];
	size_t k = key_prefix(tmp, key), avail = room(l), e;
	bool whole;

	/* The key, the quotes and at least a little of the value. */
	if (avail < k + 2 + 8 || k + 3 > sizeof(tmp)) {
		l->truncated = true;
		return;
	}
	if (avail > sizeof(tmp))
		avail = sizeof(tmp);
	tmp[k] = '"';
	e = escape(tmp + k + 1, avail - k - 1, val ? val : "", &whole);
	tmp[k + 1 + e] = '"';
	if (!whole)
		l->truncated = true;
	append_raw(l, tmp, k + e + 2);
}

void cam_log_str(struct cam_log_line *l, const char *key, const char *val)
{
	char name[160];

	if (!strcmp(key, "message"))
		l->has_message = true;
	append_str(l, field_key(l, key, name, sizeof(name)), val);
	/* ECS wants a message on every event: an access line's is its verb. */
	if (l->ecs && !l->has_message && !strcmp(key, "syscall")) {
		char msg[160];

		snprintf(msg, sizeof(msg), "syscall %s", val ? val : "");
		append_str(l, "message", msg);
		l->has_message = true;
	}
}

/* An integer field under exactly this name. */
static void append_int(struct cam_log_line *l, const char *key, int64_t val)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)val);

	append_field(l, key, tmp, (size_t)n);
}

void cam_log_num(struct cam_log_line *l, const char *key, double val)
{
	char tmp[40], name[160];
	int n;

	/* ECS's event.duration is an integer of nanoseconds. */
	if (l->ecs && !strcmp(key, "latency_ms") && isfinite(val)) {
		append_int(l, "event.duration", (int64_t)llround(val * 1e6));
		return;
	}
	if (!isfinite(val))
		n = snprintf(tmp, sizeof(tmp), "null");
	else
		n = snprintf(tmp, sizeof(tmp), "%.6g", val);
	append_field(l, field_key(l, key, name, sizeof(name)), tmp, (size_t)n);
}

void cam_log_int(struct cam_log_line *l, const char *key, int64_t val)
{
	char name[160];

	append_int(l, field_key(l, key, name, sizeof(name)), val);
}

void cam_log_bool(struct cam_log_line *l, const char *key, bool val)
{
	char name[160];

	if (l->ecs && !strcmp(key, "success")) {
		append_str(l, "event.outcome", val ? "success" : "failure");
		return;
	}
	append_field(l, field_key(l, key, name, sizeof(name)), val ? "true" : "false", val ? 4 : 5);
}

void cam_log_end(struct cam_log_line *l)
{
	/* room() kept space for the mark and the closing "}\n". */
	if (l->truncated) {
		memcpy(l->buf + l->len, truncated_mark, sizeof(truncated_mark) - 1);
		l->len += sizeof(truncated_mark) - 1;
	}
	l->buf[l->len++] = '}';
	l->buf[l->len++] = '\n';
	enqueue(l->buf, l->len);
}

void cam_log(enum cam_log_level level, const char *component, const char *fmt, ...)
{
	struct cam_log_line l;
	char msg[512];
	va_list ap;

	if (!cam_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cam_log_begin(&l, level, component, msg))
		cam_log_end(&l);
}

static void collect_dropped(void *arg)
{
	cam_gauge_set(arg, (double)cam_log_dropped());
}

static const struct cam_family_desc metrics[] = {
	{ .name = "cam_os_log_lines_dropped_total", .type = CAM_COUNTER,
	  .help = "Log lines dropped because the logger's ring was full." },
};

void cam_log_register_metrics(void)
{
	cam_family *f;
	char why[160];

	if (cam_metrics_table_register(metrics, 1, &f, why, sizeof(why)) == 0)
		cam_metrics_add_collector(collect_dropped, cam_series_get(f, NULL));
}
