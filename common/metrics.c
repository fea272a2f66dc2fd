/*
 * The metrics core described in metrics.h.
 *
 * Layout: every series has a process-wide id. Each thread that updates
 * metrics owns a shard: a two-level table from series id to a block of
 * cells (one double for counters and gauges; buckets, sum for histograms).
 * A block is allocated, cache-line aligned and zeroed, the first time the
 * thread touches the series; after that an update is a table walk and a
 * relaxed load/add/store by the only writer, which other threads read with
 * relaxed loads (64-bit loads and stores are single instructions here, so a
 * reader sees either the old or the new value, never a torn one).
 *
 * Locks: reg_lock guards the family list, the shard list, the id table and
 * every series array; cam_metrics_collect holds it while it sums. A family's
 * rwlock guards its hash table so lookups of existing series only take it
 * for reading. coll_lock guards the collectors and is held while they run,
 * so removing one waits for it. Order: coll_lock, reg_lock, a family's lock.
 *
 * A thread that exits folds its cells into each series' `retired` values
 * (a pthread key destructor) so nothing counted is lost.
 *
 * Native buckets (families with cam_native_opts) sit after a histogram's
 * classic cells: per thread, a window of `window` bucket counts from index
 * lo for positive values (and one for negative values, made on the first),
 * a few overflow slots for far-off buckets (+Inf, outliers) and the zero
 * count. The window moves when its values drift and halves its resolution
 * when they no longer fit or more than max_buckets are populated. Every
 * observation into such a family is wrapped in the cell's sequence count
 * (odd while writing; plain stores by the one writer), so a collect copies
 * a thread's classic and native cells as one consistent whole and the
 * count always equals the buckets. The series' schema is the resolution
 * every thread follows: lowered with a compare-and-swap on the slow path
 * only, by the thread or collect that needs it, never raised.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/metrics.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/native_hist.h"
#include "common/utf8.h"
#include "common/xmalloc.h"

#define SLOTS_PER_CHUNK 1024u
#define MAX_SERIES_IDS (256u * SLOTS_PER_CHUNK)
#define MAX_CHUNKS (MAX_SERIES_IDS / SLOTS_PER_CHUNK)
#define MAX_FAMILIES 1024u
#define REJECTED_FAMILY "cam_os_metrics_series_rejected_total"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define NATIVE_OVERFLOW 8          /* far-off buckets a thread's window holds */
#define NATIVE_MIN_WINDOW 144u     /* >= every index at schema -4, per sign */
#define NATIVE_MAX_SPAN 65536      /* widest merged range before halving */

typedef _Atomic double cell;

/* One sign's native buckets in one thread's cell. */
struct nwin {
	_Atomic int32_t lo;                 /* index of counts[0] */
	uint32_t used;                      /* populated buckets; writer only */
	_Atomic int32_t xidx[NATIVE_OVERFLOW]; /* far-off buckets */
	_Atomic uint64_t xcnt[NATIVE_OVERFLOW]; /* 0: slot free */
	_Atomic uint64_t counts[];          /* the family's window of them */
};

/* A thread's native buckets of one series, after its classic cells. */
struct ncell {
	_Atomic uint32_t seq;      /* odd while its thread writes */
	_Atomic int32_t schema;    /* this cell's; >= the series' */
	_Atomic uint64_t zero;
	struct nwin *pos;          /* in the same block as the cell */
	_Atomic(struct nwin *) neg; /* made by the first negative value */
};

/* Merged native buckets of one sign: dense counts from index lo. */
struct nside {
	int32_t lo;
	size_t len, cap;
	uint64_t *counts;
};

struct nacc {
	int schema;
	uint64_t zero;
	struct nside pos, neg;
};

struct cam_series {
	cam_family *family;
	uint32_t id;
	uint32_t ncells;
	/* What every thread's native cell follows; read on each observation,
	 * so away from the exemplar that traced calls write. */
	_Atomic int32_t native_schema;
	char **label_values;
	char *key;             /* label values joined by 0xff, for the hash */
	uint64_t hash;
	cam_series *hash_next;
	cell base;             /* cam_gauge_set */
	double *retired;       /* cells of threads that exited */
	double *agg;           /* scratch for cam_metrics_collect */
	uint64_t *agg_buckets; /* histogram buckets as integers, for visitors */
	atomic_flag ex_busy;   /* guards ex; writers skip, never wait */
	bool has_ex;
	struct cam_exemplar ex;      /* latest traced observation */
	struct cam_exemplar ex_copy; /* for visitors, under reg_lock */
	struct nacc *native_retired;   /* native cells of threads that exited */
	struct nacc native_agg;        /* scratch for cam_metrics_collect */
	struct cam_native_value native_out;
	int32_t *out_index;            /* native_out's arrays */
	uint64_t *out_count;
	size_t out_cap;
};

struct cam_family {
	char *name;
	char *help;
	char *unit;
	enum cam_metric_type type;
	char **label_names;
	size_t nlabels;
	double *buckets;
	size_t nbuckets;
	size_t max_series;
	uint32_t ncells;
	bool native;
	struct cam_native_opts native_opts;
	uint32_t window;        /* native counts per sign per thread */
	size_t cell_bytes;      /* a thread's block: classic cells (+ native) */
	/* Classic bucket by native index (at the family's schema) of a value
	 * > 0: the first bound whose index is >= it, over cls_kmin..cls_kmax;
	 * NULL when a bound is <= 0 or the table would be too large. */
	uint8_t *cls;
	int32_t cls_kmin, cls_kmax;

	pthread_rwlock_t lock;
	cam_series **ht;
	size_t ht_cap;
	cam_series **series; /* in creation order */
	size_t nseries;
	size_t series_cap;
	cam_series *rejected; /* our count in REJECTED_FAMILY */
};

struct shard {
	_Atomic(cell *) *_Atomic chunks[MAX_CHUNKS];
	struct shard *next;
};

struct collector {
	cam_metrics_collector fn;
	void *arg;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t coll_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t shard_key;
static cam_family *families[MAX_FAMILIES];
static size_t nfamilies;
static cam_series **series_by_id[MAX_CHUNKS];
static uint32_t next_id;
static struct shard *shards;
static cam_family *rejected_family;
static cam_series *rejected_series[CAM_REJECT_COUNT]; /* family "" */
static size_t limit_per_family = 1000;
static size_t limit_global = 20000;
static size_t nseries_total;
static struct collector collectors[16];
static size_t ncollectors;
static _Thread_local struct shard *tls_shard;

const double cam_metrics_default_buckets[] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,    5,     10,
};
const size_t cam_metrics_default_nbuckets =
	sizeof(cam_metrics_default_buckets) / sizeof(cam_metrics_default_buckets[0]);

const struct cam_native_opts cam_native_defaults = {
	.schema = 3,
	.zero_threshold = 2.938735877055719e-39, /* 2^-128 */
	.max_buckets = 160,
};

static const char *const reject_names[] = {
#define REJECT_NAME(e, s) [e] = s,
	CAM_REJECT_REASONS(REJECT_NAME)
#undef REJECT_NAME
};

const char *cam_reject_reason_name(enum cam_reject_reason why)
{
	return (unsigned)why < CAM_REJECT_COUNT ? reject_names[why] : "unknown";
}

/* ---- validation ---- */

size_t cam_metric_claims(const char *name, enum cam_metric_type type,
			 cam_metric_claim out[CAM_METRIC_MAX_CLAIMS])
{
	static const char *const hist[] = { "", "_bucket", "_sum", "_count" };
	size_t len = strlen(name);

	if (len > CAM_METRICS_MAX_NAME)
		return 0;
	if (type == CAM_COUNTER) {
		if (len >= 6 && strcmp(name + len - 6, "_total") == 0)
			len -= 6;
		if (len == 0)
			return 0;
		snprintf(out[0], sizeof(out[0]), "%.*s", (int)len, name);
		snprintf(out[1], sizeof(out[1]), "%.*s_total", (int)len, name);
		return 2;
	}
	if (type == CAM_HISTOGRAM) {
		for (size_t i = 0; i < 4; i++)
			snprintf(out[i], sizeof(out[i]), "%s%s", name, hist[i]);
		return 4;
	}
	snprintf(out[0], sizeof(out[0]), "%s", name);
	return 1;
}

