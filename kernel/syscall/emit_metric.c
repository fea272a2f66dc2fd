/*
 * emit_metric: applications' own counters, gauges and histograms.
 *
 * payload: metric_name:NAME,value:V[,type:counter|gauge|histogram]
 *          [,native:true|false][,help:TEXT][,labels:k=v,k2=v2]
 * A counter's value is added (counters only go up), a gauge's is set, a
 * histogram observes it (>= 0; default buckets; with native:true native
 * buckets too). The first emit of a name fixes its type, native buckets
 * and label names; later emits must agree. Names with the cam_os_ prefix and names of the kernel's own
 * families are refused, and custom families and their series are bounded
 * (limits refused with RESOURCE_EXHAUSTED and counted by the metrics core).
 * Names and labels that Prometheus reserves or that would mislead a
 * reader are refused too: up and scrape_* (what Prometheus itself adds to
 * every target), a __ prefix, the sample suffixes _bucket, _count, _sum
 * and _created, _total on anything but a counter, and the labels le and
 * quantile. Values are plain decimal numbers (no hex, no padding, no
 * inf or nan), and a counter is never fed past the largest finite double.
 * Every refusal is counted in cam_os_metrics_series_rejected_total{reason}.
 * The custom families one object made are its own: another object (a
 * kernel made twice in one process, in tests) refuses their names.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/emit_metric.h"

#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "kernel/syscall/caller_counts.h"
#include "kernel/syscall/quota.h"
#include "common/str.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "kernel/syscall/resource.h"
#include "kernel/security/auth.h"

#define MAX_CUSTOM 1024

struct custom {
	char name[CAM_METRICS_MAX_NAME + 1];
	cam_family *family;
};


struct cam_emit_metric {
	struct cam_emit_metric_opts o;
	pthread_rwlock_t lock;   /* customs */
	struct custom *customs;  /* MAX_CUSTOM */
	size_t ncustoms;
	pthread_mutex_t quota_lock; /* made: a check and its add as one */
	cam_caller_counts *made;    /* series made, per caller */
	cam_series *quota_refusals;
};

struct labels {
	size_t n;
	char *names[CAM_METRICS_MAX_LABELS + 1];
	char *values[CAM_METRICS_MAX_LABELS];
	char buf[1024];
};

/*
 * The series of these labels: an existing one, or a new one unless the
 * caller has made its quota of series already (RESOURCE_EXHAUSTED naming
 * CAM_METRICS_MAX_SERIES_PER_CALLER, counted). NULL with *status set.
 */
static cam_series *get_series(cam_emit_metric *em, struct cam_syscall *sc, cam_family *f,
			      const struct labels *l, const char *name, int *status)
{
	cam_series *s;
	bool created = false;

	if (!em->o.series_per_caller) {
		s = cam_series_get_new(f, (const char *const *)l->values, &created);
		goto out;
	}
	if ((s = cam_series_find(f, (const char *const *)l->values)))
		return s;
	/* A new series: the caller's count checked and added under one lock,
	 * so concurrent calls of one caller cannot pass the quota together. */
	pthread_mutex_lock(&em->quota_lock);
	if (cam_caller_counts_get(em->made, sc->caller_id) >= em->o.series_per_caller &&
	    !(s = cam_series_find(f, (const char *const *)l->values))) {
		pthread_mutex_unlock(&em->quota_lock);
		cam_counter_inc(em->quota_refusals);
		sc->refusal = "quota";
		*status = cam_syscall_fail(sc, CAM_ELIMIT,
					   "quota CAM_METRICS_MAX_SERIES_PER_CALLER: %s has made %zu "
					   "series (the quota); %s{...} would be a new one",
					   sc->caller_id, em->o.series_per_caller, name);
		return NULL;
	}
	if (!s)
		s = cam_series_get_new(f, (const char *const *)l->values, &created);
	if (created)
		cam_caller_counts_add(em->made, sc->caller_id);
	pthread_mutex_unlock(&em->quota_lock);
out:
	if (!s)
		*status = cam_syscall_fail(sc, CAM_ELIMIT,
					   "series limit reached for %s (or for all metrics)", name);
	return s;
}

static int by_name(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	return strcmp(*x, *y);
}

/* Refuses the emit with err and a message, counting the refusal under
 * why (family: an existing family's name, else NULL). */
