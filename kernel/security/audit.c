/*
 * The audit trail (audit.h): records formatted by the caller, chained and
 * written in groups by the writer thread, sealed by the sealer thread.
 *
 * Locks: `lock` guards the queue, the trail's position (seq, last hash,
 * file size) and the failing state; the writer formats a group's chain
 * outside it (it alone moves the position) and takes it again to commit.
 * The sealer only talks to the TPM and queues its seal line like any
 * record.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/security/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/audit_chain.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/metrics_table.h"
#include "common/str.h"
#include "common/xmalloc.h"

#define LINE_MAX_BYTES 4096
#define RETRY_MS 1000

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int rc;
	char why[200];
};

/* A record on its way: its line up to the chain fields, which the writer
 * adds ("seq":N,"prev":"...","}\n"). */
struct node {
	struct node *next;
	char *text;            /* the bytes after the node itself */
	size_t len;
	const char *event;     /* for the count */
	struct waiter *w;      /* a durable record's waiter; NULL: none */
};

/* A node and its text in one allocation. */
static struct node *node_new(const char *text, size_t len, const char *event)
{
	struct node *x = cam_xmalloc(sizeof(*x) + len);

	x->next = NULL;
	x->text = (char *)(x + 1);
	memcpy(x->text, text, len);
	x->len = len;
	x->event = event;
	x->w = NULL;
	return x;
}

enum { EV_DENY, EV_ADMIN, EV_AUTH, EV_WRITE, EV_CALL, EV_SEAL, EV_OTHER, NEV };
static const char *const ev_names[NEV] = { "deny", "admin", "auth", "write", "call", "seal",
					   "other" };

static const char *const L_EVENT[] = { "event", NULL };
enum { M_RECORDS, M_FAILURES, M_SEALS, NMETRICS };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_RECORDS] = { .name = "cam_os_audit_records_total",
			.help = "Audit records written, by event (deny, admin, auth, write, call, seal, other)",
			.type = CAM_COUNTER, .label_names = L_EVENT, .max_series = NEV },
	[M_FAILURES] = { .name = "cam_os_audit_write_failures_total",
			 .help = "Audit records that could not be written (their calls were refused, or were denials already)",
			 .type = CAM_COUNTER, .max_series = 1 },
	[M_SEALS] = { .name = "cam_os_audit_seals_total",
		      .help = "Seals of the audit trail signed by the TPM",
		      .type = CAM_COUNTER, .max_series = 1 },
};

struct cam_audit {
	struct cam_audit_opts o;
	char *path;
	int fd;
	cam_series *records[NEV], *failures, *seals;

	pthread_mutex_t lock;
	pthread_cond_t cond;     /* to the writer: records, a seal, stop */
	pthread_cond_t room;     /* to producers: the queue has room */
	struct node *head, **tail;
	size_t queued;           /* bytes */
	bool stopping, failing;
	uint64_t taken, finished; /* groups the writer took, and was done with */
	char error[200];
	uint64_t seq;            /* the last line's */
	uint8_t last[CAM_AUDIT_HASH];
	uint64_t size;           /* of the current file */
	uint64_t since_seal;     /* lines since the last seal was asked for */
	int64_t seal_at_ns;      /* when one is due by time */
	pthread_t writer;

	/* The sealer: one request at a time. */
	pthread_t sealer;
	pthread_cond_t seal_cond;
	bool seal_wanted;
	char seal_hex[2 * CAM_AUDIT_HASH + 1];
	uint64_t seal_lines;
};

int cam_audit_parse_events(const char *s, unsigned *out)
{
	char buf[128], *save = NULL, *tok;

	if (strlen(s) >= sizeof(buf))
		return CAM_EINVAL;
	strcpy(buf, s);
	*out = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "deny"))
			*out |= CAM_AUDIT_DENY;
		else if (!strcmp(tok, "admin"))
			*out |= CAM_AUDIT_ADMIN;
		else if (!strcmp(tok, "auth"))
			*out |= CAM_AUDIT_AUTH;
		else if (!strcmp(tok, "write"))
			*out |= CAM_AUDIT_WRITE;
		else if (!strcmp(tok, "all"))
			*out |= CAM_AUDIT_DENY | CAM_AUDIT_ADMIN | CAM_AUDIT_AUTH | CAM_AUDIT_WRITE |
				CAM_AUDIT_ALL;
		else if (strcmp(tok, "none"))
			return CAM_EINVAL;
	}
	return 0;
}