bool cam_metric_claims_clash(const char *a, enum cam_metric_type ta, const char *b,
			     enum cam_metric_type tb)
{
	cam_metric_claim ca[CAM_METRIC_MAX_CLAIMS], cb[CAM_METRIC_MAX_CLAIMS];
	size_t na = cam_metric_claims(a, ta, ca), nb = cam_metric_claims(b, tb, cb);

	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (strcmp(ca[i], cb[j]) == 0)
				return true;
	return false;
}

/* Characters of metric and label names: bit 1 may start a metric name,
 * 2 may follow in one, 4 may start a label name, 8 may follow in one. */
enum { M_FIRST = 1, M_NEXT = 2, L_FIRST = 4, L_NEXT = 8 };
static const unsigned char name_chars[256] = {
	/* 0x00-0x7f; 0x80-0xff are 0. "0-9": 10, ":": 3, "A-Z_a-z": 15. */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3, 0, 0, 0, 0, 0,
	0, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
	15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 0, 0, 0, 0, 15,
	0, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
	15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 0, 0, 0, 0, 0,
};

/* Whether name is 1..CAM_METRICS_MAX_NAME characters, the first with bit
 * first of name_chars, the others with bit next. */
static int name_valid(const char *name, unsigned char first, unsigned char next)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t i;

	if (!p || !(name_chars[p[0]] & first))
		return 0;
	for (i = 1; name_chars[p[i]] & next; i++)
		if (i >= CAM_METRICS_MAX_NAME)
			return 0;
	return p[i] == '\0';
}

int cam_metric_name_valid(const char *name)
{
	return name_valid(name, M_FIRST, M_NEXT);
}

int cam_label_name_valid(const char *name)
{
	if (name && name[0] == '_' && name[1] == '_')
		return 0; /* reserved for Prometheus itself */
	return name_valid(name, L_FIRST, L_NEXT);
}

static bool buckets_valid(const double *b, size_t n)
{
	if (n > CAM_METRICS_MAX_BUCKETS)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(b[i]))
			return false;
		if (i > 0 && !(b[i] > b[i - 1]))
			return false;
	}
	return true;
}

/* ---- registry ---- */

static void free_series(cam_series *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->family->nlabels; i++)
		free(s->label_values[i]);
	free(s->label_values);
	free(s->key);
	free(s->retired);
	free(s->agg);
	free(s->agg_buckets);
	if (s->native_retired) {
		free(s->native_retired->pos.counts);
		free(s->native_retired->neg.counts);
		free(s->native_retired);
	}
	free(s->native_agg.pos.counts);
	free(s->native_agg.neg.counts);
	free(s->out_index);
	free(s->out_count);
	free(s);
}

static void free_family(cam_family *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nseries; i++)
		free_series(f->series[i]);
	free(f->series);
	free(f->ht);
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->label_names[i]);
	free(f->label_names);
	free(f->buckets);
	free(f->cls);
	free(f->name);
	free(f->help);
	free(f->unit);
	pthread_rwlock_destroy(&f->lock);
	free(f);
}

static cam_family *find_locked(const char *name)
{
	for (size_t i = 0; i < nfamilies; i++)
		if (strcmp(families[i]->name, name) == 0)
			return families[i];
	return NULL;
}

cam_family *cam_family_find(const char *name)
{
	cam_family *f;

	pthread_mutex_lock(&reg_lock);
	f = find_locked(name);
	pthread_mutex_unlock(&reg_lock);
	return f;
}

enum cam_metric_type cam_family_type(const cam_family *f)
{
	return f->type;
}

bool cam_family_native(const cam_family *f)
{
	return f->native;
}

const char *cam_family_name(const cam_family *f)
{
	return f->name;
}

size_t cam_family_label_count(const cam_family *f)
{
	return f->nlabels;
}

const char *cam_family_label_name(const cam_family *f, size_t i)
{
	return i < f->nlabels ? f->label_names[i] : NULL;
}

static size_t count_labels(const char *const *names)
{
	size_t n = 0;

	while (names && names[n])
		n++;
	return n;
}

static bool same_shape(const cam_family *f, const struct cam_family_desc *d,
		       const struct cam_native_opts *native)
{
	size_t n = count_labels(d->label_names);

	if (f->type != d->type || f->nlabels != n || f->native != (native != NULL))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(f->label_names[i], d->label_names[i]) != 0)
			return false;
	return true;
}

static int check_desc(const struct cam_family_desc *d, const struct cam_native_opts *native,
		      const char **why)
{
	size_t n = count_labels(d->label_names);

	if (!cam_metric_name_valid(d->name)) {
		*why = "metric name must match [a-zA-Z_:][a-zA-Z0-9_:]* (at most 128 characters)";
		return CAM_EINVAL;
	}
	if (d->type != CAM_COUNTER && d->type != CAM_GAUGE &&
	    d->type != CAM_HISTOGRAM) {
		*why = "metric type must be counter, gauge or histogram";
		return CAM_EINVAL;
	}
	if (d->type == CAM_COUNTER && strcmp(d->name, "_total") == 0) {
		*why = "a counter needs a name before _total";
		return CAM_EINVAL;
	}
	if (d->help && strlen(d->help) > CAM_METRICS_MAX_HELP) {
		*why = "help text is longer than 512 bytes";
		return CAM_EINVAL;
	}
	if (n > CAM_METRICS_MAX_LABELS) {
		*why = "more than 8 label names";
		return CAM_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!cam_label_name_valid(d->label_names[i])) {
			*why = "label name must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __";
			return CAM_EINVAL;
		}
		if (d->type == CAM_HISTOGRAM && strcmp(d->label_names[i], "le") == 0) {
			*why = "a histogram may not have a label named le";
			return CAM_EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(d->label_names[i], d->label_names[j]) == 0) {
				*why = "duplicate label name";
				return CAM_EINVAL;
			}
	}
	if (d->type == CAM_HISTOGRAM && d->nbuckets &&
	    !buckets_valid(d->buckets, d->nbuckets)) {
		*why = "histogram buckets must be finite and strictly increasing (at most 32)";
		return CAM_EINVAL;
	}
	if (native && d->type != CAM_HISTOGRAM) {
		*why = "only histograms have native buckets";
		return CAM_EINVAL;
	}
	if (native && (native->schema < CAM_NATIVE_SCHEMA_MIN ||
			  native->schema > CAM_NATIVE_SCHEMA_MAX ||
			  !(native->zero_threshold >= 0) ||
			  !isfinite(native->zero_threshold) ||
			  native->max_buckets < 1 ||
			  native->max_buckets > CAM_NATIVE_MAX_BUCKETS)) {
		*why = "native buckets need a schema of -4..8, a finite zero threshold >= 0 "
		       "and a bucket limit of 1..4096";
		return CAM_EINVAL;
	}
	return 0;
}

#define CLS_TABLE_MAX 65536

/* Builds f->cls (see struct cam_family), so a native observation finds
 * its classic bucket from the native index it computes anyway. */
static void classic_table(cam_family *f)
{
	int schema = f->native_opts.schema;
	size_t n, j = 0;

	if (f->nbuckets == 0 || !(f->buckets[0] > 0))
		return;
	f->cls_kmin = cam_native_index(f->buckets[0], schema);
	f->cls_kmax = cam_native_index(f->buckets[f->nbuckets - 1], schema);
	n = (size_t)((int64_t)f->cls_kmax - f->cls_kmin + 1);
	if (n > CLS_TABLE_MAX)
		return;
	f->cls = cam_xmalloc(n);
	for (size_t i = 0; i < n; i++) {
		int32_t k = f->cls_kmin + (int32_t)i;
		while (j < f->nbuckets && cam_native_index(f->buckets[j], schema) < k)
			j++;
		f->cls[i] = (uint8_t)j;
	}
}

static cam_family *new_family(const struct cam_family_desc *d,
			      const struct cam_native_opts *native)
{
	cam_family *f = cam_xcalloc(1, sizeof(*f));
	size_t n = count_labels(d->label_names);

	f->name = cam_xstrdup(d->name);
	f->help = cam_xstrdup(d->help ? d->help : "");
	f->unit = cam_xstrdup(d->unit ? d->unit : "");
	f->type = d->type;
	f->nlabels = n;
	f->label_names = cam_xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		f->label_names[i] = cam_xstrdup(d->label_names[i]);
	if (d->type == CAM_HISTOGRAM) {
		const double *b = d->nbuckets ? d->buckets : cam_metrics_default_buckets;
		f->nbuckets = d->nbuckets ? d->nbuckets : cam_metrics_default_nbuckets;
		f->buckets = cam_xmalloc(f->nbuckets * sizeof(double));
		memcpy(f->buckets, b, f->nbuckets * sizeof(double));
		f->ncells = (uint32_t)f->nbuckets + 2; /* buckets, +Inf, sum */
	} else {
		f->ncells = 1;
	}
	f->cell_bytes = f->ncells * sizeof(cell);
	if (native) {
		cam_native_init();
		f->native = true;
		f->native_opts = *native;
		f->window = 2 * native->max_buckets;
		if (f->window < NATIVE_MIN_WINDOW)
			f->window = NATIVE_MIN_WINDOW;
		f->cell_bytes += sizeof(struct ncell) + sizeof(struct nwin) +
				 f->window * sizeof(uint64_t);
		classic_table(f);
	}
	f->max_series = d->max_series;
	f->ht_cap = 16;
	f->ht = cam_xcalloc(f->ht_cap, sizeof(cam_series *));
	pthread_rwlock_init(&f->lock, NULL);
	return f;
}

