/*
 * The metrics core: counters, gauges and histograms with labels.
 *
 * Families are registered once (name, help, type, label names, buckets) in
 * the process-wide registry, the one piece of global mutable state CAM-OS
 * allows. A series is one label-value set of a family. Updating a series
 * (cam_counter_add, cam_histogram_observe, cam_gauge_add) touches only the
 * calling thread's shard: thread-local, cache-line aligned cells, no lock,
 * no atomic read-modify-write, no syscall, and no allocation once this
 * thread has used this series before (the first use allocates its cell).
 * cam_metrics_collect() sums every shard into one cumulative snapshot; only
 * it (and series creation) takes the registry lock.
 *
 * A histogram family may also keep native buckets (sparse, exponential, as
 * Prometheus' native histograms): struct cam_native_opts below. Observing
 * into one stays thread-local and lock-free: the bucket index comes from the
 * value's bits and a small table (native_hist.h), and each thread's cell is
 * a window of bucket counts guarded by a sequence count that only its
 * thread writes, so a collect reads every thread's cell whole.
 *
 * Series made from request data obey a per-family and a global limit; every
 * refused series or family is counted in
 * cam_os_metrics_series_rejected_total{family,reason}.
 *
 * Families and series live until cam_metrics_reset() (tests only); pointers
 * to them stay valid, so callers resolve a series once and keep it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_METRICS_H
#define CAM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cam_family cam_family;
typedef struct cam_series cam_series;

enum cam_metric_type {
	CAM_COUNTER = 1,
	CAM_GAUGE = 2,
	CAM_HISTOGRAM = 3,
};

#define CAM_METRICS_MAX_LABELS 8
#define CAM_METRICS_MAX_BUCKETS 32
#define CAM_METRICS_MAX_NAME 128
#define CAM_METRICS_MAX_LABEL_VALUE 256
#define CAM_METRICS_MAX_HELP 512

/*
 * Native buckets of a histogram family, kept beside its classic buckets.
 * A series whose populated buckets pass max_buckets halves its resolution
 * (schema - 1: each new bucket merges two, counts are conserved), as
 * client_golang does, down to schema -4; the schema never grows back
 * while the process lives (snapshots stay cumulative). Values with
 * |v| <= zero_threshold count in the zero bucket; NaN counts in the count
 * and sum only.
 */
struct cam_native_opts {
	int schema;            /* -4..8; bounds grow by 2^(2^-schema) */
	double zero_threshold; /* >= 0, finite */
	uint32_t max_buckets;  /* 1..CAM_NATIVE_MAX_BUCKETS, per series */
};
#define CAM_NATIVE_MAX_BUCKETS 4096
/* Schema 3 (buckets about 9 % wide), zero threshold 2^-128 and 160
 * buckets: client_golang's defaults. */
extern const struct cam_native_opts cam_native_defaults;

/* Everything that defines a family. Strings are copied at registration. */
struct cam_family_desc {
	const char *name;
	const char *help;
	enum cam_metric_type type;
	const char *unit;             /* optional, e.g. "seconds" */
	const char *const *label_names; /* NULL-terminated, may be NULL */
	const double *buckets;        /* histograms: strictly increasing bounds */
	size_t nbuckets;              /* 0 for histograms means default buckets */
	size_t max_series;            /* 0: the registry's default per-family limit */
	/* Histograms: native buckets too (&cam_native_defaults, say); NULL:
	 * classic only. Designated initializers leave it NULL. */
	const struct cam_native_opts *native;
};

/*
 * Registers a family and returns it in *out. Registering the same name again
 * with the same type and label names returns the existing family (0);
 * another type, other labels or native buckets where the existing family
 * has none (or the other way round) give CAM_ETYPE. Bad names (Prometheus rules:
 * [a-zA-Z_:][a-zA-Z0-9_:]* for metrics, [a-zA-Z_][a-zA-Z0-9_]* and no "__"
 * prefix for labels), bad buckets, bad native options (or native options
 * on a counter or gauge) or too many labels give CAM_EINVAL;
 * *why, when not NULL, then points at a static text saying what was wrong.
 * More families than the registry holds gives CAM_ELIMIT.
 */
int cam_family_register(const struct cam_family_desc *desc, cam_family **out,
			const char **why);
/* cam_family_register with native buckets given apart from the
 * description (native NULL: desc->native decides, as in cam_family_register). */
int cam_family_register_native(const struct cam_family_desc *desc,
			       const struct cam_native_opts *native, cam_family **out,
			       const char **why);