bool cam_audit_wants(const cam_audit *a, unsigned event)
{
	return a && (a->o.events & event);
}

/* ---- formatting ---------------------------------------------------------- */

struct buf {
	char b[LINE_MAX_BYTES];
	size_t n;
	bool full;
};

static void add_raw(struct buf *b, const char *s, size_t n)
{
	if (b->full || b->n + n >= sizeof(b->b) - 160) { /* room kept for seq and prev */
		b->full = true;
		return;
	}
	memcpy(b->b + b->n, s, n);
	b->n += n;
}

/* A JSON string's content: plain printable ASCII is copied as it is (what
 * records are made of: names, ids, hex), anything else goes through the
 * logger's escaper. */
static void add_escaped(struct buf *b, const char *s)
{
	size_t n = 0;

	while ((unsigned char)s[n] >= 0x20 && (unsigned char)s[n] < 0x7f && s[n] != '"' &&
	       s[n] != '\\')
		n++;
	if (!s[n]) {
		add_raw(b, s, n);
		return;
	}
	{
		char esc[1024];

		add_raw(b, esc, cam_json_escape(esc, sizeof(esc), s));
	}
}

static void add_key(struct buf *b, const char *key)
{
	add_raw(b, "\"", 1);
	add_raw(b, key, strlen(key));
	add_raw(b, "\":", 2);
}

static void add_str(struct buf *b, const char *key, const char *val)
{
	if (!val)
		return;
	add_key(b, key);
	add_raw(b, "\"", 1);
	add_escaped(b, val);
	add_raw(b, "\",", 2);
}

static void add_int(struct buf *b, const char *key, int64_t v)
{
	char t[24];
	size_t n = 0;

	add_key(b, key);
	if (v < 0) {
		add_raw(b, "-", 1);
		v = -v;
	}
	n = cam_u64_to_dec(t, (uint64_t)v);
	add_raw(b, t, n);
	add_raw(b, ",", 1);
}

static void add_bool(struct buf *b, const char *key, bool v)
{
	char t[96];
	int n = snprintf(t, sizeof(t), "\"%s\":%s,", key, v ? "true" : "false");

	add_raw(b, t, (size_t)n);
}

/* Each thread's "YYYY-MM-DDTHH:MM:SS." of the last second it wrote. */
static __thread time_t tl_second = -1;
static __thread char tl_prefix[80];

static void add_time(struct buf *b, const char *key)
{
	struct timespec ts;
	unsigned ms;
	char t[8];

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != tl_second) {
		struct tm tm;

		gmtime_r(&ts.tv_sec, &tm);
		snprintf(tl_prefix, sizeof(tl_prefix), "%04d-%02d-%02dT%02d:%02d:%02d.",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec);
		tl_second = ts.tv_sec;
	}
	ms = (unsigned)(ts.tv_nsec / 1000000);
	t[0] = (char)('0' + ms / 100);
	t[1] = (char)('0' + ms / 10 % 10);
	t[2] = (char)('0' + ms % 10);
	t[3] = 'Z';
	add_key(b, key);
	add_raw(b, "\"", 1);
	add_raw(b, tl_prefix, strlen(tl_prefix));
	add_raw(b, t, 4);
	add_raw(b, "\",", 2);
}

