/*
 * Redis Sentinel discovery (sentinel.h): the sentinels' answers, the
 * +switch-master subscription, and the check that a named master really
 * is one, all on blocking hiredis connections with timeouts. Follows the
 * Sentinel client guidelines: ask the sentinels in turn, the one that
 * answered first goes to the front of the list, and never trust an answer
 * before the Redis it names says ROLE master.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/memctx/sentinel.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "kernel/memctx/backend.h"

#define SUSPECT_POLL_MS 250
#define REFRESH_MS 5000
#define RESUBSCRIBE_MS 250

struct addr {
	char host[CAM_SENTINEL_HOST];
	int port;
};

struct cam_sentinel {
	struct addr sentinels[CAM_SENTINEL_MAX];
	size_t n;
	char name[128];
	char password[256];
	int timeout_ms;
	void (*on_change)(void *, const char *, int, const char *, int);
	void *arg;

	pthread_mutex_t lock;      /* master, sentinels' order */
	struct addr master;        /* host "" until known */
	_Atomic bool suspect;
	int wake_fd;               /* eventfd: suspect or stop */
	_Atomic bool stopping;
	pthread_t thread;
	bool started;
};

/* "host:port" or "[v6]:port" into a. */
static int parse_addr(const char *s, size_t len, struct addr *a)
{
	const char *colon, *host = s;
	size_t hlen;
	char num[8], *end;
	long port;

	if (len && s[0] == '[') {
		const char *rb = memchr(s, ']', len);
		if (!rb || rb + 1 >= s + len || rb[1] != ':')
			return -1;
		host = s + 1;
		hlen = (size_t)(rb - s - 1);
		colon = rb + 1;
	} else {
		colon = memrchr(s, ':', len);
		if (!colon)
			return -1;
		hlen = (size_t)(colon - s);
	}
	if (!hlen || hlen >= sizeof(a->host) || (size_t)(s + len - colon - 1) >= sizeof(num) ||
	    s + len - colon - 1 < 1)
		return -1;
	memcpy(num, colon + 1, (size_t)(s + len - colon - 1));
	num[s + len - colon - 1] = '\0';
	port = strtol(num, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -1;
	memcpy(a->host, host, hlen);
	a->host[hlen] = '\0';
	a->port = (int)port;
	return 0;
}

static int parse_list(cam_sentinel *s, const char *list, char *why)
{
	const char *p = list;

	while (p && *p) {
		size_t len = strcspn(p, ",");

		while (len && p[0] == ' ') {
			p++;
			len--;
		}
		if (s->n == CAM_SENTINEL_MAX)
			return cam_memctx__fail(why, CAM_EINVAL, "CAM_REDIS_SENTINELS names more than %d sentinels",
						CAM_SENTINEL_MAX);
		if (parse_addr(p, len, &s->sentinels[s->n]))
			return cam_memctx__fail(why, CAM_EINVAL,
						"CAM_REDIS_SENTINELS: '%.*s' is not host:port",
						(int)(len > 64 ? 64 : len), p);
		s->n++;
		p += len;
		if (*p == ',')
			p++;
	}
	if (!s->n)
		return cam_memctx__fail(why, CAM_EINVAL, "CAM_REDIS_SENTINELS names no sentinel");
	return 0;
}

/* --- one question to one server ------------------------------------------- */

static redisContext *connect_to(const cam_sentinel *s, const struct addr *a, bool auth)
{
	struct timeval tv = { s->timeout_ms / 1000, s->timeout_ms % 1000 * 1000 };
	redisContext *c = redisConnectWithTimeout(a->host, a->port, tv);
	redisReply *rep;

	if (!c || c->err)
		goto out_free;
	redisSetTimeout(c, tv);
	if (auth && s->password[0]) {
		rep = redisCommand(c, "AUTH %s", s->password);
		if (!rep || rep->type == REDIS_REPLY_ERROR) {
			if (rep)
				freeReplyObject(rep);
			goto out_free;
		}
		freeReplyObject(rep);
	}
	return c;
out_free:
	if (c)
		redisFree(c);
	return NULL;
}

/* What sentinel a says the master is: 0, or -1 (down, no answer, unknown
 * name). */
static int ask(const cam_sentinel *s, const struct addr *a, struct addr *out)
{
	redisContext *c = connect_to(s, a, true);
	redisReply *rep = c ? redisCommand(c, "SENTINEL get-master-addr-by-name %s", s->name) : NULL;
	int rc = -1;

	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[0]->type == REDIS_REPLY_STRING &&
	    rep->element[1]->type == REDIS_REPLY_STRING) {
		struct addr m = { .port = atoi(rep->element[1]->str) };

		if (rep->element[0]->len < sizeof(m.host) && m.port > 0 && m.port < 65536) {
			memcpy(m.host, rep->element[0]->str, rep->element[0]->len + 1);
			*out = m;
			rc = 0;
		}
	}
	if (rep)
		freeReplyObject(rep);
	if (c)
		redisFree(c);
	return rc;
}