/* Looks up a family by name; NULL if there is none. */
cam_family *cam_family_find(const char *name);
enum cam_metric_type cam_family_type(const cam_family *f);
/* Whether a histogram family keeps native buckets too. */
bool cam_family_native(const cam_family *f);
const char *cam_family_name(const cam_family *f);
size_t cam_family_label_count(const cam_family *f);
/* Label name i (0 <= i < cam_family_label_count). */
const char *cam_family_label_name(const cam_family *f, size_t i);

/*
 * Returns the series of family f for these label values (one per label
 * name, in order; NULL when the family has no labels), creating it when
 * needed. Returns NULL when the series would pass the family's or the global
 * limit (the refusal is counted) or when a value is invalid UTF-8 or longer
 * than CAM_METRICS_MAX_LABEL_VALUE. Takes the family lock: resolve series
 * once, outside hot loops, where the labels allow it.
 */
cam_series *cam_series_get(cam_family *f, const char *const *label_values);
/* The series if it exists, never made (NULL otherwise). */
cam_series *cam_series_find(cam_family *f, const char *const *label_values);
/* cam_series_get; *created says whether this call made the series (for
 * quotas on who makes series). */
cam_series *cam_series_get_new(cam_family *f, const char *const *label_values, bool *created);

/* Hot-path updates. All accept NULL (a refused series) and do nothing. */
void cam_counter_add(cam_series *s, double v); /* v >= 0 */
/* Adds v (finite, >= 0) unless this thread's part of the counter would
 * then be +Inf: 0, or CAM_ERANGE and nothing added. For values a client
 * chooses (emit_metric); a counter also saturates at the largest finite
 * double when it is collected, whatever several threads added. */
int cam_counter_add_checked(cam_series *s, double v);
void cam_counter_inc(cam_series *s);
void cam_gauge_add(cam_series *s, double v); /* per-thread deltas */
void cam_histogram_observe(cam_series *s, double v);

/* The latest traced observation of a histogram series (an exemplar). */
struct cam_exemplar {
	char trace_id[33]; /* 32 lower-case hex */
	char span_id[17];  /* 16 lower-case hex, or "" */
	double value;
	int64_t timestamp_ms; /* wall clock */
};

/*
 * cam_histogram_observe, and v becomes the series' exemplar with these ids
 * (trace_id 32 hex, span_id 16 hex or NULL). For traced calls only: it
 * reads the clock and copies the ids into a slot shared by all threads,
 * guarded by a flag a writer never waits for (when another thread holds
 * it, this exemplar is skipped; the other one is as recent).
 */
void cam_histogram_observe_traced(cam_series *s, double v, const char *trace_id,
				  const char *span_id);

/*
 * Sets a gauge, or a counter that a collector reads from elsewhere (for
 * example process_cpu_seconds_total). The value is stored in the series
 * itself, added to any per-thread deltas; not for hot paths.
 */
void cam_gauge_set(cam_series *s, double v);

/*
 * Why a series or a family was refused: the reason label of
 * cam_os_metrics_series_rejected_total, a bounded set.
 */
#define CAM_REJECT_REASONS(X)                                                  \
	X(CAM_REJECT_SERIES_LIMIT, "series_limit") /* the family's limit */     \
	X(CAM_REJECT_GLOBAL_LIMIT, "global_limit") /* all series */            \
	X(CAM_REJECT_INVALID_LABEL_VALUE, "invalid_label_value")               \
	X(CAM_REJECT_FAMILY_LIMIT, "family_limit") /* no room for a family */  \
	X(CAM_REJECT_INVALID_NAME, "invalid_name")                             \
	X(CAM_REJECT_RESERVED_NAME, "reserved_name")                           \
	X(CAM_REJECT_TYPE_CLASH, "type_clash")                                 \
	X(CAM_REJECT_INVALID_VALUE, "invalid_value")                           \
	X(CAM_REJECT_RESERVED_LABEL, "reserved_label") /* le, quantile */      \
	X(CAM_REJECT_OVERFLOW, "overflow") /* a counter would reach +Inf */
enum cam_reject_reason {
#define CAM_REJECT_ENUM(e, s) e,
	CAM_REJECT_REASONS(CAM_REJECT_ENUM)
#undef CAM_REJECT_ENUM
	CAM_REJECT_COUNT
};
/* The reason's label value ("series_limit"...); "unknown" out of range. */
const char *cam_reject_reason_name(enum cam_reject_reason why);