/* ECS: what kind of event a record is. */
static const char *ecs_category(const struct cam_audit_record *r)
{
	const char *e = r->event;

	if (!strcmp(e, "write"))
		return "database";
	if (!strcmp(e, "admin") || !strcmp(e, "reload"))
		return "configuration";
	if (!strcmp(e, "auth") || !strcmp(e, "start") || !strcmp(e, "stop"))
		return "iam";
	if (!strcmp(e, "deny"))
		return r->code && !strcmp(r->code, "UNAUTHENTICATED") ? "authentication" : "iam";
	if (!strcmp(e, "call"))
		return "api";
	return "host";
}

static void format(const cam_audit *a, const struct cam_audit_record *r, struct buf *b)
{
	bool e = a->o.ecs;

	add_raw(b, "{", 1);
	add_time(b, e ? "@timestamp" : "timestamp");
	if (e) {
		add_str(b, "event.kind", "event");
		add_str(b, "event.category", ecs_category(r));
		add_str(b, "event.type", r->authorized == 0 ? "denied" : "allowed");
		add_str(b, "event.action", r->verb ? r->verb : r->event);
		add_str(b, "event.reason", r->event);
		if (r->authorized >= 0)
			add_str(b, "event.outcome", r->authorized ? "success" : "failure");
	} else {
		add_str(b, "event", r->event);
		add_str(b, "verb", r->verb);
	}
	add_str(b, e ? "user.name" : "principal", r->principal);
	add_str(b, e ? "cam.identified_by" : "identified_by", r->identified_by);
	add_str(b, e ? "cam.resource" : "resource", r->resource);
	add_str(b, e ? "rule.ruleset" : "policy_name", r->policy_name);
	add_str(b, e ? "rule.name" : "matched_rule", r->matched_rule);
	if (r->authorized >= 0)
		add_bool(b, e ? "cam.authorized" : "authorized", r->authorized);
	add_str(b, e ? "cam.code" : "code", r->code);
	add_str(b, e ? "event.id" : "request_id", r->request_id);
	add_str(b, e ? "trace.id" : "trace_id", r->trace_id);
	add_str(b, e ? "source.address" : "peer", r->peer);
	add_str(b, e ? "cam.namespace" : "namespace", r->ns);
	add_str(b, e ? "cam.key" : "key", r->key);
	if (r->version >= 0)
		add_int(b, e ? "cam.version" : "version", r->version);
	if (r->size >= 0)
		add_int(b, e ? "cam.size" : "size", r->size);
	add_str(b, "message", r->message);
	if (b->full)
		add_raw(b, "\"truncated\":true,", 17);
}

/* The count a record goes under: start and stop are auth events, a
 * reload an admin one (CAM_AUDIT_EVENTS). */
static int event_index(const char *event)
{
	for (int i = 0; i < NEV - 1; i++)
		if (!strcmp(event, ev_names[i]))
			return i;
	if (!strcmp(event, "start") || !strcmp(event, "stop"))
		return EV_AUTH;
	if (!strcmp(event, "reload"))
		return EV_ADMIN;
	return EV_OTHER;
}

/* ---- the writer ---------------------------------------------------------- */

static void wake(struct waiter *w, int rc, const char *why)
{
	pthread_mutex_lock(&w->lock);
	w->rc = rc;
	cam_strlcpy(w->why, why ? why : "", sizeof(w->why));
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* <path>.<UTC time, to the ms>: names that sort in the order they were made. */
static void rotated_name(const char *path, char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, len, "%s.%04d%02d%02dT%02d%02d%02d.%03dZ", path, tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(ts.tv_nsec / 1000000));
}

/* Renames the full file and opens a new one; the chain goes on. */
static int rotate(cam_audit *a, char *why, size_t len)
{
	char base[4200], old[4220];
	int fd;

	rotated_name(a->path, base, sizeof(base));
	snprintf(old, sizeof(old), "%s", base);
	/* never over an older one made in the same millisecond */
	for (int i = 1; access(old, F_OK) == 0 && i < 1000; i++)
		snprintf(old, sizeof(old), "%s.%d", base, i);
	if (rename(a->path, old)) {
		snprintf(why, len, "cannot rotate %s: %s", a->path, strerror(errno));
		return -1;
	}
	fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, len, "cannot open %s: %s", a->path, strerror(errno));
		return -1;
	}
	close(a->fd);
	a->fd = fd;
	a->size = 0;
	cam_log(CAM_LOG_INFO, "audit", "audit log rotated to %s; %s goes on from its last hash",
		old, a->path);
	return 0;
}