/*
 * Whether the Redis at a says ROLE master. It has the data's password,
 * which the sentinel module does not know; ROLE needs none where Redis
 * asks for one, so a NOAUTH answer counts as "cannot tell" and the store's
 * own ROLE check on its connection decides.
 */
static int is_master(const cam_sentinel *s, const struct addr *a)
{
	redisContext *c = connect_to(s, a, false);
	redisReply *rep = c ? redisCommand(c, "ROLE") : NULL;
	int yes = 0;

	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
	    rep->element[0]->type == REDIS_REPLY_STRING)
		yes = strcmp(rep->element[0]->str, "master") == 0;
	else if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOAUTH", 6) == 0)
		yes = 1;
	if (rep)
		freeReplyObject(rep);
	if (c)
		redisFree(c);
	return yes;
}

/* --- the master ------------------------------------------------------------ */

static bool same(const struct addr *a, const struct addr *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static void set_master(cam_sentinel *s, const struct addr *m, const char *how)
{
	struct addr old;

	pthread_mutex_lock(&s->lock);
	old = s->master;
	if (!same(&old, m))
		s->master = *m;
	pthread_mutex_unlock(&s->lock);
	if (same(&old, m))
		return;
	if (old.host[0])
		cam_log(CAM_LOG_WARN, "memctx", "Redis master %s is now %.64s:%d (was %.64s:%d; %s)",
			s->name, m->host, m->port, old.host, old.port, how);
	else
		cam_log(CAM_LOG_INFO, "memctx", "Redis master %s is %.64s:%d (%s)", s->name,
			m->host, m->port, how);
	if (s->on_change)
		s->on_change(s->arg, old.host, old.port, m->host, m->port);
}

/* Sentinel i answered: it goes first next time. */
static void to_front(cam_sentinel *s, size_t i)
{
	struct addr a;

	pthread_mutex_lock(&s->lock);
	a = s->sentinels[i];
	memmove(&s->sentinels[1], &s->sentinels[0], i * sizeof(a));
	s->sentinels[0] = a;
	pthread_mutex_unlock(&s->lock);
}

/*
 * Asks the sentinels for the master. all: ask every one (a failover may be
 * known to its leader before the others) and take the first answer that
 * differs from the master in hand and says ROLE master; else the first
 * sentinel that answers decides, once its answer is checked the same way.
 */
static void refresh(cam_sentinel *s, bool all, const char *how)
{
	struct addr list[CAM_SENTINEL_MAX], cur, m;
	size_t n;

	pthread_mutex_lock(&s->lock);
	memcpy(list, s->sentinels, sizeof(list));
	n = s->n;
	cur = s->master;
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < n && !atomic_load(&s->stopping); i++) {
		if (ask(s, &list[i], &m))
			continue;
		to_front(s, i);
		if (same(&m, &cur)) {
			if (all)
				continue;
			return;
		}
		if (is_master(s, &m)) {
			set_master(s, &m, how);
			return;
		}
		if (!all)
			return;
	}
}