/*
 * Counts one refusal in cam_os_metrics_series_rejected_total, for callers
 * that refuse before the metrics core sees anything (emit_metric's checks).
 * family: the family's name when it is registered, else the label is
 * empty (refused names never become label values, so the set stays
 * bounded). Takes the registry lock: not for hot paths. Can't fail.
 */
void cam_metrics_count_rejection(const char *family, enum cam_reject_reason why);

/* Limits on series made at run time. Defaults: 1000 per family, 20000 in all. */
void cam_metrics_set_limits(size_t per_family, size_t global);
size_t cam_metrics_series_count(void);

/*
 * A collector runs inside cam_metrics_collect() before the shards are read,
 * to refresh gauges from the outside world (process_* and so on). Runs with
 * the registry lock not held, but under the collectors' lock: it must not
 * add or remove collectors. Adding returns 0, or CAM_ELIMIT when 16 are
 * registered already.
 */
typedef void (*cam_metrics_collector)(void *arg);
int cam_metrics_add_collector(cam_metrics_collector fn, void *arg);
/*
 * Removes the collector added with fn and arg (nothing when there is
 * none). Waits for a collect that is running it, so once this returns fn
 * is not running with arg and never will again: arg may be freed.
 */
void cam_metrics_remove_collector(cam_metrics_collector fn, void *arg);

/*
 * A collected value of one series, read by cam_metrics_collect's visitor.
 * For histograms, buckets[i] is the non-cumulative count of bucket i
 * (nbuckets of the family plus one for +Inf), sum and count as usual.
 */
/*
 * The native buckets of a histogram series: populated buckets only, in
 * increasing index order, each with its count (not cumulative). count of
 * struct cam_series_value counts every observation; zero_count plus the
 * bucket counts equals it but for NaN observations, which are in no bucket.
 */
struct cam_native_value {
	int schema; /* may be below the family's: the resolution was halved */
	double zero_threshold;
	uint64_t zero_count;
	const int32_t *pos_index;
	const uint64_t *pos_count;
	size_t npos;
	const int32_t *neg_index; /* buckets of negative values, by |v| */
	const uint64_t *neg_count;
	size_t nneg;
};

struct cam_series_value {
	const char *const *label_values;
	double value;
	const uint64_t *buckets;
	double sum;
	uint64_t count;
	const struct cam_exemplar *exemplar; /* histograms; NULL: none yet */
	const struct cam_native_value *native; /* NULL: classic only */
};

struct cam_family_info {
	const char *name;
	const char *help;
	const char *unit;
	enum cam_metric_type type;
	const char *const *label_names;
	size_t nlabels;
	const double *buckets;
	size_t nbuckets;
	size_t nseries;
	const struct cam_native_opts *native; /* NULL: classic only */
};

/*
 * Walks every family and series with their values summed over all threads.
 * family() is called once per family, then series() once per series of it.
 * The registry lock is held throughout: the visitors must not register or
 * look up metrics.
 */
struct cam_metrics_visitor {
	void (*family)(void *arg, const struct cam_family_info *info);
	void (*series)(void *arg, const struct cam_family_info *info,
		       const struct cam_series_value *value);
	void *arg;
};
void cam_metrics_collect(const struct cam_metrics_visitor *v);

/*
 * Drops every family, series and shard. For tests: no other thread may use
 * the metrics core while it runs, and every pointer handed out is invalid.
 */
void cam_metrics_reset(void);

/* Default histogram buckets (seconds): 50us .. 10s. */
extern const double cam_metrics_default_buckets[];
extern const size_t cam_metrics_default_nbuckets;

/* Validation used by registration, for callers that check names early. */
int cam_metric_name_valid(const char *name);

/*
 * The names a family takes in the exposition formats: its OpenMetrics
 * family name and its sample names. Counter x_total (or x): x and
 * x_total; histogram x: x, x_bucket, x_sum, x_count; gauge x: x. Two
 * families may not share one (OpenMetrics would show one family twice, or
 * one sample name would mean two things). Fills out and returns how many
 * (at most CAM_METRIC_MAX_CLAIMS); 0 when no family of that type can have
 * that name (a counter called just "_total").
 */
#define CAM_METRIC_MAX_CLAIMS 4
typedef char cam_metric_claim[CAM_METRICS_MAX_NAME + 8];
size_t cam_metric_claims(const char *name, enum cam_metric_type type,
			 cam_metric_claim out[CAM_METRIC_MAX_CLAIMS]);
/* Whether two families' claims meet (0 claims meet nothing). */
bool cam_metric_claims_clash(const char *a, enum cam_metric_type ta, const char *b,
			     enum cam_metric_type tb);
int cam_label_name_valid(const char *name);

#endif