/* Writes a group: each line completed with its seq and prev, one write
 * and one fdatasync for all. On failure the file is cut back to where the
 * group began and nothing of it counts. */
static int write_group(cam_audit *a, struct node *list, char *why, size_t why_len)
{
	uint8_t chain[CAM_AUDIT_HASH];
	uint64_t seq = a->seq, n = 0, total = 0;
	char hex[2 * CAM_AUDIT_HASH + 1];
	char *out;
	size_t off = 0;
	ssize_t w;

	for (struct node *x = list; x; x = x->next)
		total += x->len + 120;
	out = cam_xmalloc(total);
	memcpy(chain, a->last, sizeof(chain));
	for (struct node *x = list; x; x = x->next) {
		size_t start = off;

		cam_audit_hex(chain, hex);
		memcpy(out + off, x->text, x->len);
		off += x->len;
		memcpy(out + off, "\"seq\":", 6);
		off += 6;
		off += cam_u64_to_dec(out + off, ++seq);
		memcpy(out + off, ",\"prev\":\"", 9);
		off += 9;
		memcpy(out + off, hex, 64);
		off += 64;
		memcpy(out + off, "\"}", 2);
		off += 2;
		cam_audit_line_hash(out + start, off - start, chain);
		out[off++] = '\n';
		n++;
	}
	if (a->o.max_bytes && a->size && a->size + off > a->o.max_bytes &&
	    rotate(a, why, why_len)) {
		free(out);
		return -1;
	}
	for (size_t done = 0; done < off; done += (size_t)w) {
		w = write(a->fd, out + done, off - done);
		if (w < 0 && errno == EINTR) {
			w = 0;
			continue;
		}
		if (w <= 0) {
			snprintf(why, why_len, "cannot write %s: %s", a->path,
				 w < 0 ? strerror(errno) : "no progress");
			goto out_undo;
		}
	}
	if (fdatasync(a->fd)) {
		snprintf(why, why_len, "cannot sync %s: %s", a->path, strerror(errno));
		goto out_undo;
	}
	for (size_t at = 0, nl; a->o.tap && at < off; at = nl + 1) {
		nl = (size_t)((char *)memchr(out + at, '\n', off - at) - out);
		a->o.tap(a->o.tap_arg, out + at, nl + 1 - at);
	}
	free(out);
	a->seq = seq;
	memcpy(a->last, chain, sizeof(chain));
	a->size += off;
	a->since_seal += n;
	return 0;
out_undo:
	free(out);
	if (ftruncate(a->fd, (off_t)a->size)) {
		/* a partial line stays; the verifier will name it */
	}
	return -1;
}

/* After a group was written: counts, answers the durable, frees. */
static void group_done(cam_audit *a, struct node *list)
{
	for (struct node *x = list, *next; x; x = next) {
		next = x->next;
		cam_counter_inc(a->records[event_index(x->event)]);
		if (x->w)
			wake(x->w, 0, NULL);
		free(x);
	}
}

/* A group that could not be written: the durable records' calls are
 * refused (they were written before their act, which now does not run)
 * and dropped from it; the rest stay queued, first, for the next try. */
