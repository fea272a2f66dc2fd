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
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/utf8.h"
#include "common/xmalloc.h"

#define SLOTS_PER_CHUNK 1024u
#define MAX_SERIES_IDS (256u * SLOTS_PER_CHUNK)
#define MAX_CHUNKS (MAX_SERIES_IDS / SLOTS_PER_CHUNK)
#define MAX_FAMILIES 1024u
#define REJECTED_FAMILY "cam_os_metrics_series_rejected_total"

#define likely(x) __builtin_expect(!!(x), 1)

typedef _Atomic double cell;

struct cam_series {
	cam_family *family;
	uint32_t id;
	uint32_t ncells;
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

int cam_metric_name_valid(const char *name)
{
	size_t i;

	if (!name || !name[0] || strlen(name) > CAM_METRICS_MAX_NAME)
		return 0;
	for (i = 0; name[i]; i++) {
		char c = name[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     c == '_' || c == ':';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

int cam_label_name_valid(const char *name)
{
	size_t i;

	if (!name || !name[0] || strlen(name) > CAM_METRICS_MAX_NAME)
		return 0;
	if (name[0] == '_' && name[1] == '_')
		return 0; /* reserved for Prometheus itself */
	for (i = 0; name[i]; i++) {
		char c = name[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     c == '_';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
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

static bool same_shape(const cam_family *f, const struct cam_family_desc *d)
{
	size_t n = count_labels(d->label_names);

	if (f->type != d->type || f->nlabels != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(f->label_names[i], d->label_names[i]) != 0)
			return false;
	return true;
}

static int check_desc(const struct cam_family_desc *d, const char **why)
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
	return 0;
}

static cam_family *new_family(const struct cam_family_desc *d)
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
	static const char *const labels[] = { "family", NULL };
	struct cam_family_desc d = {
		.name = REJECTED_FAMILY,
		.help = "Series refused because a per-family or global series limit was reached.",
		.type = CAM_COUNTER,
		.label_names = labels,
	};

	if (rejected_family)
		return;
	rejected_family = new_family(&d);
	families[nfamilies++] = rejected_family;
}

int cam_family_register(const struct cam_family_desc *desc, cam_family **out,
			const char **why)
{
	const char *dummy;
	cam_family *f;
	int rc = 0;

	if (!why)
		why = &dummy;
	*why = NULL;
	rc = check_desc(desc, why);
	if (rc)
		return rc;

	pthread_mutex_lock(&reg_lock);
	ensure_rejected_family_locked();
	f = find_locked(desc->name);
	if (f) {
		if (!same_shape(f, desc)) {
			*why = "a family of that name exists with another type or other labels";
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
	f = new_family(desc);
	families[nfamilies++] = f;
	{
		const char *fam_label[] = { f->name, NULL };
		pthread_rwlock_wrlock(&rejected_family->lock);
		f->rejected = create_series_locked(rejected_family, fam_label, true);
		pthread_rwlock_unlock(&rejected_family->lock);
	}
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

static void count_rejection(cam_family *f)
{
	/* The rejected family's own series exist from registration on. */
	cam_counter_inc(f->rejected);
}

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

cam_series *cam_series_get(cam_family *f, const char *const *label_values)
{
	char key[CAM_METRICS_MAX_LABELS * (CAM_METRICS_MAX_LABEL_VALUE + 1) + 1];
	long klen;
	cam_series *s;
	bool refused;

	if (!f)
		return NULL;
	klen = make_key(f, label_values, key, sizeof(key) - 1);
	if (klen < 0)
		return NULL;
	key[klen] = '\0';

	pthread_rwlock_rdlock(&f->lock);
	s = ht_find(f, key, (size_t)klen, fnv1a(key, (size_t)klen));
	pthread_rwlock_unlock(&f->lock);
	if (s)
		return s;

	pthread_mutex_lock(&reg_lock);
	pthread_rwlock_wrlock(&f->lock);
	s = create_series_locked(f, label_values, false);
	refused = !s;
	pthread_rwlock_unlock(&f->lock);
	pthread_mutex_unlock(&reg_lock);
	if (refused)
		count_rejection(f);
	return s;
}

/* ---- shards ---- */

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
			for (uint32_t k = 0; k < s->ncells; k++)
				s->retired[k] += atomic_load_explicit(&cells[k], memory_order_relaxed);
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
		cells = cam_xcalloc_aligned(s->ncells * sizeof(cell));
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

void cam_counter_add(cam_series *s, double v)
{
	if (!s || !(v >= 0))
		return;
	cell_add(cells_for(s), v);
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

void cam_histogram_observe(cam_series *s, double v)
{
	cell *c;
	const cam_family *f;

	if (!s)
		return;
	f = s->family;
	c = cells_for(s);
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

static void sum_shards_locked(void)
{
	for (uint32_t c = 0; c < MAX_CHUNKS && c * SLOTS_PER_CHUNK < next_id; c++) {
		cam_series **ids = series_by_id[c];
		for (uint32_t i = 0; i < SLOTS_PER_CHUNK; i++) {
			cam_series *s = ids ? ids[i] : NULL;
			if (!s)
				continue;
			memcpy(s->agg, s->retired, s->ncells * sizeof(double));
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
				for (uint32_t k = 0; k < s->ncells; k++)
					s->agg[k] += atomic_load_explicit(&cells[k],
									  memory_order_relaxed);
			}
		}
	}
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
	} else {
		val.value = atomic_load_explicit(&s->base, memory_order_relaxed) +
			    s->agg[0];
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
			for (uint32_t i = 0; i < SLOTS_PER_CHUNK; i++)
				free(atomic_load(&chunk[i]));
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