static int refuse(struct cam_syscall *sc, enum cam_reject_reason why, const char *family,
		  int err, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int refuse(struct cam_syscall *sc, enum cam_reject_reason why, const char *family,
		  int err, const char *fmt, ...)
{
	va_list ap;

	cam_metrics_count_rejection(family, why);
	va_start(ap, fmt);
	vsnprintf(sc->error, sizeof(sc->error), fmt, ap);
	va_end(ap);
	return err;
}

/* Why a metric name is one Prometheus reserves or one that would mislead
 * (a series that looks like a histogram's, or like scrape data); NULL
 * when it is fine. */
static const char *reserved_name(const char *name, size_t n, enum cam_metric_type type)
{
	if (CAM_STR_IS(name, n, "up") || (n >= 7 && memcmp(name, "scrape_", 7) == 0))
		return "is what Prometheus itself records for every target";
	if (name[0] == '_' && name[1] == '_')
		return "uses the __ prefix Prometheus reserves";
	if (CAM_STR_ENDS_WITH(name, n, "_bucket") || CAM_STR_ENDS_WITH(name, n, "_count") ||
	    CAM_STR_ENDS_WITH(name, n, "_sum") || CAM_STR_ENDS_WITH(name, n, "_created"))
		return "ends like a histogram's or a counter's own samples "
		       "(_bucket, _count, _sum, _created)";
	if (type != CAM_COUNTER && CAM_STR_ENDS_WITH(name, n, "_total"))
		return "ends in _total, which only a counter may";
	return NULL;
}

/* Whether name is x_total for a counter family x that exists: the more
 * telling reason to give a gauge or histogram of that name. */
static bool exposes_counter(const char *name)
{
	char base[CAM_METRICS_MAX_NAME + 1];
	size_t n = strlen(name);
	cam_family *f;

	if (!CAM_STR_ENDS_WITH(name, n, "_total") || n - 6 == 0 || n - 6 > CAM_METRICS_MAX_NAME)
		return false;
	memcpy(base, name, n - 6);
	base[n - 6] = '\0';
	f = cam_family_find(base);
	return f && cam_family_type(f) == CAM_COUNTER;
}

/* A plain decimal number: [+-]digits[.digits][e[+-]digits], nothing
 * around it (strtod would also take hex, inf, nan and blanks). */
static bool decimal(const char *s)
{
	const char *p = s + (*s == '+' || *s == '-');
	bool digits = false;

	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits = true;
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		p += *p == '+' || *p == '-';
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* "k=v,k2=v2" (len bytes) into sorted names and values; an error names
 * the problem. Empty pairs (",,") are skipped. */
static int parse_labels(struct cam_syscall *sc, const char *s, size_t slen, struct labels *l)
{
	char *end, *next;

	l->n = 0;
	l->names[0] = NULL;
	if (!s || !slen)
		return 0;
	if (slen >= sizeof(l->buf))
		return cam_syscall_fail(sc, CAM_EINVAL,
					"labels are longer than %zu bytes", sizeof(l->buf) - 1);
	memcpy(l->buf, s, slen + 1);
	end = l->buf + slen;
	for (char *tok = l->buf; tok < end; tok = next + 1) {
		char *eq;
		size_t len;

		next = memchr(tok, ',', (size_t)(end - tok));
		if (!next)
			next = end;
		*next = '\0';
		if (next == tok)
			continue;
		len = (size_t)(next - tok);
		eq = memchr(tok, '=', len);
		if (!eq)
			return cam_syscall_fail(sc, CAM_EINVAL,
						"label '%.64s' is not name=value", tok);
		*eq = '\0';
		if (!cam_label_name_valid(tok))
			return refuse(sc, CAM_REJECT_INVALID_NAME, NULL, CAM_EINVAL,
				      "invalid label name '%.64s' (labels match [a-zA-Z_][a-zA-Z0-9_]*, no __ prefix)",
				      tok);
		if (CAM_STR_IS(tok, (size_t)(eq - tok), "le") || CAM_STR_IS(tok, (size_t)(eq - tok), "quantile"))
			return refuse(sc, CAM_REJECT_RESERVED_LABEL, NULL, CAM_EINVAL,
				      "label %s is reserved for histogram buckets and summary "
				      "quantiles", tok);
		len = (size_t)(next - eq - 1);
		if (len > CAM_METRICS_MAX_LABEL_VALUE || !cam_utf8_text(eq + 1, len)) {
			cam_metrics_count_rejection(NULL, CAM_REJECT_INVALID_LABEL_VALUE);
			return cam_syscall_fail(sc, CAM_EINVAL,
						"value of label %s is not UTF-8 or longer than %d bytes",
						tok, CAM_METRICS_MAX_LABEL_VALUE);
		}
		if (l->n == CAM_METRICS_MAX_LABELS)
			return cam_syscall_fail(sc, CAM_EINVAL,
						"more than %d labels", CAM_METRICS_MAX_LABELS);
		l->names[l->n] = tok;
		l->values[l->n++] = eq + 1;
	}
	/* Sort pairs by name so label order never makes a new series. */
	for (size_t i = 1; i < l->n; i++)
		for (size_t j = i; j > 0 && by_name(&l->names[j - 1], &l->names[j]) > 0; j--) {
			char *t = l->names[j];
			l->names[j] = l->names[j - 1];
			l->names[j - 1] = t;
			t = l->values[j];
			l->values[j] = l->values[j - 1];
			l->values[j - 1] = t;
		}
	for (size_t i = 1; i < l->n; i++)
		if (strcmp(l->names[i], l->names[i - 1]) == 0)
			return cam_syscall_fail(sc, CAM_EINVAL,
						"duplicate label '%s'", l->names[i]);
	l->names[l->n] = NULL;
	return 0;
}

static cam_family *find_custom(cam_emit_metric *em, const char *name)
{
	cam_family *f = NULL;

	pthread_rwlock_rdlock(&em->lock);
	for (size_t i = 0; i < em->ncustoms; i++)
		if (strcmp(em->customs[i].name, name) == 0) {
			f = em->customs[i].family;
			break;
		}
	pthread_rwlock_unlock(&em->lock);
	return f;
}

/* Registers a new custom family, or returns one another thread just made. */
static int make_custom(cam_emit_metric *em, struct cam_syscall *sc, const char *name,
		       enum cam_metric_type type, bool native, const char *help,
		       const struct labels *l, cam_family **out)
{
	size_t max = em->o.families_max;
	const char *why = NULL;
	int status = 0, rc;

	pthread_rwlock_wrlock(&em->lock);
	for (size_t i = 0; i < em->ncustoms; i++)
		if (strcmp(em->customs[i].name, name) == 0) {
			*out = em->customs[i].family;
			goto out_unlock;
		}
	if (cam_family_find(name)) {
		status = cam_syscall_fail(sc, CAM_EINVAL,
					  "metric %s belongs to the kernel", name);
		goto out_unlock;
	}
	if (em->ncustoms >= max || em->ncustoms >= MAX_CUSTOM) {
		cam_metrics_count_rejection(NULL, CAM_REJECT_FAMILY_LIMIT);
		status = cam_syscall_fail(sc, CAM_ELIMIT,
					  "custom metric limit reached (%zu families)", max);
		goto out_unlock;
	}
	rc = cam_family_register(&(struct cam_family_desc){
					 .name = name,
					 .help = help ? help : "Custom metric emitted with emit_metric.",
					 .type = type,
					 .label_names = (const char *const *)l->names,
					 .max_series = em->o.series_max,
					 .native = native ? &cam_native_defaults : NULL },
				 out, &why);
	if (rc) {
		status = cam_syscall_fail(sc, CAM_EINVAL, "metric %s refused: %s",
					  name, why ? why : "invalid");
		goto out_unlock;
	}
	snprintf(em->customs[em->ncustoms].name, sizeof(em->customs[0].name), "%s", name);
	em->customs[em->ncustoms++].family = *out;
out_unlock:
	pthread_rwlock_unlock(&em->lock);
	return status;
}

static const char *type_name(enum cam_metric_type t)
{
	return t == CAM_COUNTER ? "counter" : t == CAM_GAUGE ? "gauge" : "histogram";
}

/* The family's type, native buckets and label names must be what this
 * emit says. */
static int check_shape(struct cam_syscall *sc, cam_family *f, const char *name,
		       enum cam_metric_type type, bool native, const struct labels *l)
{
	if (cam_family_type(f) != type)
		return refuse(sc, CAM_REJECT_TYPE_CLASH, name, CAM_EINVAL,
			      "metric %s is a %s; it cannot be emitted as a %s", name,
			      type_name(cam_family_type(f)), type_name(type));
	if (cam_family_native(f) != native)
		return cam_syscall_fail(sc, CAM_EINVAL,
					"metric %s was first emitted with native:%s", name,
					cam_family_native(f) ? "true" : "false");
	if (cam_family_label_count(f) != l->n)
		return cam_syscall_fail(sc, CAM_EINVAL,
					"metric %s has %zu labels; this emit gives %zu", name,
					cam_family_label_count(f), l->n);
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(cam_family_label_name(f, i), l->names[i]) != 0)
			return cam_syscall_fail(sc, CAM_EINVAL,
						"metric %s has no label '%s'", name, l->names[i]);
	return 0;
}

/* A decimal's value: whole numbers of up to 15 digits directly (exact in
 * a double, and most emits are counts), the rest by strtod. */
static double decimal_value(const char *s)
{
	const char *p = s + (*s == '+' || *s == '-');
	double v = 0;
	size_t n = 0;

	for (; p[n] >= '0' && p[n] <= '9'; n++)
		v = v * 10 + (p[n] - '0');
	if (p[n] || n > 15)
		return strtod(s, NULL);
	return *s == '-' ? -v : v;
}

static int parse_value(struct cam_syscall *sc, const char *s, enum cam_metric_type type,
		       double *out)
{
	if (!s || !*s)
		return cam_syscall_fail(sc, CAM_EINVAL, "payload key 'value' is missing");
	if (!decimal(s) || !isfinite(*out = decimal_value(s)))
		return refuse(sc, CAM_REJECT_INVALID_VALUE, NULL, CAM_EINVAL,
			      "value '%.32s' is not a finite decimal number", s);
	if (type == CAM_COUNTER && *out < 0)
		return refuse(sc, CAM_REJECT_INVALID_VALUE, NULL, CAM_EINVAL,
			      "a counter only goes up: value must be >= 0");
	/* OpenMetrics: a histogram with negative observations has no _sum. */
	if (type == CAM_HISTOGRAM && *out < 0)
		return refuse(sc, CAM_REJECT_INVALID_VALUE, NULL, CAM_EINVAL,
			      "a histogram observes values >= 0");
	return 0;
}

/* The payload's keys, found in one pass (the registry checked there are
 * no others). */
struct emit_keys {
	const char *name, *value, *labels, *type, *help, *native;
	size_t name_len, labels_len;
};

static void read_keys(const struct cam_payload *p, struct emit_keys *k)
{
	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < p->n; i++) {
		const struct cam_payload_pair *pr = &p->pairs[i];

		if (CAM_STR_IS(pr->key, pr->klen, "metric_name"))
			k->name = pr->value, k->name_len = pr->vlen;
		else if (CAM_STR_IS(pr->key, pr->klen, "value"))
			k->value = pr->value;
		else if (CAM_STR_IS(pr->key, pr->klen, "labels"))
			k->labels = pr->value, k->labels_len = pr->vlen;
		else if (CAM_STR_IS(pr->key, pr->klen, "type"))
			k->type = pr->value;
		else if (CAM_STR_IS(pr->key, pr->klen, "help"))
			k->help = pr->value;
		else if (CAM_STR_IS(pr->key, pr->klen, "native"))
			k->native = pr->value;
	}
}