static void group_failed(cam_audit *a, struct node *list, const char *why)
{
	struct node *keep = NULL, **kt = &keep, *refused = NULL;

	for (struct node *x = list, *next; x; x = next) {
		next = x->next;
		x->next = NULL;
		if (x->w) {
			x->next = refused;
			refused = x;
			continue;
		}
		*kt = x;
		kt = &x->next;
	}
	/* Failing first: whoever hears of the refusal sees the trail failing. */
	pthread_mutex_lock(&a->lock);
	if (keep) {
		*kt = a->head;
		if (!a->head)
			a->tail = kt;
		a->head = keep;
	}
	if (!a->failing)
		cam_log(CAM_LOG_ERROR, "audit", "audit log unavailable: %s; calls that must be "
			"audited are refused until it can be written again", why);
	a->failing = true;
	cam_strlcpy(a->error, why, sizeof(a->error));
	pthread_mutex_unlock(&a->lock);
	for (struct node *x = refused, *next; x; x = next) {
		next = x->next;
		cam_counter_inc(a->failures);
		wake(x->w, CAM_EUNAVAIL, why);
		free(x);
	}
}

/* Whether a seal is due; asks the sealer for one (lock held). */
static void maybe_seal(cam_audit *a, bool force)
{
	int64_t now = cam_mono_ns();
	bool by_lines = a->o.seal_lines && a->since_seal >= a->o.seal_lines;
	bool by_time = a->o.seal_s && a->since_seal && now >= a->seal_at_ns;

	if (!a->o.tpm || a->seal_wanted || !(by_lines || by_time || (force && a->since_seal)))
		return;
	cam_audit_hex(a->last, a->seal_hex);
	a->seal_lines = a->seq;
	a->seal_wanted = true;
	a->since_seal = 0;
	a->seal_at_ns = now + (int64_t)a->o.seal_s * 1000000000;
	pthread_cond_signal(&a->seal_cond);
}

static void queue_node(cam_audit *a, struct node *x);

/*
 * While the trail cannot be written and nothing waits to be, the writer
 * tries a record of the gap itself ("gap": since when, and how many records
 * were refused meanwhile): it is the probe, and once it is written the
 * trail says it has a hole and writes go on (lock held).
 */
static void queue_gap(cam_audit *a)
{
	struct cam_audit_record r = { .event = "gap", .authorized = -1, .version = -1, .size = -1 };
	char msg[400];
	struct buf b = { .n = 0 };

	snprintf(msg, sizeof(msg), "the trail could not be written (%s); records refused meanwhile "
		 "are counted in cam_os_audit_write_failures_total", a->error);
	r.message = msg;
	format(a, &r, &b);
	queue_node(a, node_new(b.b, b.n, "gap"));
}

static void *writer_main(void *arg)
{
	cam_audit *a = arg;
	struct node *list;
	char why[200];

	pthread_setname_np(pthread_self(), "cam-audit");
	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->stopping && (!a->head || a->failing)) {
			struct timespec ts;
			int64_t now = cam_mono_ns();
			/* A seal's time only when one can be asked for: without a
			 * TPM, or while the sealer works, a past seal_at_ns would
			 * make this wait return at once, again and again. */
			bool seal_due = a->o.tpm && a->o.seal_s && a->since_seal && !a->seal_wanted;
			int64_t until = a->failing ? now + RETRY_MS * 1000000LL
				      : seal_due ? (a->seal_at_ns > now ? a->seal_at_ns : now)
				      : now + 1000000000LL;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			until -= cam_mono_ns();
			ts.tv_sec += until / 1000000000;
			ts.tv_nsec += until % 1000000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_cond_timedwait(&a->cond, &a->lock, &ts) == ETIMEDOUT) {
				if (a->failing && !a->head)
					queue_gap(a); /* a probe, and the record of the gap */
				if (a->failing && a->head)
					break; /* try again */
				maybe_seal(a, false);
			}
		}
		if (!a->head && a->stopping)
			break;
		list = a->head;
		a->head = NULL;
		a->tail = &a->head;
		a->queued = 0;
		a->taken++;
		pthread_cond_broadcast(&a->room);
		pthread_mutex_unlock(&a->lock);
		if (write_group(a, list, why, sizeof(why))) {
			group_failed(a, list, why);
			pthread_mutex_lock(&a->lock);
			a->finished++;
			pthread_cond_broadcast(&a->room);
			if (a->stopping) /* what is left cannot be written: count it */
				for (struct node *x = a->head; x; x = x->next)
					cam_counter_inc(a->failures);
			if (a->stopping)
				break;
			continue;
		}
		group_done(a, list);
		pthread_mutex_lock(&a->lock);
		a->finished++;
		pthread_cond_broadcast(&a->room);
		if (a->failing)
			cam_log(CAM_LOG_INFO, "audit", "audit log %s written again", a->path);
		a->failing = false;
		maybe_seal(a, false);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* ---- the sealer ---------------------------------------------------------- */