static cam_series *create_series_locked(cam_family *f,
					const char *const *values, bool bypass);

/* Registers the family that counts refused series, once. */
static void ensure_rejected_family_locked(void)
{
	static const char *const labels[] = { "family", "reason", NULL };
	struct cam_family_desc d = {
		.name = REJECTED_FAMILY,
		.help = "Series or families refused, by family (empty when a whole family was "
			"refused) and reason.",
		.type = CAM_COUNTER,
		.label_names = labels,
	};

	if (rejected_family)
		return;
	rejected_family = new_family(&d, NULL);
	families[nfamilies++] = rejected_family;
}

int cam_family_register(const struct cam_family_desc *desc, cam_family **out,
			const char **why)
{
	return cam_family_register_native(desc, NULL, out, why);
}

/* The native options a registration asks for: the argument, else the
 * description's. */
static const struct cam_native_opts *native_of(const struct cam_family_desc *desc,
					       const struct cam_native_opts *native)
{
	return native ? native : desc ? desc->native : NULL;
}

int cam_family_register_native(const struct cam_family_desc *desc,
			       const struct cam_native_opts *native, cam_family **out,
			       const char **why)
{
	const char *dummy;
	cam_family *f;
	int rc = 0;

	if (!why)
		why = &dummy;
	*why = NULL;
	native = native_of(desc, native);
	rc = check_desc(desc, native, why);
	if (rc)
		return rc;

	pthread_mutex_lock(&reg_lock);
	ensure_rejected_family_locked();
	f = find_locked(desc->name);
	if (f) {
		if (!same_shape(f, desc, native)) {
			*why = "a family of that name exists with another type, other labels, or native "
			       "buckets where this one has none (or the other way round)";
			rc = CAM_ETYPE;
		} else {
			*out = f;
		}
		goto out_unlock;
	}
	for (size_t i = 0; i < nfamilies; i++)
		if (cam_metric_claims_clash(desc->name, desc->type, families[i]->name,
					    families[i]->type)) {
			*why = "its exposed names clash with an existing family's (x_total and x, "
			       "or a histogram's _bucket, _sum and _count)";
			rc = CAM_ETYPE;
			goto out_unlock;
		}
	if (nfamilies >= MAX_FAMILIES) {
		*why = "the registry holds 1024 families already";
		rc = CAM_ELIMIT;
		goto out_unlock;
	}
	f = new_family(desc, native);
	families[nfamilies++] = f;
	*out = f;
out_unlock:
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

void cam_metrics_set_limits(size_t per_family, size_t global)
{
	pthread_mutex_lock(&reg_lock);
	limit_per_family = per_family;
	limit_global = global < MAX_SERIES_IDS ? global : MAX_SERIES_IDS;
	pthread_mutex_unlock(&reg_lock);
}

size_t cam_metrics_series_count(void)
{
	size_t n;

	pthread_mutex_lock(&reg_lock);
	n = nseries_total;
	pthread_mutex_unlock(&reg_lock);
	return n;
}

int cam_metrics_add_collector(cam_metrics_collector fn, void *arg)
{
	int rc = CAM_ELIMIT;

	pthread_mutex_lock(&coll_lock);
	if (ncollectors < sizeof(collectors) / sizeof(collectors[0])) {
		collectors[ncollectors++] = (struct collector){ fn, arg };
		rc = 0;
	}
	pthread_mutex_unlock(&coll_lock);
	return rc;
}

void cam_metrics_remove_collector(cam_metrics_collector fn, void *arg)
{
	pthread_mutex_lock(&coll_lock);
	for (size_t i = 0; i < ncollectors; i++)
		if (collectors[i].fn == fn && collectors[i].arg == arg) {
			memmove(&collectors[i], &collectors[i + 1],
				(ncollectors - i - 1) * sizeof(collectors[0]));
			ncollectors--;
			break;
		}
	pthread_mutex_unlock(&coll_lock);
}

/* ---- series lookup ---- */

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

/*
 * Joins label values with 0xff (never valid in UTF-8, so the key is
 * unambiguous) into buf. Returns the key length, or -1 when a value is
 * missing, too long or not UTF-8.
 */
static long make_key(const cam_family *f, const char *const *values, char *buf,
		     size_t cap)
{
	size_t pos = 0;

	for (size_t i = 0; i < f->nlabels; i++) {
		size_t len;

		if (!values || !values[i] || !cam_utf8_valid(values[i], &len) ||
		    len > CAM_METRICS_MAX_LABEL_VALUE || pos + len + 1 > cap)
			return -1;
		memcpy(buf + pos, values[i], len);
		pos += len;
		buf[pos++] = (char)0xff;
	}
	return (long)pos;
}

static cam_series *ht_find(const cam_family *f, const char *key, size_t klen,
			   uint64_t h)
{
	for (cam_series *s = f->ht[h & (f->ht_cap - 1)]; s; s = s->hash_next)
		if (s->hash == h && memcmp(s->key, key, klen) == 0 &&
		    s->key[klen] == '\0')
			return s;
	return NULL;
}

static void ht_insert(cam_family *f, cam_series *s)
{
	if (f->nseries * 2 >= f->ht_cap) {
		size_t cap = f->ht_cap * 2;
		cam_series **ht = cam_xcalloc(cap, sizeof(*ht));

		for (size_t i = 0; i < f->nseries; i++) {
			cam_series *o = f->series[i];
			o->hash_next = ht[o->hash & (cap - 1)];
			ht[o->hash & (cap - 1)] = o;
		}
		free(f->ht);
		f->ht = ht;
		f->ht_cap = cap;
	}
	s->hash_next = f->ht[s->hash & (f->ht_cap - 1)];
	f->ht[s->hash & (f->ht_cap - 1)] = s;
}

/*
 * The series counting refusals of f (NULL: of a family that does not
 * exist) for why; made on first use past every limit (at most one per
 * family and reason). Called with reg_lock held.
 */
static cam_series *rejected_series_locked(cam_family *f, enum cam_reject_reason why)
{
	const char *values[] = { f ? f->name : "", reject_names[why], NULL };
	cam_series **slot = f ? &f->rejected : &rejected_series[why];
	cam_series *s;

	ensure_rejected_family_locked();
	/* f->rejected caches the family's most recent reason only. */
	if (*slot && strcmp((*slot)->label_values[1], reject_names[why]) == 0)
		return *slot;
	pthread_rwlock_wrlock(&rejected_family->lock);
	s = create_series_locked(rejected_family, values, true);
	pthread_rwlock_unlock(&rejected_family->lock);
	*slot = s;
	return s;
}

static void count_rejection(cam_family *f, enum cam_reject_reason why)
{
	cam_series *s;

	pthread_mutex_lock(&reg_lock);
	s = rejected_series_locked(f, why);
	pthread_mutex_unlock(&reg_lock);
	cam_counter_inc(s);
}

void cam_metrics_count_rejection(const char *family, enum cam_reject_reason why)
{
	cam_family *f;

	if ((unsigned)why >= CAM_REJECT_COUNT)
		why = CAM_REJECT_INVALID_VALUE;
	pthread_mutex_lock(&reg_lock);
	f = family ? find_locked(family) : NULL;
	pthread_mutex_unlock(&reg_lock);
	count_rejection(f, why);
}

static cam_series *new_series_locked(cam_family *f, const char *const *values,
				     const char *key, long klen, uint64_t h);

/* Called with reg_lock and f->lock (write) held, or during registration. */
static cam_series *create_series_locked(cam_family *f,
					const char *const *values, bool bypass)
{
	char key[CAM_METRICS_MAX_LABELS * (CAM_METRICS_MAX_LABEL_VALUE + 1) + 1];
	long klen = make_key(f, values, key, sizeof(key) - 1);
	uint64_t h;
	cam_series *s;
	size_t max = f->max_series ? f->max_series : limit_per_family;

	if (klen < 0)
		return NULL;
	key[klen] = '\0';
	h = fnv1a(key, (size_t)klen);
	s = ht_find(f, key, (size_t)klen, h);
	if (s)
		return s;
	if (next_id >= MAX_SERIES_IDS ||
	    (!bypass && (f->nseries >= max || nseries_total >= limit_global)))
		return NULL;
	return new_series_locked(f, values, key, klen, h);
}

/* Makes and registers the series of create_series_locked. */
static cam_series *new_series_locked(cam_family *f, const char *const *values,
				     const char *key, long klen, uint64_t h)
{
	cam_series *s;

	s = cam_xcalloc(1, sizeof(*s));
	s->family = f;
	s->id = next_id++;
	s->ncells = f->ncells;
	s->label_values = cam_xcalloc(f->nlabels ? f->nlabels : 1, sizeof(char *));
	for (size_t i = 0; i < f->nlabels; i++)
		s->label_values[i] = cam_xstrdup(values[i]);
	s->key = cam_xmalloc((size_t)klen + 1);
	memcpy(s->key, key, (size_t)klen + 1);
	s->hash = h;
	s->retired = cam_xcalloc(s->ncells, sizeof(double));
	s->agg = cam_xcalloc(s->ncells, sizeof(double));
	if (f->type == CAM_HISTOGRAM)
		s->agg_buckets = cam_xcalloc(f->nbuckets + 1, sizeof(uint64_t));
	atomic_init(&s->base, 0.0);
	atomic_flag_clear(&s->ex_busy);
	atomic_init(&s->native_schema, f->native ? f->native_opts.schema : 0);

	if (!series_by_id[s->id / SLOTS_PER_CHUNK])
		series_by_id[s->id / SLOTS_PER_CHUNK] =
			cam_xcalloc(SLOTS_PER_CHUNK, sizeof(cam_series *));
	series_by_id[s->id / SLOTS_PER_CHUNK][s->id % SLOTS_PER_CHUNK] = s;
	if (f->nseries == f->series_cap) {
		f->series_cap = f->series_cap ? f->series_cap * 2 : 8;
		f->series = cam_xrealloc(f->series, f->series_cap * sizeof(*f->series));
	}
	ht_insert(f, s); /* before the append: a resize rehashes f->series */
	f->series[f->nseries++] = s;
	nseries_total++;
	return s;
}

cam_series *cam_series_find(cam_family *f, const char *const *label_values)
{
	char key[CAM_METRICS_MAX_LABELS * (CAM_METRICS_MAX_LABEL_VALUE + 1) + 1];
	long klen;
	cam_series *s;

	if (!f || (klen = make_key(f, label_values, key, sizeof(key) - 1)) < 0)
		return NULL;
	key[klen] = '\0';
	pthread_rwlock_rdlock(&f->lock);
	s = ht_find(f, key, (size_t)klen, fnv1a(key, (size_t)klen));
	pthread_rwlock_unlock(&f->lock);
	return s;
}

cam_series *cam_series_get(cam_family *f, const char *const *label_values)
{
	bool created;

	return cam_series_get_new(f, label_values, &created);
}

cam_series *cam_series_get_new(cam_family *f, const char *const *label_values, bool *created)
{
	char key[CAM_METRICS_MAX_LABELS * (CAM_METRICS_MAX_LABEL_VALUE + 1) + 1];
	long klen;
	cam_series *s;
	bool refused;
	enum cam_reject_reason why;
	size_t before;

	*created = false;
	if (!f)
		return NULL;
	klen = make_key(f, label_values, key, sizeof(key) - 1);
	if (klen < 0) {
		count_rejection(f, CAM_REJECT_INVALID_LABEL_VALUE);
		return NULL;
	}
	key[klen] = '\0';

	pthread_rwlock_rdlock(&f->lock);
	s = ht_find(f, key, (size_t)klen, fnv1a(key, (size_t)klen));
	pthread_rwlock_unlock(&f->lock);
	if (s)
		return s;

	pthread_mutex_lock(&reg_lock);
	pthread_rwlock_wrlock(&f->lock);
	before = f->nseries;
	s = create_series_locked(f, label_values, false);
	refused = !s;
	*created = s && f->nseries > before;
	/* Which limit: the family's own, else the global one. */
	why = f->nseries >= (f->max_series ? f->max_series : limit_per_family)
		? CAM_REJECT_SERIES_LIMIT : CAM_REJECT_GLOBAL_LIMIT;
	pthread_rwlock_unlock(&f->lock);
	pthread_mutex_unlock(&reg_lock);
	if (refused)
		count_rejection(f, why);
	return s;
}

/* ---- shards ---- */

static void native_retire_cell(cam_series *s, cell *c);
static void native_free_cell(const cam_family *f, cell *c);

/* Folds an exiting thread's cells into `retired` and frees its shard. */
static void shard_retire(void *p)
{
	struct shard *sh = p, **pp;

	pthread_mutex_lock(&reg_lock);
	for (uint32_t c = 0; c < MAX_CHUNKS; c++) {
		_Atomic(cell *) *chunk = atomic_load(&sh->chunks[c]);
		if (!chunk)
			continue;
		for (uint32_t i = 0; i < SLOTS_PER_CHUNK; i++) {
			cell *cells = atomic_load(&chunk[i]);
			cam_series *s;

			if (!cells)
				continue;
			s = series_by_id[c][i];
			if (s->family->native)
				native_retire_cell(s, cells); /* its classic cells too */
			else
				for (uint32_t k = 0; k < s->ncells; k++)
					s->retired[k] += atomic_load_explicit(&cells[k],
									      memory_order_relaxed);
			native_free_cell(s->family, cells);
			free(cells);
		}
		free(chunk);
	}
	for (pp = &shards; *pp; pp = &(*pp)->next)
		if (*pp == sh) {
			*pp = sh->next;
			break;
		}
	pthread_mutex_unlock(&reg_lock);
	free(sh);
	if (tls_shard == sh)
		tls_shard = NULL;
}

static void make_key_once(void)
{
	pthread_key_create(&shard_key, shard_retire);
}

static struct shard *shard_new(void)
{
	struct shard *sh = cam_xcalloc_aligned(sizeof(*sh));

	pthread_once(&key_once, make_key_once);
	pthread_mutex_lock(&reg_lock);
	sh->next = shards;
	shards = sh;
	pthread_mutex_unlock(&reg_lock);
	pthread_setspecific(shard_key, sh);
	tls_shard = sh;
	return sh;
}

static void ncell_init(cam_series *s, cell *c);

/* First touch of a series by this thread: allocate what is missing. */
static __attribute__((noinline)) cell *cells_slow(cam_series *s)
{
	struct shard *sh = tls_shard ? tls_shard : shard_new();
	uint32_t c = s->id / SLOTS_PER_CHUNK, i = s->id % SLOTS_PER_CHUNK;
	_Atomic(cell *) *chunk = atomic_load_explicit(&sh->chunks[c], memory_order_relaxed);
	cell *cells;

	if (!chunk) {
		chunk = cam_xcalloc(SLOTS_PER_CHUNK, sizeof(*chunk));
		atomic_store_explicit(&sh->chunks[c], chunk, memory_order_release);
	}
	cells = atomic_load_explicit(&chunk[i], memory_order_relaxed);
	if (!cells) {
		/* Whole cache lines, so no two threads' cells ever share one. */
		cells = cam_xcalloc_aligned(s->family->cell_bytes);
		if (s->family->native)
			ncell_init(s, cells);
		atomic_store_explicit(&chunk[i], cells, memory_order_release);
	}
	return cells;
}

static inline cell *cells_for(cam_series *s)
{
	struct shard *sh = tls_shard;

	if (likely(sh)) {
		_Atomic(cell *) *chunk = atomic_load_explicit(
			&sh->chunks[s->id / SLOTS_PER_CHUNK], memory_order_relaxed);
		if (likely(chunk)) {
			cell *c = atomic_load_explicit(&chunk[s->id % SLOTS_PER_CHUNK],
						       memory_order_relaxed);
			if (likely(c))
				return c;
		}
	}
	return cells_slow(s);
}

/* Only this thread writes these cells: load, add, store; no locked RMW. */
static inline void cell_add(cell *c, double v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* Index of the first bucket whose bound is >= v (le is inclusive);
 * nbuckets (+Inf) when none is, or for NaN. */
static inline size_t bucket_index(const cam_family *f, double v)
{
	size_t lo = 0, hi = f->nbuckets;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v <= f->buckets[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo < f->nbuckets && !(v <= f->buckets[lo]))
		return f->nbuckets;
	return lo;
}

/* ---- native buckets: a thread's cell ---- */

static inline struct ncell *ncell_of(const cam_family *f, cell *c)
{
	return (struct ncell *)(void *)(c + f->ncells);
}

static void ncell_init(cam_series *s, cell *c)
{
	struct ncell *nc = ncell_of(s->family, c);

	nc->pos = (struct nwin *)(void *)(nc + 1);
	atomic_init(&nc->schema, atomic_load_explicit(&s->native_schema, memory_order_relaxed));
}

/*
 * Native cells are read under their sequence count: stores inside it are
 * release and the reader's loads acquire (plain moves on x86-64), which
 * orders them against the count as fences would (ThreadSanitizer does not
 * model fences, and gcc refuses them under it).
 */
static inline uint64_t ld(_Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_acquire);
}

static inline void st(_Atomic uint64_t *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_release);
}

