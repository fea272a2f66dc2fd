/*
 * The journal glue of log_journal.h: a JSON line becomes iovecs for
 * libsystemd's sd_journal_sendv. Runs on the logger thread only (or in the
 * synchronous path before the thread starts), never on the hot path, so it
 * may parse (yajl) and allocate.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define SD_JOURNAL_SUPPRESS_LOCATION 1 /* CODE_FILE= of this file says nothing */
#include "common/log_journal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <systemd/sd-journal.h>
#include <yajl/yajl_tree.h>

#include "common/error.h"
#include "common/log.h"

/* A line has at most CAM_LOG_LINE_MAX bytes, so this many fields at most
 * fit in it ("k":1, is 6 bytes); the rest are dropped, never overrun. */
#define MAX_FIELDS 160

bool cam_log_journal_detect(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (!env || sscanf(env, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return false;
	if (fstat(2, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* syslog priority of a level name (ours or ECS's lower case). */
static int priority_of(const char *level)
{
	if (!strcasecmp(level, "error"))
		return 3;
	if (!strcasecmp(level, "warn"))
		return 4;
	if (!strcasecmp(level, "debug"))
		return 7;
	return 6;
}

/* CAM_ + the key in upper case, every other character '_' ("@timestamp"
 * gives CAM_TIMESTAMP, "log.level" CAM_LOG_LEVEL); at most 64 bytes, as
 * journald allows. Returns the name's length. */
static size_t field_name(char *out, size_t cap, const char *key)
{
	size_t n = 0;

	n = (size_t)snprintf(out, cap, "CAM_");
	while (*key == '@' || *key == '_' || *key == '.')
		key++;
	for (; *key && n + 1 < cap && n < 64; key++)
		out[n++] = isalnum((unsigned char)*key) ? (char)toupper((unsigned char)*key) : '_';
	out[n] = '\0';
	return n;
}

/* The text of a scalar value; NULL for arrays, objects and null. */
static const char *scalar_text(yajl_val v)
{
	if (YAJL_IS_STRING(v))
		return YAJL_GET_STRING(v);
	if (YAJL_IS_NUMBER(v))
		return YAJL_GET_NUMBER(v);
	if (YAJL_IS_TRUE(v))
		return "true";
	if (YAJL_IS_FALSE(v))
		return "false";
	return NULL;
}

static const char *lookup(yajl_val obj, const char *a, const char *b)
{
	for (size_t i = 0; i < obj->u.object.len; i++) {
		const char *k = obj->u.object.keys[i];

		if (!strcmp(k, a) || (b && !strcmp(k, b)))
			return scalar_text(obj->u.object.values[i]);
	}
	return NULL;
}

/* An iovec holding "NAME=value" in its own allocation. */
static int add_field(struct iovec *iov, size_t *n, const char *name, const char *val)
{
	size_t len = strlen(name) + 1 + strlen(val);
	char *s;

	if (*n >= MAX_FIELDS + 4 || !(s = malloc(len + 1)))
		return CAM_ENOMEM;
	snprintf(s, len + 1, "%s=%s", name, val);
	iov[*n].iov_base = s;
	iov[*n].iov_len = len;
	(*n)++;
	return 0;
}

/* MESSAGE: the line's message, else what an access line is about. */
static void message_of(yajl_val obj, char *out, size_t cap)
{
	const char *msg = lookup(obj, "message", NULL);
	const char *verb = lookup(obj, "syscall", "event.action");
	const char *code = lookup(obj, "code", "cam.code");

	if (msg)
		snprintf(out, cap, "%s", msg);
	else if (verb)
		snprintf(out, cap, "syscall %s %s", verb, code ? code : "");
	else if ((msg = lookup(obj, "component", "log.logger")))
		snprintf(out, cap, "%s", msg);
	else
		snprintf(out, cap, "cam-os");
}

static int send_object(yajl_val obj, const char *identifier)
{
	struct iovec iov[MAX_FIELDS + 4];
	const char *level = lookup(obj, "level", "log.level");
	char name[80], text[CAM_LOG_LINE_MAX], prio[4];
	size_t n = 0;
	int rc = 0;

	message_of(obj, text, sizeof(text));
	snprintf(prio, sizeof(prio), "%d", priority_of(level ? level : "info"));
	if (add_field(iov, &n, "MESSAGE", text) || add_field(iov, &n, "PRIORITY", prio) ||
	    add_field(iov, &n, "SYSLOG_IDENTIFIER", identifier)) {
		rc = CAM_ENOMEM;
		goto out_free_fields;
	}
	for (size_t i = 0; i < obj->u.object.len && n < MAX_FIELDS; i++) {
		const char *val = scalar_text(obj->u.object.values[i]);

		if (!val)
			continue;
		field_name(name, sizeof(name), obj->u.object.keys[i]);
		if ((rc = add_field(iov, &n, name, val)))
			goto out_free_fields;
	}
	if (sd_journal_sendv(iov, (int)n) < 0)
		rc = CAM_EIO;
out_free_fields:
	for (size_t i = 0; i < n; i++)
		free(iov[i].iov_base);
	return rc;
}

int cam_log_journal_send(const char *line, size_t len, const char *identifier)
{
	char text[CAM_LOG_LINE_MAX + 1];
	yajl_val obj;
	int rc;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len >= sizeof(text))
		return CAM_EPROTO;
	memcpy(text, line, len);
	text[len] = '\0';
	obj = yajl_tree_parse(text, NULL, 0);
	if (!obj || !YAJL_IS_OBJECT(obj)) {
		yajl_tree_free(obj);
		return CAM_EPROTO;
	}
	rc = send_object(obj, identifier ? identifier : "cam-os");
	yajl_tree_free(obj);
	return rc;
}