static void queue_node(cam_audit *a, struct node *x)
{
	x->next = NULL;
	*a->tail = x;
	a->tail = &x->next;
	a->queued += x->len;
	pthread_cond_signal(&a->cond);
}

/* Signs where the trail stood with the TPM's key and clock, and queues the
 * seal line. */
static void seal(cam_audit *a, const char *hex, uint64_t lines)
{
	uint8_t d[CAM_AUDIT_HASH], der[CAM_TPM_SIG_MAX_DER];
	char sig[2 * CAM_TPM_SIG_MAX_DER + 1], err[256];
	struct cam_tpm_clock clk;
	struct buf b = { .n = 0 };
	struct node *x;
	size_t der_len = 0;
	int rc;

	cam_audit_seal_digest(hex, lines, d);
	rc = cam_tpm_sign_clocked(a->o.tpm, d, cam_mono_ns() + 10000000000LL, der, &der_len, &clk,
				  err, sizeof(err));
	if (rc) {
		cam_log(CAM_LOG_WARN, "audit", "audit seal of line %" PRIu64 " not made: %s", lines,
			err);
		return;
	}
	for (size_t i = 0; i < der_len; i++)
		sprintf(sig + 2 * i, "%02x", der[i]);
	add_raw(&b, "{", 1);
	add_time(&b, a->o.ecs ? "@timestamp" : "timestamp");
	add_str(&b, a->o.ecs ? "event.action" : "event", "seal");
	add_str(&b, "sealed", hex);
	add_int(&b, "lines", (int64_t)lines);
	add_int(&b, "tpm_clock", (int64_t)clk.clock_ms);
	add_int(&b, "tpm_reset_count", clk.reset_count);
	add_int(&b, "tpm_restart_count", clk.restart_count);
	add_bool(&b, "tpm_safe", clk.safe);
	add_str(&b, "signature", sig);
	add_str(&b, "algorithm", "ecdsa-p256-sha256");
	x = node_new(b.b, b.n, "seal");
	cam_counter_inc(a->seals);
	pthread_mutex_lock(&a->lock);
	queue_node(a, x);
	pthread_mutex_unlock(&a->lock);
}

static void *sealer_main(void *arg)
{
	cam_audit *a = arg;
	char hex[2 * CAM_AUDIT_HASH + 1];
	uint64_t lines;

	pthread_setname_np(pthread_self(), "cam-audit-seal");
	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->seal_wanted && !a->stopping)
			pthread_cond_wait(&a->seal_cond, &a->lock);
		if (!a->seal_wanted)
			break;
		memcpy(hex, a->seal_hex, sizeof(hex));
		lines = a->seal_lines;
		pthread_mutex_unlock(&a->lock);
		seal(a, hex, lines);
		pthread_mutex_lock(&a->lock);
		a->seal_wanted = false;
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* ---- producers ----------------------------------------------------------- */

int cam_audit_write(cam_audit *a, const struct cam_audit_record *r, bool durable, char *why,
		    size_t why_len)
{
	static __thread struct buf tl_buf; /* each thread formats in its own */
	struct waiter w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct buf *b = &tl_buf;
	struct node *x;
	int rc = 0;

	b->n = 0;
	b->full = false;
	format(a, r, b);
	x = node_new(b->b, b->n, ev_names[event_index(r->event)]);
	x->w = durable ? &w : NULL;
	pthread_mutex_lock(&a->lock);
	while (!a->failing && !a->stopping && a->queued + x->len > a->o.queue_bytes)
		pthread_cond_wait(&a->room, &a->lock);
	if (a->failing || a->stopping) {
		snprintf(why, why_len, "audit log unavailable: %s",
			 a->failing ? a->error : "the kernel is stopping");
		pthread_mutex_unlock(&a->lock);
		cam_counter_inc(a->failures);
		free(x);
		return CAM_EUNAVAIL;
	}
	queue_node(a, x);
	pthread_mutex_unlock(&a->lock);
	if (!durable)
		return 0;
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	if ((rc = w.rc))
		snprintf(why, why_len, "audit log unavailable: %s", w.why);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return rc;
}