static int emit_metric(void *ctx, struct cam_syscall *sc)
{
	cam_emit_metric *em = ctx;
	struct emit_keys k;
	const char *name, *type_s, *help, *native_s;
	enum cam_metric_type type = CAM_COUNTER;
	bool native;
	const char *reserved;
	struct labels l;
	cam_family *f;
	cam_series *s;
	double v = 0;
	int status;

	read_keys(sc->payload, &k);
	name = k.name, type_s = k.type, help = k.help, native_s = k.native;
	native = native_s && strcmp(native_s, "true") == 0;

	if (!name || !*name)
		return cam_syscall_fail(sc, CAM_EINVAL,
					"payload key 'metric_name' is missing");
	if (!cam_metric_name_valid(name) || strchr(name, ':'))
		return refuse(sc, CAM_REJECT_INVALID_NAME, NULL, CAM_EINVAL,
			      "invalid metric_name '%.64s' (names match [a-zA-Z_][a-zA-Z0-9_]*)",
			      name);
	if (k.name_len >= 7 && memcmp(name, "cam_os_", 7) == 0)
		return refuse(sc, CAM_REJECT_RESERVED_NAME, NULL, CAM_EINVAL,
			      "metric_name may not use the cam_os_ prefix");
	if (type_s && strcmp(type_s, "gauge") == 0)
		type = CAM_GAUGE;
	else if (type_s && strcmp(type_s, "histogram") == 0)
		type = CAM_HISTOGRAM;
	else if (type_s && strcmp(type_s, "counter") != 0)
		return cam_syscall_fail(sc, CAM_EINVAL,
					"type must be counter, gauge or histogram");
	if (type != CAM_COUNTER && exposes_counter(name))
		return refuse(sc, CAM_REJECT_TYPE_CLASH, NULL, CAM_EINVAL,
			      "metric_name %.64s: its exposed names clash with the counter %.*s "
			      "(OpenMetrics shows it as %.64s)", name, (int)(strlen(name) - 6),
			      name, name);
	if ((reserved = reserved_name(name, k.name_len, type)))
		return refuse(sc, CAM_REJECT_RESERVED_NAME, NULL, CAM_EINVAL,
			      "metric_name %.64s %s", name, reserved);
	if (native_s && !native && strcmp(native_s, "false") != 0)
		return cam_syscall_fail(sc, CAM_EINVAL, "native must be true or false");
	if (native && type != CAM_HISTOGRAM)
		return cam_syscall_fail(sc, CAM_EINVAL, "native:true is for type:histogram only");
	if (help && strlen(help) > CAM_METRICS_MAX_HELP)
		return cam_syscall_fail(sc, CAM_EINVAL, "help is longer than %d bytes",
					CAM_METRICS_MAX_HELP);
	if ((status = parse_value(sc, k.value, type, &v)) ||
	    (status = parse_labels(sc, k.labels, k.labels_len, &l)))
		return status;

	f = find_custom(em, name);
	if (!f && (status = make_custom(em, sc, name, type, native, help, &l, &f)))
		return status;
	if ((status = check_shape(sc, f, name, type, native, &l)))
		return status;
	if (!(s = get_series(em, sc, f, &l, name, &status)))
		return status;
	if (type == CAM_COUNTER) {
		if (cam_counter_add_checked(s, v))
			return refuse(sc, CAM_REJECT_OVERFLOW, name, CAM_ERANGE,
				      "adding %.32s to counter %s would take it past the largest "
				      "finite number", k.value, name);
	} else if (type == CAM_HISTOGRAM)
		cam_histogram_observe(s, v);
	else
		cam_gauge_set(s, v);
	cam_result_addn(&sc->result, "metric_name", 11, name, k.name_len);
	cam_result_add(&sc->result, "type", type_name(type));
	cam_result_addn(&sc->result, "accepted", 8, "true", 4);
	return 0;
}