int cam_sentinel_master(cam_sentinel *s, char *host, int *port)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (s->master.host[0]) {
		memcpy(host, s->master.host, sizeof(s->master.host));
		*port = s->master.port;
	} else {
		rc = CAM_EUNAVAIL;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void wake(cam_sentinel *s)
{
	uint64_t one = 1;

	if (write(s->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		cam_log(CAM_LOG_ERROR, "memctx", "sentinel wake: %s", strerror(errno));
}

void cam_sentinel_suspect(cam_sentinel *s)
{
	if (!atomic_exchange(&s->suspect, true))
		wake(s);
}

void cam_sentinel_master_ok(cam_sentinel *s)
{
	atomic_store(&s->suspect, false);
}

const char *cam_sentinel_name(const cam_sentinel *s)
{
	return s->name;
}

/* --- the thread: +switch-master, and asking again ------------------------- */

/* "<name> <old-ip> <old-port> <new-ip> <new-port>" */
static void on_message(cam_sentinel *s, const redisReply *rep)
{
	char name[128], oldh[CAM_SENTINEL_HOST], newh[CAM_SENTINEL_HOST];
	int oldp, newp;
	struct addr m;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(rep->element[0]->str, "message") != 0 ||
	    rep->element[2]->type != REDIS_REPLY_STRING)
		return;
	if (sscanf(rep->element[2]->str, "%127s %255s %d %255s %d", name, oldh, &oldp, newh,
		   &newp) != 5 ||
	    strcmp(name, s->name) != 0 || newp < 1 || newp > 65535)
		return;
	snprintf(m.host, sizeof(m.host), "%s", newh);
	m.port = newp;
	set_master(s, &m, "+switch-master");
	atomic_store(&s->suspect, false);
}

/* A subscription to +switch-master on the first sentinel that takes it. */
static redisContext *subscribe(cam_sentinel *s)
{
	struct addr list[CAM_SENTINEL_MAX];
	size_t n;

	pthread_mutex_lock(&s->lock);
	memcpy(list, s->sentinels, sizeof(list));
	n = s->n;
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < n && !atomic_load(&s->stopping); i++) {
		redisContext *c = connect_to(s, &list[i], true);
		redisReply *rep = c ? redisCommand(c, "SUBSCRIBE +switch-master") : NULL;
		bool ok = rep && rep->type == REDIS_REPLY_ARRAY;

		if (rep)
			freeReplyObject(rep);
		if (ok)
			return c;
		if (c)
			redisFree(c);
	}
	return NULL;
}

/* Reads what the subscription has; -1 when it is gone. */
static int read_messages(cam_sentinel *s, redisContext *c)
{
	redisReply *rep;

	if (redisBufferRead(c) != REDIS_OK)
		return -1;
	for (;;) {
		rep = NULL;
		if (redisGetReplyFromReader(c, (void **)&rep) != REDIS_OK)
			return -1;
		if (!rep)
			return 0;
		on_message(s, rep);
		freeReplyObject(rep);
	}
}

static void drain_wake(cam_sentinel *s)
{
	uint64_t v;

	if (read(s->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		cam_log(CAM_LOG_ERROR, "memctx", "sentinel wake: %s", strerror(errno));
}

static void *sentinel_main(void *arg)
{
	cam_sentinel *s = arg;
	redisContext *sub = NULL;
	int64_t last = cam_mono_ns();
	bool now_please = false;

	while (!atomic_load(&s->stopping)) {
		struct pollfd p[2] = { { .fd = s->wake_fd, .events = POLLIN },
				       { .fd = -1, .events = POLLIN } };
		bool suspect = atomic_load(&s->suspect);
		int64_t period = (int64_t)(suspect ? SUSPECT_POLL_MS : REFRESH_MS) * 1000000;
		int64_t now = cam_mono_ns();
		int wait_ms;

		if (!sub) {
			sub = subscribe(s);
			/* Messages may have been missed while there was none. */
			refresh(s, suspect, "asked the sentinels after subscribing");
			last = cam_mono_ns();
		} else if (now_please || now - last >= period) {
			refresh(s, suspect, suspect ? "the old master failed" : "periodic check");
			last = cam_mono_ns();
			now_please = false;
			continue;
		}
		wait_ms = (int)((last + period - cam_mono_ns()) / 1000000) + 1;
		if (wait_ms < 1)
			wait_ms = 1;
		if (!sub && wait_ms > RESUBSCRIBE_MS)
			wait_ms = RESUBSCRIBE_MS;
		p[1].fd = sub ? sub->fd : -1;
		if (poll(p, 2, wait_ms) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			drain_wake(s);
			now_please = atomic_load(&s->suspect);
		}
		if (sub && (p[1].revents & (POLLIN | POLLERR | POLLHUP)) && read_messages(s, sub)) {
			cam_log(CAM_LOG_WARN, "memctx", "lost the +switch-master subscription: %s",
				sub->errstr[0] ? sub->errstr : "connection closed");
			redisFree(sub);
			sub = NULL;
		}
	}
	if (sub)
		redisFree(sub);
	return NULL;
}

int cam_sentinel_new(const struct cam_sentinel_opts *o, cam_sentinel **out, char *why)
{
	cam_sentinel *s;
	int rc;

	if (!o->master_name || !*o->master_name || strlen(o->master_name) >= 128 ||
	    strpbrk(o->master_name, " \t\r\n"))
		return cam_memctx__fail(why, CAM_EINVAL,
					"CAM_REDIS_MASTER_NAME must be set (1-127 characters, no spaces) with CAM_REDIS_SENTINELS");
	if (o->password && strlen(o->password) >= 256)
		return cam_memctx__fail(why, CAM_EINVAL, "the sentinel password is too long");
	s = cam_xcalloc(1, sizeof(*s));
	if ((rc = parse_list(s, o->addrs, why))) {
		free(s);
		return rc;
	}
	snprintf(s->name, sizeof(s->name), "%s", o->master_name);
	snprintf(s->password, sizeof(s->password), "%s", o->password ? o->password : "");
	s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 1000;
	s->on_change = o->on_change;
	s->arg = o->arg;
	pthread_mutex_init(&s->lock, NULL);
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_fd < 0) {
		rc = cam_memctx__fail(why, cam_err_from_errno(errno), "eventfd: %s", strerror(errno));
		goto out_free;
	}
	/* Known before the first call, when a sentinel answers; no callback
	 * for this first answer (nothing changed). */
	{
		void (*cb)(void *, const char *, int, const char *, int) = s->on_change;

		s->on_change = NULL;
		refresh(s, false, "asked the sentinels at start");
		s->on_change = cb;
	}
	if (!s->master.host[0])
		cam_log(CAM_LOG_WARN, "memctx", "no sentinel of %s knows master %s yet; asking again",
			o->addrs, s->name);
	if (pthread_create(&s->thread, NULL, sentinel_main, s)) {
		rc = cam_memctx__fail(why, CAM_EIO, "cannot start the sentinel thread");
		goto out_close;
	}
	s->started = true;
	*out = s;
	return 0;
out_close:
	close(s->wake_fd);
out_free:
	pthread_mutex_destroy(&s->lock);
	explicit_bzero(s->password, sizeof(s->password));
	free(s);
	return rc;
}

void cam_sentinel_free(cam_sentinel *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, true);
	wake(s);
	if (s->started)
		pthread_join(s->thread, NULL);
	close(s->wake_fd);
	pthread_mutex_destroy(&s->lock);
	explicit_bzero(s->password, sizeof(s->password));
	free(s);
}