void cam_audit_flush(cam_audit *a)
{
	/* The queue empties when the writer takes a group; the group is on
	 * disk once the writer comes back for the lock. */
	pthread_mutex_lock(&a->lock);
	while ((a->head || a->finished != a->taken) && !a->failing && !a->stopping)
		pthread_cond_wait(&a->room, &a->lock);
	pthread_mutex_unlock(&a->lock);
}

bool cam_audit_failing(const cam_audit *a)
{
	bool f;

	pthread_mutex_lock((pthread_mutex_t *)&a->lock);
	f = a->failing;
	pthread_mutex_unlock((pthread_mutex_t *)&a->lock);
	return f;
}

enum cam_component_status cam_audit_health(cam_audit *a, char *msg, size_t len)
{
	enum cam_component_status st = CAM_COMPONENT_HEALTHY;

	pthread_mutex_lock(&a->lock);
	if (a->failing) {
		snprintf(msg, len, "%s: cannot be written (%s); calls that must be audited are "
			 "refused", a->path, a->error);
		st = CAM_COMPONENT_DEGRADED;
	} else {
		snprintf(msg, len, "%s: %" PRIu64 " lines, %s", a->path, a->seq,
			 a->o.tpm ? "sealed by the TPM" : "not sealed (no TPM)");
	}
	pthread_mutex_unlock(&a->lock);
	return st;
}

/* ---- opening ------------------------------------------------------------- */

/* Where the trail stands from the file's last line: its seq and hash. A
 * torn tail (no newline at the end) is cut off; *cut gets its length. */
static int read_position(cam_audit *a, size_t *cut, char *why, size_t why_len)
{
	char tail[LINE_MAX_BYTES + 2];
	struct stat st;
	off_t from;
	ssize_t n;
	char *line, *end, *p;

	*cut = 0;
	cam_audit_genesis(a->last);
	a->seq = 0;
	if (fstat(a->fd, &st)) {
		snprintf(why, why_len, "cannot read %s: %s", a->path, strerror(errno));
		return CAM_EIO;
	}
	a->size = (uint64_t)st.st_size;
	if (!st.st_size)
		return 0;
	from = st.st_size > (off_t)sizeof(tail) - 1 ? st.st_size - (off_t)sizeof(tail) + 1 : 0;
	n = pread(a->fd, tail, (size_t)(st.st_size - from), from);
	if (n != st.st_size - from) {
		snprintf(why, why_len, "cannot read %s: %s", a->path, strerror(errno));
		return CAM_EIO;
	}
	tail[n] = '\0';
	end = tail + n;
	if (end[-1] != '\n') { /* a torn last line */
		p = memrchr(tail, '\n', (size_t)n);
		*cut = (size_t)(end - (p ? p + 1 : tail));
		if (!p && from) {
			snprintf(why, why_len, "%s ends in a line longer than %d bytes", a->path,
				 LINE_MAX_BYTES);
			return CAM_EDATALOSS;
		}
		if (ftruncate(a->fd, st.st_size - (off_t)*cut)) {
			snprintf(why, why_len, "cannot cut the torn end of %s: %s", a->path,
				 strerror(errno));
			return CAM_EIO;
		}
		a->size -= *cut;
		end = p ? p + 1 : tail;
		if (end == tail)
			return 0;
	}
	end--; /* the newline */
	*end = '\0';
	line = memrchr(tail, '\n', (size_t)(end - tail));
	line = line ? line + 1 : tail;
	if (from && line == tail) { /* it may begin before what was read */
		snprintf(why, why_len, "%s ends in a line longer than %d bytes", a->path,
			 LINE_MAX_BYTES);
		return CAM_EDATALOSS;
	}
	p = strstr(line, "\"seq\":");
	if (!p || sscanf(p + 6, "%" SCNu64, &a->seq) != 1) {
		snprintf(why, why_len, "the last line of %s has no seq: not an audit trail of "
			 "cam-kernel; move it away", a->path);
		return CAM_EDATALOSS;
	}
	cam_audit_line_hash(line, (size_t)(end - line), a->last);
	return 0;
}