static const char *const K_EMIT_METRIC[] = { "metric_name", "value", "labels", "type", "help",
					     "native", NULL };

/* The metric a call emits, for the policy. */
static int metric_resource(void *ctx, struct cam_syscall *sc, char *buf, size_t len)
{
	(void)ctx;
	return cam_resource_from_key(sc, "metric", "metric_name", buf, len);
}

static const struct cam_verb rows[] = {
	{ .name = "emit_metric", .fn = emit_metric, .keys = K_EMIT_METRIC,
	  .scope = CAM_SCOPE_WRITE, .resource = metric_resource },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

/* The custom families stay in the metrics registry, with their values. */
static void destroy(cam_emit_metric *em)
{
	pthread_rwlock_destroy(&em->lock);
	pthread_mutex_destroy(&em->quota_lock);
	cam_caller_counts_free(em->made);
	free(em->customs);
	free(em);
}

int cam_emit_metric_new(const struct cam_emit_metric_opts *o, cam_emit_metric **out)
{
	cam_emit_metric *em = cam_xcalloc(1, sizeof(*em));
	int rc;

	em->o = *o;
	if (!em->o.families_max)
		em->o.families_max = 100;
	em->customs = cam_xcalloc(MAX_CUSTOM, sizeof(*em->customs));
	pthread_rwlock_init(&em->lock, NULL);
	pthread_mutex_init(&em->quota_lock, NULL);
	em->made = cam_caller_counts_new();
	em->quota_refusals = cam_quota_refusals("metrics_series_per_caller");
	if ((rc = cam_verbs_add(o->verbs, "observability", rows, NROWS, em))) {
		destroy(em);
		return rc;
	}
	*out = em;
	return 0;
}

void cam_emit_metric_free(cam_emit_metric *em)
{
	if (!em)
		return;
	cam_verbs_remove(em->o.verbs, rows, NROWS);
	destroy(em);
}