static inline void cell_add_rel(cell *c, double v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_release);
}

static struct nwin *nwin_new(uint32_t window)
{
	return cam_xcalloc(1, sizeof(struct nwin) + window * sizeof(uint64_t));
}

/* Counts the populated buckets of w again (after a move or a halving). */
static void nwin_recount(struct nwin *w, uint32_t window)
{
	uint32_t used = 0;

	for (uint32_t i = 0; i < window; i++)
		used += ld(&w->counts[i]) != 0;
	for (int k = 0; k < NATIVE_OVERFLOW; k++)
		used += ld(&w->xcnt[k]) != 0;
	w->used = used;
}

/* Adds n to bucket idx of w if it is in the window or an overflow slot
 * (existing or free); false when there is no room. Writer only. */
static bool nwin_put(struct nwin *w, uint32_t window, int32_t idx, uint64_t n)
{
	int32_t lo = atomic_load_explicit(&w->lo, memory_order_relaxed);
	uint32_t off = (uint32_t)idx - (uint32_t)lo;
	int free_slot = -1;

	if (off < window) {
		uint64_t c = ld(&w->counts[off]);
		st(&w->counts[off], c + n);
		w->used += c == 0;
		return true;
	}
	for (int k = 0; k < NATIVE_OVERFLOW; k++) {
		uint64_t c = ld(&w->xcnt[k]);
		if (c && atomic_load_explicit(&w->xidx[k], memory_order_relaxed) == idx) {
			st(&w->xcnt[k], c + n);
			return true;
		}
		if (!c && free_slot < 0)
			free_slot = k;
	}
	if (free_slot < 0)
		return false;
	atomic_store_explicit(&w->xidx[free_slot], idx, memory_order_release);
	st(&w->xcnt[free_slot], n);
	w->used++;
	return true;
}