int cam_audit_new(const struct cam_audit_opts *o, cam_audit **out, char *why, size_t why_len)
{
	cam_family *f[NMETRICS];
	cam_audit *a;
	size_t cut;
	int rc = cam_metrics_table_register(metrics, NMETRICS, f, why, why_len);

	if (rc)
		return rc;
	a = cam_xcalloc(1, sizeof(*a));
	a->o = *o;
	if (!a->o.queue_bytes)
		a->o.queue_bytes = 1 << 20;
	a->path = cam_xstrdup(o->path);
	a->fd = open(o->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (a->fd < 0) {
		snprintf(why, why_len, "cannot open the audit log %s: %s", o->path, strerror(errno));
		free(a->path);
		free(a);
		return CAM_EIO;
	}
	if ((rc = read_position(a, &cut, why, why_len))) {
		close(a->fd);
		free(a->path);
		free(a);
		return rc;
	}
	for (int i = 0; i < NEV; i++)
		a->records[i] = cam_series_get(f[M_RECORDS], (const char *[]){ ev_names[i] });
	a->failures = cam_series_get(f[M_FAILURES], NULL);
	a->seals = cam_series_get(f[M_SEALS], NULL);
	pthread_mutex_init(&a->lock, NULL);
	{
		/* the writer's waits are deadlines on CLOCK_MONOTONIC */
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&a->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_cond_init(&a->room, NULL);
	pthread_cond_init(&a->seal_cond, NULL);
	a->tail = &a->head;
	a->seal_at_ns = cam_mono_ns() + (int64_t)o->seal_s * 1000000000;
	pthread_create(&a->writer, NULL, writer_main, a);
	if (o->tpm)
		pthread_create(&a->sealer, NULL, sealer_main, a);
	if (cut) {
		char msg[160];

		snprintf(msg, sizeof(msg), "a torn last line of %zu bytes, left by an unclean stop, "
			 "was cut off", cut);
		cam_audit_write(a, &(struct cam_audit_record){ .event = "recovered", .authorized = -1,
							       .version = -1, .size = -1,
							       .message = msg },
				false, why, why_len);
		cam_log(CAM_LOG_WARN, "audit", "%s: %s", o->path, msg);
	}
	*out = a;
	return 0;
}

void cam_audit_free(cam_audit *a)
{
	if (!a)
		return;
	/* Everything queued written, a last seal of it, then the writer drains. */
	cam_audit_flush(a);
	if (a->o.tpm) {
		pthread_mutex_lock(&a->lock);
		maybe_seal(a, true);
		while (a->seal_wanted) {
			pthread_mutex_unlock(&a->lock);
			usleep(1000);
			pthread_mutex_lock(&a->lock);
		}
		a->stopping = true;
		pthread_cond_broadcast(&a->seal_cond);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->sealer, NULL);
	}
	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	pthread_cond_broadcast(&a->cond);
	pthread_cond_broadcast(&a->room);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->writer, NULL);
	for (struct node *x = a->head, *next; x; x = next) {
		next = x->next;
		if (x->w)
			wake(x->w, CAM_EUNAVAIL, "the kernel is stopping");
		free(x);
	}
	close(a->fd);
	pthread_cond_destroy(&a->seal_cond);
	pthread_cond_destroy(&a->room);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	free(a->path);
	free(a);
}