/* Moves the window so that it starts at lo, carrying its counts. */
static void nwin_move(struct nwin *w, uint32_t window, int32_t lo)
{
	int32_t old = atomic_load_explicit(&w->lo, memory_order_relaxed);
	int64_t shift = (int64_t)old - lo;
	uint64_t tmp[NATIVE_OVERFLOW];
	int32_t tidx[NATIVE_OVERFLOW];
	int nt = 0;

	/* Buckets that fall out of the new window go to the overflow slots;
	 * the caller made sure they fit (it counted them). */
	for (uint32_t i = 0; i < window; i++) {
		uint64_t c = ld(&w->counts[i]);
		int64_t to = (int64_t)i + shift;
		if (c && (to < 0 || to >= window) && nt < NATIVE_OVERFLOW) {
			tidx[nt] = old + (int32_t)i;
			tmp[nt++] = c;
		}
	}
	if (shift > 0) {
		for (int64_t i = (int64_t)window - 1; i >= 0; i--) {
			uint64_t c = i - shift >= 0 ? ld(&w->counts[i - shift]) : 0;
			st(&w->counts[i], c);
		}
	} else {
		for (int64_t i = 0; i < window; i++) {
			uint64_t c = i - shift < window ? ld(&w->counts[i - shift]) : 0;
			st(&w->counts[i], c);
		}
	}
	atomic_store_explicit(&w->lo, lo, memory_order_release);
	/* Overflow slots that now fall in the window join it. */
	for (int k = 0; k < NATIVE_OVERFLOW; k++) {
		uint64_t c = ld(&w->xcnt[k]);
		int32_t idx = atomic_load_explicit(&w->xidx[k], memory_order_relaxed);
		uint32_t off = (uint32_t)idx - (uint32_t)lo;

		if (c && off < window) {
			st(&w->counts[off], ld(&w->counts[off]) + c);
			st(&w->xcnt[k], 0);
		}
	}
	for (int k = 0; k < nt; k++)
		nwin_put(w, window, tidx[k], tmp[k]);
	nwin_recount(w, window);
}

/* Halves w's resolution d times: bucket i becomes ceil(i / 2^d). */
static void nwin_reduce(struct nwin *w, uint32_t window, int d)
{
	int32_t lo = atomic_load_explicit(&w->lo, memory_order_relaxed);
	int32_t nlo = cam_native_reduce_index(lo, d);

	/* In place: bucket i moves to an offset <= i. */
	for (uint32_t i = 0; i < window; i++) {
		uint64_t c = ld(&w->counts[i]);
		uint32_t to = (uint32_t)(cam_native_reduce_index(lo + (int32_t)i, d) - nlo);

		if (!c || to == i)
			continue;
		st(&w->counts[i], 0);
		st(&w->counts[to], ld(&w->counts[to]) + c);
	}
	atomic_store_explicit(&w->lo, nlo, memory_order_release);
	for (int k = 0; k < NATIVE_OVERFLOW; k++) {
		uint64_t c = ld(&w->xcnt[k]);
		int32_t idx;

		if (!c)
			continue;
		idx = cam_native_reduce_index(atomic_load_explicit(&w->xidx[k], memory_order_relaxed), d);
		st(&w->xcnt[k], 0);
		if ((uint32_t)idx - (uint32_t)nlo < window) {
			st(&w->counts[idx - nlo], ld(&w->counts[idx - nlo]) + c);
		} else {
			/* Merge with a slot of the same new index, or reuse this one. */
			int k2;
			for (k2 = 0; k2 < k; k2++)
				if (ld(&w->xcnt[k2]) &&
				    atomic_load_explicit(&w->xidx[k2], memory_order_relaxed) == idx)
					break;
			if (k2 < k) {
				st(&w->xcnt[k2], ld(&w->xcnt[k2]) + c);
			} else {
				atomic_store_explicit(&w->xidx[k], idx, memory_order_release);
				st(&w->xcnt[k], c);
			}
		}
	}
	nwin_recount(w, window);
}

static void ncell_reduce(struct ncell *nc, uint32_t window, int d)
{
	struct nwin *neg = atomic_load_explicit(&nc->neg, memory_order_relaxed);

	nwin_reduce(nc->pos, window, d);
	if (neg)
		nwin_reduce(neg, window, d);
	atomic_store_explicit(&nc->schema,
			      atomic_load_explicit(&nc->schema, memory_order_relaxed) - d,
			      memory_order_release);
}

/* Lowers the series' schema to at most schema (never raises it). */
static void lower_schema(cam_series *s, int32_t schema)
{
	int32_t cur = atomic_load_explicit(&s->native_schema, memory_order_relaxed);

	while (cur > schema &&
	       !atomic_compare_exchange_weak_explicit(&s->native_schema, &cur, schema,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

/* Where w's populated buckets start and end (window and overflow). */
static bool nwin_range(struct nwin *w, uint32_t window, int32_t *min, int32_t *max)
{
	int32_t lo = atomic_load_explicit(&w->lo, memory_order_relaxed);
	bool any = false;

	for (uint32_t i = 0; i < window; i++)
		if (ld(&w->counts[i])) {
			if (!any)
				*min = lo + (int32_t)i;
			*max = lo + (int32_t)i;
			any = true;
		}
	for (int k = 0; k < NATIVE_OVERFLOW; k++)
		if (ld(&w->xcnt[k])) {
			int32_t idx = atomic_load_explicit(&w->xidx[k], memory_order_relaxed);
			if (!any || idx < *min)
				*min = idx;
			if (!any || idx > *max)
				*max = idx;
			any = true;
		}
	return any;
}

/* How many of w's window buckets would fall outside a window at lo. */
static uint32_t outside_if_moved(struct nwin *w, uint32_t window, int32_t lo)
{
	int32_t old = atomic_load_explicit(&w->lo, memory_order_relaxed);
	uint32_t n = 0;

	for (uint32_t i = 0; i < window; i++)
		if (ld(&w->counts[i]) && (uint32_t)(old + (int32_t)i) - (uint32_t)lo >= window)
			n++;
	return n;
}

/*
 * The slow path of a native observation, inside the cell's sequence: the
 * cell lags the series' schema, the bucket is outside the window, or a
 * new bucket passed the limit. Ends with v counted.
 */
static __attribute__((noinline)) void native_slow(cam_series *s, struct ncell *nc, double v)
{
	const cam_family *f = s->family;
	uint32_t window = f->window;

	for (;;) {
		int32_t sch = atomic_load_explicit(&nc->schema, memory_order_relaxed);
		int32_t want = atomic_load_explicit(&s->native_schema, memory_order_relaxed);
		struct nwin *w = nc->pos;
		int32_t key, min = 0, max = 0;
		uint32_t used_before;

		if (sch > want) {
			ncell_reduce(nc, window, sch - want);
			continue;
		}
		if (v < 0) {
			w = atomic_load_explicit(&nc->neg, memory_order_relaxed);
			if (!w) {
				w = nwin_new(window);
				atomic_store_explicit(&nc->neg, w, memory_order_release);
			}
		}
		key = cam_native_index_fast(v, sch);
		if (w->used == 0)
			atomic_store_explicit(&w->lo, key - (int32_t)(window / 2), memory_order_release);
		used_before = w->used;
		if (nwin_put(w, window, key, 1)) {
			if (w->used > used_before && w->used > f->native_opts.max_buckets &&
			    sch > CAM_NATIVE_SCHEMA_MIN) {
				ncell_reduce(nc, window, 1);
				lower_schema(s, sch - 1);
			}
			return;
		}
		/* No room: move the window over the populated range when that
		 * fits, else halve the resolution. */
		if (nwin_range(w, window, &min, &max)) {
			int64_t lo_r = key < min ? key : min, hi_r = key > max ? key : max;
			if (hi_r - lo_r < (int64_t)window) {
				int32_t lo = (int32_t)(lo_r - ((int64_t)window - (hi_r - lo_r + 1)) / 2);
				if (outside_if_moved(w, window, lo) == 0) {
					nwin_move(w, window, lo);
					continue;
				}
			}
		}
		if (sch <= CAM_NATIVE_SCHEMA_MIN) {
			/* Unreachable: at schema -4 every index of a double (-67..66)
			 * fits a window (>= 144). Should it ever not, the value goes
			 * to the window's nearest edge rather than anywhere wrong. */
			int32_t lo = atomic_load_explicit(&w->lo, memory_order_relaxed);
			nwin_put(w, window, key < lo ? lo : lo + (int32_t)window - 1, 1);
			return;
		}
		ncell_reduce(nc, window, 1);
		lower_schema(s, sch - 1);
	}
}

/*
 * The classic bucket of v (> 0, finite) from its native index k at the
 * family's schema: bounds with a lower index are below v, bounds with a
 * higher one above; only a bound in v's own native bucket is compared.
 */
static inline size_t classic_from_key(const cam_family *f, int32_t k, double v)
{
	size_t j;

	if (k < f->cls_kmin)
		return 0;
	if (k > f->cls_kmax)
		return f->nbuckets;
	j = f->cls[k - f->cls_kmin];
	while (j < f->nbuckets && v > f->buckets[j])
		j++;
	return j;
}

/* Counts v in the window of positive values at key (the cell's schema);
 * false when the slow path must place it. */
static inline bool native_fast_put(const cam_family *f, struct nwin *w, int32_t key)
{
	uint32_t off = (uint32_t)key - (uint32_t)atomic_load_explicit(&w->lo, memory_order_relaxed);
	uint64_t n;

	if (unlikely(off >= f->window))
		return false;
	n = ld(&w->counts[off]);
	if (unlikely(n == 0 && w->used >= f->native_opts.max_buckets))
		return false;
	st(&w->counts[off], n + 1);
	w->used += n == 0;
	return true;
}

/* A histogram observation with native buckets, classic ones included. */
static void native_observe(cam_series *s, cell *c, double v)
{
	const cam_family *f = s->family;
	struct ncell *nc = ncell_of(f, c);
	uint32_t seq = atomic_load_explicit(&nc->seq, memory_order_relaxed);

	atomic_store_explicit(&nc->seq, seq + 1, memory_order_relaxed);
	if (likely(f->cls && v > f->native_opts.zero_threshold && v <= DBL_MAX)) {
		/* The usual case: one native index serves both kinds of bucket. */
		int s0 = f->native_opts.schema;
		int32_t k0 = cam_native_index_fast(v, s0);
		int32_t sch = atomic_load_explicit(&nc->schema, memory_order_relaxed);

		cell_add_rel(&c[classic_from_key(f, k0, v)], 1.0);
		cell_add_rel(&c[f->nbuckets + 1], v);
		if (likely(sch == atomic_load_explicit(&s->native_schema, memory_order_relaxed) &&
			   native_fast_put(f, nc->pos, cam_native_reduce_index(k0, s0 - sch))))
			goto out_seq;
		native_slow(s, nc, v);
		goto out_seq;
	}
	cell_add_rel(&c[bucket_index(f, v)], 1.0);
	cell_add_rel(&c[f->nbuckets + 1], v);
	if (likely(fabs(v) > f->native_opts.zero_threshold)) {
		int32_t sch = atomic_load_explicit(&nc->schema, memory_order_relaxed);
		struct nwin *w = nc->pos;

		if (likely(v > 0 && sch == atomic_load_explicit(&s->native_schema,
								 memory_order_relaxed))) {
			int32_t key = cam_native_index_fast(v, sch);
			uint32_t off = (uint32_t)key -
				       (uint32_t)atomic_load_explicit(&w->lo, memory_order_relaxed);

			if (likely(off < f->window)) {
				uint64_t n = ld(&w->counts[off]);
				if (likely(n != 0 || w->used < f->native_opts.max_buckets)) {
					st(&w->counts[off], n + 1);
					w->used += n == 0;
					goto out_seq;
				}
			}
		}
		native_slow(s, nc, v);
	} else if (!isnan(v)) {
		st(&nc->zero, ld(&nc->zero) + 1);
	}
out_seq:
	atomic_store_explicit(&nc->seq, seq + 2, memory_order_release);
}

/* ---- native buckets: merging for collect ---- */

static void nside_reserve(struct nside *sd, size_t n)
{
	if (n <= sd->cap)
		return;
	sd->cap = n < 64 ? 64 : n * 2;
	sd->counts = cam_xrealloc(sd->counts, sd->cap * sizeof(uint64_t));
}

/* Adds n to bucket idx; false when the range would grow past the limit. */
static bool nside_add(struct nside *sd, int32_t idx, uint64_t n)
{
	if (sd->len == 0) {
		nside_reserve(sd, 1);
		sd->lo = idx;
		sd->len = 1;
		sd->counts[0] = n;
		return true;
	}
	if (idx < sd->lo) {
		size_t shift = (size_t)((int64_t)sd->lo - idx);
		if (sd->len + shift > NATIVE_MAX_SPAN)
			return false;
		nside_reserve(sd, sd->len + shift);
		memmove(sd->counts + shift, sd->counts, sd->len * sizeof(uint64_t));
		memset(sd->counts, 0, shift * sizeof(uint64_t));
		sd->lo = idx;
		sd->len += shift;
	} else if ((int64_t)idx >= (int64_t)sd->lo + (int64_t)sd->len) {
		size_t len = (size_t)((int64_t)idx - sd->lo + 1);
		if (len > NATIVE_MAX_SPAN)
			return false;
		nside_reserve(sd, len);
		memset(sd->counts + sd->len, 0, (len - sd->len) * sizeof(uint64_t));
		sd->len = len;
	}
	sd->counts[idx - sd->lo] += n;
	return true;
}

static void nside_reduce(struct nside *sd, int d)
{
	int32_t nlo;
	size_t len = 0;

	if (sd->len == 0 || d == 0)
		return;
	nlo = cam_native_reduce_index(sd->lo, d);
	for (size_t i = 0; i < sd->len; i++) {
		size_t to = (size_t)(cam_native_reduce_index(sd->lo + (int32_t)i, d) - nlo);
		uint64_t c = sd->counts[i];

		sd->counts[i] = 0;
		sd->counts[to] += c;
		len = to + 1;
	}
	sd->lo = nlo;
	sd->len = len;
}

static void nacc_reduce(struct nacc *a, int d)
{
	nside_reduce(&a->pos, d);
	nside_reduce(&a->neg, d);
	a->schema -= d;
}

/* Adds n to bucket idx (at schema) of one sign of a, halving a's
 * resolution first when a is finer or the range grows too wide. */
static void nacc_add(struct nacc *a, bool neg, int32_t idx, int schema, uint64_t n)
{
	if (!n)
		return;
	if (a->schema > schema)
		nacc_reduce(a, a->schema - schema);
	while (!nside_add(neg ? &a->neg : &a->pos,
			  cam_native_reduce_index(idx, schema - a->schema), n))
		nacc_reduce(a, 1);
}

static void nacc_add_acc(struct nacc *a, const struct nacc *b)
{
	a->zero += b->zero;
	for (size_t i = 0; i < b->pos.len; i++)
		nacc_add(a, false, b->pos.lo + (int32_t)i, b->schema, b->pos.counts[i]);
	for (size_t i = 0; i < b->neg.len; i++)
		nacc_add(a, true, b->neg.lo + (int32_t)i, b->schema, b->neg.counts[i]);
}

/* A copy of one sign of a thread's cell. */
struct nwin_copy {
	int32_t lo;
	uint64_t *counts; /* the family's window of them */
	int32_t xidx[NATIVE_OVERFLOW];
	uint64_t xcnt[NATIVE_OVERFLOW];
};

static void nacc_add_win(struct nacc *a, bool neg, const struct nwin_copy *w,
			 uint32_t window, int schema)
{
	for (uint32_t i = 0; i < window; i++)
		nacc_add(a, neg, w->lo + (int32_t)i, schema, w->counts[i]);
	for (int k = 0; k < NATIVE_OVERFLOW; k++)
		nacc_add(a, neg, w->xidx[k], schema, w->xcnt[k]);
}

static size_t nacc_populated(const struct nacc *a)
{
	size_t n = 0;

	for (size_t i = 0; i < a->pos.len; i++)
		n += a->pos.counts[i] != 0;
	for (size_t i = 0; i < a->neg.len; i++)
		n += a->neg.counts[i] != 0;
	return n;
}

/* A consistent copy of one thread's cell: classic cells and native ones. */
struct ncopy {
	double *classic;
	struct nwin_copy pos, neg;
	int32_t schema;
	uint64_t zero;
	bool has_neg;
};

static void nwin_copy(struct nwin_copy *to, struct nwin *from, uint32_t window)
{
	to->lo = atomic_load_explicit(&from->lo, memory_order_acquire);
	for (uint32_t i = 0; i < window; i++)
		to->counts[i] = ld(&from->counts[i]);
	for (int k = 0; k < NATIVE_OVERFLOW; k++) {
		to->xidx[k] = atomic_load_explicit(&from->xidx[k], memory_order_acquire);
		to->xcnt[k] = ld(&from->xcnt[k]);
	}
}

/* Reads a cell between two equal even values of its sequence count. */
static void ncell_copy(const cam_series *s, cell *c, struct ncopy *out)
{
	const cam_family *f = s->family;
	struct ncell *nc = ncell_of(f, c);

	for (unsigned tries = 0;; tries++) {
		uint32_t seq = atomic_load_explicit(&nc->seq, memory_order_acquire);
		struct nwin *neg;

		if (seq & 1) {
			if (tries > 64)
				sched_yield();
			continue;
		}
		for (uint32_t k = 0; k < s->ncells; k++)
			out->classic[k] = atomic_load_explicit(&c[k], memory_order_acquire);
		out->schema = atomic_load_explicit(&nc->schema, memory_order_acquire);
		out->zero = ld(&nc->zero);
		nwin_copy(&out->pos, nc->pos, f->window);
		neg = atomic_load_explicit(&nc->neg, memory_order_acquire);
		out->has_neg = neg != NULL;
		if (neg)
			nwin_copy(&out->neg, neg, f->window);
		/* The acquire loads above keep this one after them. */
		if (atomic_load_explicit(&nc->seq, memory_order_relaxed) == seq)
			return;
	}
}

static void nacc_add_copy(struct nacc *a, const struct ncopy *cp, uint32_t window)
{
	a->zero += cp->zero;
	nacc_add_win(a, false, &cp->pos, window, cp->schema);
	if (cp->has_neg)
		nacc_add_win(a, true, &cp->neg, window, cp->schema);
}

static void nacc_clear(struct nacc *a, int schema)
{
	a->schema = schema;
	a->zero = 0;
	a->pos.len = 0;
	a->neg.len = 0;
}

void cam_counter_add(cam_series *s, double v)
{
	if (!s || !(v >= 0))
		return;
	cell_add(cells_for(s), v);
}

int cam_counter_add_checked(cam_series *s, double v)
{
	cell *c;

	if (!s || !(v >= 0) || !isfinite(v))
		return CAM_ERANGE;
	c = cells_for(s);
	if (!isfinite(atomic_load_explicit(c, memory_order_relaxed) + v))
		return CAM_ERANGE;
	cell_add(c, v);
	return 0;
}

void cam_counter_inc(cam_series *s)
{
	if (!s)
		return;
	cell_add(cells_for(s), 1.0);
}

void cam_gauge_add(cam_series *s, double v)
{
	if (!s)
		return;
	cell_add(cells_for(s), v);
}

void cam_gauge_set(cam_series *s, double v)
{
	if (!s)
		return;
	atomic_store_explicit(&s->base, v, memory_order_relaxed);
}

void cam_histogram_observe(cam_series *s, double v)
{
	cell *c;
	const cam_family *f;

	if (!s)
		return;
	f = s->family;
	c = cells_for(s);
	if (unlikely(f->native)) {
		native_observe(s, c, v);
		return;
	}
	cell_add(&c[bucket_index(f, v)], 1.0);
	cell_add(&c[f->nbuckets + 1], v);
}

void cam_histogram_observe_traced(cam_series *s, double v, const char *trace_id,
				  const char *span_id)
{
	struct timespec ts;

	if (!s)
		return;
	cam_histogram_observe(s, v);
	if (!trace_id || strlen(trace_id) != 32 ||
	    atomic_flag_test_and_set_explicit(&s->ex_busy, memory_order_acquire))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	memcpy(s->ex.trace_id, trace_id, 33);
	snprintf(s->ex.span_id, sizeof(s->ex.span_id), "%s",
		 span_id && strlen(span_id) == 16 ? span_id : "");
	s->ex.value = v;
	s->ex.timestamp_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	s->has_ex = true;
	atomic_flag_clear_explicit(&s->ex_busy, memory_order_release);
}

/* Copies the exemplar for a visitor; waits out a writer (a few stores). */
static const struct cam_exemplar *exemplar_copy(cam_series *s)
{
	bool has;

	while (atomic_flag_test_and_set_explicit(&s->ex_busy, memory_order_acquire))
		;
	has = s->has_ex;
	if (has)
		s->ex_copy = s->ex;
	atomic_flag_clear_explicit(&s->ex_busy, memory_order_release);
	return has ? &s->ex_copy : NULL;
}

/* ---- collection ---- */

/* Scratch for copies of native cells, sized for the widest family. */
static struct ncopy scratch_copy;
static uint32_t scratch_window, scratch_cells;

static struct ncopy *scratch_for(const cam_family *f)
{
	if (f->window > scratch_window || f->ncells > scratch_cells) {
		scratch_window = f->window > scratch_window ? f->window : scratch_window;
		scratch_cells = f->ncells > scratch_cells ? f->ncells : scratch_cells;
		scratch_copy.classic = cam_xrealloc(scratch_copy.classic,
						    scratch_cells * sizeof(double));
		scratch_copy.pos.counts = cam_xrealloc(scratch_copy.pos.counts,
						       scratch_window * sizeof(uint64_t));
		scratch_copy.neg.counts = cam_xrealloc(scratch_copy.neg.counts,
						       scratch_window * sizeof(uint64_t));
	}
	return &scratch_copy;
}

/* Adds one thread's cell of a native series into its agg and native_agg. */
static void native_sum_cell(cam_series *s, cell *c, double *classic_into, struct nacc *into)
{
	struct ncopy *cp = scratch_for(s->family);

	ncell_copy(s, c, cp);
	for (uint32_t k = 0; k < s->ncells; k++)
		classic_into[k] += cp->classic[k];
	nacc_add_copy(into, cp, s->family->window);
}

static void native_retire_cell(cam_series *s, cell *c)
{
	if (!s->native_retired) {
		s->native_retired = cam_xcalloc(1, sizeof(*s->native_retired));
		nacc_clear(s->native_retired,
			   atomic_load_explicit(&s->native_schema, memory_order_relaxed));
	}
	native_sum_cell(s, c, s->retired, s->native_retired);
}

static void native_free_cell(const cam_family *f, cell *c)
{
	if (f->native)
		free(atomic_load_explicit(&ncell_of(f, c)->neg, memory_order_relaxed));
}

/* Starts a native series' merge from what exited threads left. */
static void native_sum_start(cam_series *s)
{
	nacc_clear(&s->native_agg, atomic_load_explicit(&s->native_schema, memory_order_relaxed));
	if (s->native_retired)
		nacc_add_acc(&s->native_agg, s->native_retired);
}

/* Ends it: the series' bucket limit holds for the merge of all threads
 * too, and every thread follows the schema the merge ended at. */
static void native_sum_end(cam_series *s)
{
	struct nacc *a = &s->native_agg;

	while (a->schema > CAM_NATIVE_SCHEMA_MIN &&
	       nacc_populated(a) > s->family->native_opts.max_buckets)
		nacc_reduce(a, 1);
	lower_schema(s, a->schema);
}

static void sum_shards_locked(void)
{
	for (uint32_t c = 0; c < MAX_CHUNKS && c * SLOTS_PER_CHUNK < next_id; c++) {
		cam_series **ids = series_by_id[c];
		for (uint32_t i = 0; i < SLOTS_PER_CHUNK; i++) {
			cam_series *s = ids ? ids[i] : NULL;
			if (!s)
				continue;
			memcpy(s->agg, s->retired, s->ncells * sizeof(double));
			if (s->family->native)
				native_sum_start(s);
		}
	}
	for (struct shard *sh = shards; sh; sh = sh->next) {
		for (uint32_t c = 0; c < MAX_CHUNKS && c * SLOTS_PER_CHUNK < next_id; c++) {
			_Atomic(cell *) *chunk =
				atomic_load_explicit(&sh->chunks[c], memory_order_acquire);
			if (!chunk)
				continue;
			for (uint32_t i = 0; i < SLOTS_PER_CHUNK; i++) {
				cell *cells = atomic_load_explicit(&chunk[i], memory_order_acquire);
				cam_series *s;

				if (!cells)
					continue;
				s = series_by_id[c][i];
				if (s->family->native) {
					native_sum_cell(s, cells, s->agg, &s->native_agg);
					continue;
				}
				for (uint32_t k = 0; k < s->ncells; k++)
					s->agg[k] += atomic_load_explicit(&cells[k],
									  memory_order_relaxed);
			}
		}
	}
	for (uint32_t c = 0; c < MAX_CHUNKS && c * SLOTS_PER_CHUNK < next_id; c++) {
		cam_series **ids = series_by_id[c];
		for (uint32_t i = 0; ids && i < SLOTS_PER_CHUNK; i++)
			if (ids[i] && ids[i]->family->native)
				native_sum_end(ids[i]);
	}
}

/* The merged native buckets of s as the visitor's sparse lists. */
static const struct cam_native_value *native_value(cam_series *s)
{
	const struct nacc *a = &s->native_agg;
	struct cam_native_value *nv = &s->native_out;
	size_t need = a->pos.len + a->neg.len, n = 0;

	if (need > s->out_cap) {
		s->out_cap = need;
		s->out_index = cam_xrealloc(s->out_index, need * sizeof(int32_t));
		s->out_count = cam_xrealloc(s->out_count, need * sizeof(uint64_t));
	}
	nv->schema = a->schema;
	nv->zero_threshold = s->family->native_opts.zero_threshold;
	nv->zero_count = a->zero;
	nv->pos_index = s->out_index;
	nv->pos_count = s->out_count;
	for (size_t i = 0; i < a->pos.len; i++)
		if (a->pos.counts[i]) {
			s->out_index[n] = a->pos.lo + (int32_t)i;
			s->out_count[n++] = a->pos.counts[i];
		}
	nv->npos = n;
	nv->neg_index = s->out_index + n;
	nv->neg_count = s->out_count + n;
	for (size_t i = 0; i < a->neg.len; i++)
		if (a->neg.counts[i]) {
			s->out_index[n] = a->neg.lo + (int32_t)i;
			s->out_count[n++] = a->neg.counts[i];
		}
	nv->nneg = n - nv->npos;
	return nv;
}

static void family_info(const cam_family *f, struct cam_family_info *info)
{
	info->name = f->name;
	info->help = f->help;
	info->unit = f->unit;
	info->type = f->type;
	info->label_names = (const char *const *)f->label_names;
	info->nlabels = f->nlabels;
	info->buckets = f->buckets;
	info->nbuckets = f->nbuckets;
	info->nseries = f->nseries;
	info->native = f->native ? &f->native_opts : NULL;
}

static void visit_series(const struct cam_metrics_visitor *v,
			 const struct cam_family_info *info, cam_series *s)
{
	struct cam_series_value val = {
		.label_values = (const char *const *)s->label_values,
	};

	if (info->type == CAM_HISTOGRAM) {
		uint64_t count = 0;
		for (size_t b = 0; b <= info->nbuckets; b++) {
			s->agg_buckets[b] = (uint64_t)s->agg[b];
			count += s->agg_buckets[b];
		}
		val.buckets = s->agg_buckets;
		val.count = count;
		val.sum = s->agg[info->nbuckets + 1];
		val.exemplar = exemplar_copy(s);
		if (s->family->native)
			val.native = native_value(s);
	} else {
		val.value = atomic_load_explicit(&s->base, memory_order_relaxed) +
			    s->agg[0];
		/* Counters fed on several threads could sum past the largest
		 * double: a counter saturates, it never reads +Inf for good. */
		if (s->family->type == CAM_COUNTER && !isfinite(val.value))
			val.value = DBL_MAX;
	}
	v->series(v->arg, info, &val);
}

void cam_metrics_collect(const struct cam_metrics_visitor *v)
{
	pthread_mutex_lock(&coll_lock);
	for (size_t i = 0; i < ncollectors; i++)
		collectors[i].fn(collectors[i].arg);
	pthread_mutex_unlock(&coll_lock);

	pthread_mutex_lock(&reg_lock);
	sum_shards_locked();
	for (size_t i = 0; i < nfamilies; i++) {
		cam_family *f = families[i];
		struct cam_family_info info;

		family_info(f, &info);
		if (v->family)
			v->family(v->arg, &info);
		if (v->series)
			for (size_t k = 0; k < f->nseries; k++)
				visit_series(v, &info, f->series[k]);
	}
	pthread_mutex_unlock(&reg_lock);
}

void cam_metrics_reset(void)
{
	pthread_mutex_lock(&coll_lock);
	ncollectors = 0;
	pthread_mutex_unlock(&coll_lock);
	pthread_mutex_lock(&reg_lock);
	while (shards) {
		struct shard *sh = shards;
		shards = sh->next;
		for (uint32_t c = 0; c < MAX_CHUNKS; c++) {
			_Atomic(cell *) *chunk = atomic_load(&sh->chunks[c]);
			if (!chunk)
				continue;
			for (uint32_t i = 0; i < SLOTS_PER_CHUNK; i++) {
				cell *cells = atomic_load(&chunk[i]);
				if (cells)
					native_free_cell(series_by_id[c][i]->family, cells);
				free(cells);
			}
			free(chunk);
		}
		free(sh);
	}
	if (tls_shard) {
		pthread_setspecific(shard_key, NULL);
		tls_shard = NULL;
	}
	for (size_t i = 0; i < nfamilies; i++)
		free_family(families[i]);
	nfamilies = 0;
	rejected_family = NULL;
	memset(rejected_series, 0, sizeof(rejected_series));
	for (uint32_t c = 0; c < MAX_CHUNKS; c++) {
		free(series_by_id[c]);
		series_by_id[c] = NULL;
	}
	next_id = 0;
	nseries_total = 0;
	limit_per_family = 1000;
	limit_global = 20000;
	pthread_mutex_unlock(&reg_lock);
}
