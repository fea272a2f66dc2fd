/*
 * The priority scheduler (see scheduler.h): class queues, the workers and
 * their weighted fair pick, run-time tuning, metrics and health.
 *
 * Hot path, per queued call: the submitting thread reserves a place in its
 * class (one atomic add on the class's counter), then one in its caller's
 * slot of the class's fair queue (a compare-and-swap; fair.h), pushes the
 * task on the slot (another), and wakes a worker only if one sleeps. A
 * worker picks a class by its own smooth weighted round robin (nginx's:
 * add each busy class's weight to its credit, take the largest, charge it
 * the sum), pops the next caller's next task, and counts in per-thread
 * metric shards. A call that runs inline (try_inline) touches none of
 * this. The only mutexes are the sleepers' (touched when a worker has
 * nothing to do, or to wake one) and the tuning lock (tune_system, worker
 * exits, stop).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/scheduler/scheduler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/metrics_table.h"
#include "common/xmalloc.h"
#include "kernel/scheduler/caller.h"
#include "kernel/scheduler/decisions.h"
#include "kernel/scheduler/fair.h"

#define COMPONENT "scheduler"
#define DEFAULT_DECISIONS 4096

static const char *const class_names[CAM_SCHED_NCLASSES] = { "high", "normal", "low" };
static const char *const class_ranges[CAM_SCHED_NCLASSES] = { "7-9", "3-6", "0-2" };
static const char *const full_texts[CAM_SCHED_NCLASSES] = {
	"scheduler queue for class high (priority 7-9) is full",
	"scheduler queue for class normal (priority 3-6) is full",
	"scheduler queue for class low (priority 0-2) is full",
};
/* Seconds a task waited in its queue: 10 us .. 10 s. */
static const double WAIT_BUCKETS[] = { 0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005,
				       0.01,    0.05,    0.1,    0.5,    1,     5, 10 };

struct klass {
	struct cam_sched_fair fair;
	_Alignas(64) atomic_long size;     /* reserved or queued tasks */
	atomic_uint limit;
	atomic_uint caller_limit;          /* in force (the setting resolved) */
	atomic_uint caller_limit_set;      /* as set: 0 = a quarter of limit */
	atomic_uint weight;
	_Atomic int64_t nonempty_since;    /* when size last left 0 */
	cam_series *m_queue, *m_wait, *m_full, *m_deadline, *m_inline, *m_caller;
};

/* Calls run inline, counted in one line per thread (up to INLINE_STRIPES
 * threads; more share): an I/O thread's count moves no line another I/O
 * thread writes, nor the line of the queue sizes every call reads. */
#define INLINE_STRIPES 16
struct inline_stripe {
	_Alignas(64) _Atomic uint64_t n;
};
static _Atomic unsigned next_stripe;
static _Thread_local unsigned my_stripe; /* 1 + its stripe; 0: none yet */

static unsigned stripe_of_thread(void)
{
	if (!my_stripe)
		my_stripe = atomic_fetch_add(&next_stripe, 1) % INLINE_STRIPES + 1;
	return my_stripe - 1;
}

enum slot_state { SLOT_EMPTY, SLOT_RUNNING, SLOT_EXITED };

struct worker {
	cam_sched *s;
	unsigned id;
	pthread_t thread;
	enum slot_state state;             /* under tune_mu */
	long credit[CAM_SCHED_NCLASSES];   /* this worker's round robin */
	_Alignas(64) _Atomic int64_t last_dequeue_ns;
	atomic_uint_least64_t dequeued;
	atomic_bool busy;
};

struct cam_sched {
	struct cam_grpc_executor ex;       /* first: the executor handle */
	struct klass cls[CAM_SCHED_NCLASSES];
	struct inline_stripe ran_inline[INLINE_STRIPES];
	struct worker *slots[CAM_SCHED_WORKERS_MAX];
	_Alignas(64) atomic_uint target;   /* workers wanted */
	atomic_int sleepers;
	atomic_bool stopping, stopped;
	atomic_uint stall_ms;
	atomic_uint_least64_t rej_full, rej_deadline, rej_caller;
	uint64_t seed;                     /* of the callers' queue keys */

	pthread_mutex_t sleep_mu;
	pthread_cond_t sleep_cv;
	pthread_mutex_t tune_mu;           /* settings, slots, running */
	unsigned running;
	bool stop_started;

	struct cam_sched_ring ring;
	cam_series *m_priority, *m_busy, *m_workers;
};

const char *cam_sched_class_name(unsigned klass)
{
	return klass < CAM_SCHED_NCLASSES ? class_names[klass] : "unknown";
}

unsigned cam_sched_class_of(unsigned priority)
{
	if (priority >= 7)
		return CAM_SCHED_HIGH;
	if (priority >= 3)
		return CAM_SCHED_NORMAL;
	return CAM_SCHED_LOW;
}

const char *cam_sched_source_name(unsigned source)
{
	switch (source) {
	case CAM_SCHED_SRC_FIELD:
		return "priority_field";
	case CAM_SCHED_SRC_FACTORS:
		return "factors";
	default:
		return "default";
	}
}

void cam_sched_default_settings(struct cam_sched_settings *out)
{
	*out = (struct cam_sched_settings){
		.weights = { 8, 4, 1 },
		.queue_limit = { 1024, 1024, 1024 },
		.queue_limit_per_caller = { 0, 0, 0 },
		.workers = 0,
		.stall_ms = 5000,
	};
}

const char *cam_sched_settings_check(const struct cam_sched_settings *s)
{
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++) {
		if (s->weights[c] < CAM_SCHED_WEIGHT_MIN || s->weights[c] > CAM_SCHED_WEIGHT_MAX)
			return "weights must be 1-1000";
		if (s->queue_limit[c] < CAM_SCHED_QUEUE_MIN ||
		    s->queue_limit[c] > CAM_SCHED_QUEUE_MAX)
			return "queue limits must be 1-16384";
		if (s->queue_limit_per_caller[c] > CAM_SCHED_QUEUE_MAX)
			return "queue limits per caller must be 1-16384 (0: a quarter of the class's)";
	}
	if (s->workers > CAM_SCHED_WORKERS_MAX)
		return "workers must be 1-256";
	if (s->stall_ms < CAM_SCHED_STALL_MS_MIN || s->stall_ms > CAM_SCHED_STALL_MS_MAX)
		return "stall_ms must be 100-600000";
	return NULL;
}

/* A whole decimal number of at most 9 digits in v[0..len). */
static bool parse_uint(const char *v, size_t len, unsigned *out)
{
	unsigned n = 0;

	if (len == 0 || len > 9)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		n = n * 10 + (unsigned)(v[i] - '0');
	}
	*out = n;
	return true;
}

int cam_sched_parse_classes(const char *v, bool one_ok, unsigned out[CAM_SCHED_NCLASSES])
{
	const char *a = strchr(v, ':'), *b = a ? strchr(a + 1, ':') : NULL;

	if (!a) {
		if (!one_ok || !parse_uint(v, strlen(v), &out[0]))
			return CAM_EINVAL;
		out[1] = out[2] = out[0];
		return 0;
	}
	if (!b || !parse_uint(v, (size_t)(a - v), &out[0]) ||
	    !parse_uint(a + 1, (size_t)(b - a - 1), &out[1]) ||
	    !parse_uint(b + 1, strlen(b + 1), &out[2]))
		return CAM_EINVAL;
	return 0;
}

unsigned cam_sched_caller_limit(const struct cam_sched_settings *s, unsigned klass)
{
	unsigned quarter = s->queue_limit[klass] / 4;

	if (s->queue_limit_per_caller[klass])
		return s->queue_limit_per_caller[klass];
	return quarter ? quarter : 1;
}

static long total_queued(cam_sched *s)
{
	long n = 0;

	for (int c = 0; c < CAM_SCHED_NCLASSES; c++)
		n += atomic_load(&s->cls[c].size);
	return n;
}

/* ---- workers ----------------------------------------------------------- */

/* The class to serve next by this worker's smooth weighted round robin
 * over the classes that have work, then the task; NULL when none. */
static struct cam_grpc_task *take(cam_sched *s, struct worker *w)
{
	unsigned weight[CAM_SCHED_NCLASSES];
	long total = 0;
	int best = -1;
	struct cam_grpc_task *t;

	for (int c = 0; c < CAM_SCHED_NCLASSES; c++) {
		weight[c] = 0;
		if (atomic_load_explicit(&s->cls[c].size, memory_order_relaxed) > 0) {
			weight[c] = atomic_load_explicit(&s->cls[c].weight, memory_order_relaxed);
			total += weight[c];
		}
	}
	if (total == 0)
		return NULL;
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++) {
		if (!weight[c])
			continue;
		w->credit[c] += weight[c];
		if (best < 0 || w->credit[c] > w->credit[best])
			best = c;
	}
	w->credit[best] -= total;
	t = cam_sched__fair_pop(&s->cls[best].fair);
	/* Raced with another worker, or a place reserved but not yet pushed. */
	for (int c = 0; !t && c < CAM_SCHED_NCLASSES; c++)
		if (c != best)
			t = cam_sched__fair_pop(&s->cls[c].fair);
	return t;
}

/* Runs a dequeued task, or drops it when its deadline passed in the queue. */
static void process(cam_sched *s, struct worker *w, struct cam_grpc_task *t)
{
	struct klass *k = &s->cls[t->sched.klass];
	int64_t now = cam_mono_ns();

	atomic_fetch_sub(&k->size, 1);
	cam_gauge_add(k->m_queue, -1);
	t->sched.dequeued_ns = now;
	cam_histogram_observe(k->m_wait, (double)(now - t->sched.enqueued_ns) / 1e9);
	if (w) {
		/* Only this worker writes its figures: no read-modify-write. */
		atomic_store_explicit(&w->last_dequeue_ns, now, memory_order_relaxed);
		atomic_store_explicit(&w->dequeued,
				      atomic_load_explicit(&w->dequeued, memory_order_relaxed) + 1,
				      memory_order_relaxed);
	}
	if (t->deadline_ns && now >= t->deadline_ns) {
		atomic_fetch_add_explicit(&s->rej_deadline, 1, memory_order_relaxed);
		cam_counter_inc(k->m_deadline);
		t->drop(t, CAM_GRPC_DEADLINE_EXCEEDED, "deadline exceeded while queued");
		return;
	}
	if (w)
		atomic_store_explicit(&w->busy, true, memory_order_relaxed);
	cam_gauge_add(s->m_busy, 1);
	t->run(t); /* t may be gone now */
	cam_gauge_add(s->m_busy, -1);
	if (w)
		atomic_store_explicit(&w->busy, false, memory_order_relaxed);
}

/* Sleeps until there is work, the worker must go, or the scheduler stops
 * with nothing queued (then returns true: exit). */
static bool idle_wait(cam_sched *s, struct worker *w)
{
	bool quit;

	pthread_mutex_lock(&s->sleep_mu);
	atomic_fetch_add(&s->sleepers, 1);
	while (total_queued(s) == 0 && !atomic_load(&s->stopping) &&
	       w->id < atomic_load(&s->target))
		pthread_cond_wait(&s->sleep_cv, &s->sleep_mu);
	atomic_fetch_sub(&s->sleepers, 1);
	quit = atomic_load(&s->stopping) && total_queued(s) == 0;
	pthread_mutex_unlock(&s->sleep_mu);
	return quit;
}

/* A worker beyond the target leaves (true), unless tuning raised the
 * target again meanwhile. */
static bool retire(cam_sched *s, struct worker *w)
{
	bool go;

	pthread_mutex_lock(&s->tune_mu);
	go = w->id >= atomic_load(&s->target);
	if (go) {
		w->state = SLOT_EXITED;
		s->running--;
		cam_gauge_set(s->m_workers, s->running);
	}
	pthread_mutex_unlock(&s->tune_mu);
	return go;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	cam_sched *s = w->s;

	for (;;) {
		struct cam_grpc_task *t;

		if (w->id >= atomic_load_explicit(&s->target, memory_order_relaxed) &&
		    retire(s, w))
			return NULL;
		t = take(s, w);
		if (t) {
			process(s, w, t);
			continue;
		}
		if (idle_wait(s, w))
			break;
	}
	pthread_mutex_lock(&s->tune_mu);
	w->state = SLOT_EXITED;
	s->running--;
	pthread_mutex_unlock(&s->tune_mu);
	return NULL;
}

static void wake_all(cam_sched *s)
{
	pthread_mutex_lock(&s->sleep_mu);
	pthread_cond_broadcast(&s->sleep_cv);
	pthread_mutex_unlock(&s->sleep_mu);
}

/* Makes slots 0..n-1 run (tune_mu held). Returns how many run. */
static unsigned grow(cam_sched *s, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		struct worker *w = s->slots[i];

		if (!w) {
			w = cam_xcalloc_aligned(sizeof(*w));
			w->s = s;
			w->id = i;
			s->slots[i] = w;
		}
		if (w->state == SLOT_RUNNING)
			continue;
		if (w->state == SLOT_EXITED)
			pthread_join(w->thread, NULL);
		w->state = SLOT_EMPTY;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
			break;
		w->state = SLOT_RUNNING;
		s->running++;
	}
	cam_gauge_set(s->m_workers, s->running);
	return i;
}

/* ---- life -------------------------------------------------------------- */

static int ex_submit(struct cam_grpc_executor *ex, struct cam_grpc_task *t)
{
	return cam_sched_submit((cam_sched *)ex, t);
}

static void ex_stop(struct cam_grpc_executor *ex)
{
	cam_sched_stop((cam_sched *)ex);
}

static unsigned long ex_queued(struct cam_grpc_executor *ex)
{
	long n = total_queued((cam_sched *)ex);

	return n > 0 ? (unsigned long)n : 0;
}

/*
 * A call whose handler never blocks may run at once on the I/O thread
 * that decoded it, when no call of its class or a higher one waits:
 * running it first then changes no order the queues would give (a lower
 * class waits for it as it would for any call ahead of it, and the
 * workers stay free for the queues). It counts as dispatched, with no
 * wait, in every figure a queued call counts in.
 */
static bool ex_try_inline(struct cam_grpc_executor *ex, struct cam_grpc_task *t)
{
	cam_sched *s = (cam_sched *)ex;
	unsigned p = t->sched.priority > 9 ? 9 : t->sched.priority;
	unsigned c = cam_sched_class_of(p);
	int64_t now;

	if (atomic_load_explicit(&s->stopping, memory_order_relaxed))
		return false;
	for (unsigned k = 0; k <= c; k++) /* classes from the highest */
		if (atomic_load_explicit(&s->cls[k].size, memory_order_relaxed) > 0)
			return false;
	now = cam_mono_ns();
	t->sched.klass = c;
	t->sched.enqueued_ns = t->sched.dequeued_ns = now;
	t->sched.queue_len = 0;
	cam_histogram_observe(s->m_priority, p);
	cam_histogram_observe(s->cls[c].m_wait, 0);
	cam_counter_inc(s->cls[c].m_inline);
	atomic_fetch_add_explicit(&s->ran_inline[stripe_of_thread()].n, 1, memory_order_relaxed);
	return true;
}

static const struct cam_grpc_executor_ops sched_ops = {
	.submit = ex_submit,
	.stop = ex_stop,
	.queued = ex_queued,
	.try_inline = ex_try_inline,
};

enum { M_QUEUE, M_PRIORITY, M_WAIT, M_REJECTED, M_BUSY, M_WORKERS, M_INLINE, NMETRICS };
static const char *const L_CLASS[] = { "class", NULL };
static const char *const L_CLASS_REASON[] = { "class", "reason", NULL };
/* Priorities are integers 0-9; le is inclusive, so bucket i holds priority i. */
static const double PRIORITY_BUCKETS[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_QUEUE] = { .name = "cam_os_scheduler_queue_size",
		      .help = "Gauge of scheduler queue size", .type = CAM_GAUGE,
		      .label_names = L_CLASS, .max_series = 8 },
	[M_PRIORITY] = { .name = "cam_os_scheduler_priority_distribution",
			 .help = "Histogram of priority distribution", .type = CAM_HISTOGRAM,
			 .buckets = PRIORITY_BUCKETS, .nbuckets = 10, .max_series = 1 },
	[M_WAIT] = { .name = "cam_os_scheduler_wait_seconds",
		     .help = "Time calls waited in their scheduler queue, by class.",
		     .type = CAM_HISTOGRAM, .label_names = L_CLASS, .buckets = WAIT_BUCKETS,
		     .nbuckets = sizeof(WAIT_BUCKETS) / sizeof(WAIT_BUCKETS[0]),
		     .max_series = 16, .native = &cam_native_defaults },
	[M_REJECTED] = { .name = "cam_os_scheduler_rejected_total",
			 .help = "Calls the scheduler refused: queue_full or caller_limit (the caller's share of the class; both RESOURCE_EXHAUSTED), or deadline_exceeded while queued.",
			 .type = CAM_COUNTER, .label_names = L_CLASS_REASON, .max_series = 16 },
	[M_BUSY] = { .name = "cam_os_scheduler_busy_workers",
		     .help = "Scheduler workers running a call now.", .type = CAM_GAUGE,
		     .max_series = 16 },
	[M_WORKERS] = { .name = "cam_os_scheduler_workers",
			.help = "Scheduler worker threads (CAM_GRPC_WORKERS, tune_system).",
			.type = CAM_GAUGE, .max_series = 16 },
	[M_INLINE] = { .name = "cam_os_scheduler_inline_total",
		       .help = "Calls that never block run at once on their I/O thread, by class "
			       "(no call of their class or a higher one was waiting).",
		       .type = CAM_COUNTER, .label_names = L_CLASS, .max_series = 8 },
};

static int register_metrics(cam_sched *s)
{
	cam_family *f[NMETRICS];
	char why[160];
	int rc = cam_metrics_table_register(metrics, NMETRICS, f, why, sizeof(why));

	if (rc) {
		cam_log(CAM_LOG_ERROR, COMPONENT, "%s", why);
		return rc;
	}
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++) {
		const char *v[] = { class_names[c], NULL };

		s->cls[c].m_queue = cam_series_get(f[M_QUEUE], v);
		s->cls[c].m_wait = cam_series_get(f[M_WAIT], v);
		s->cls[c].m_full =
			cam_series_get(f[M_REJECTED], (const char *[]){ class_names[c], "queue_full" });
		s->cls[c].m_deadline = cam_series_get(
			f[M_REJECTED], (const char *[]){ class_names[c], "deadline_exceeded" });
		s->cls[c].m_caller = cam_series_get(
			f[M_REJECTED], (const char *[]){ class_names[c], "caller_limit" });
		s->cls[c].m_inline = cam_series_get(f[M_INLINE], v);
	}
	s->m_priority = cam_series_get(f[M_PRIORITY], NULL);
	s->m_busy = cam_series_get(f[M_BUSY], NULL);
	s->m_workers = cam_series_get(f[M_WORKERS], NULL);
	return 0;
}

static unsigned cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > CAM_SCHED_WORKERS_MAX ? CAM_SCHED_WORKERS_MAX : (unsigned)n;
}

static void apply(cam_sched *s, const struct cam_sched_settings *st)
{
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++) {
		atomic_store(&s->cls[c].weight, st->weights[c]);
		atomic_store(&s->cls[c].limit, st->queue_limit[c]);
		atomic_store(&s->cls[c].caller_limit_set, st->queue_limit_per_caller[c]);
		atomic_store(&s->cls[c].caller_limit, cam_sched_caller_limit(st, (unsigned)c));
	}
	atomic_store(&s->stall_ms, st->stall_ms);
}

/* The seed of the callers' queue keys; never fails (a clock reading
 * when the kernel has no randomness to give yet). */
static uint64_t draw_seed(void)
{
	uint64_t x;

	if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t)sizeof(x))
		x = (uint64_t)cam_mono_ns() * 0x9e3779b97f4a7c15ULL;
	return x;
}

int cam_sched_new(const struct cam_sched_opts *o, cam_sched **out)
{
	struct cam_sched_settings st = o->settings;
	cam_sched *s;
	unsigned n;
	int rc;

	if (cam_sched_settings_check(&st))
		return CAM_EINVAL;
	if (st.workers == 0)
		st.workers = cores();
	s = cam_xcalloc_aligned(sizeof(*s));
	s->ex.ops = &sched_ops;
	s->seed = draw_seed();
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++)
		cam_sched__fair_init(&s->cls[c].fair);
	apply(s, &st);
	pthread_mutex_init(&s->sleep_mu, NULL);
	pthread_cond_init(&s->sleep_cv, NULL);
	pthread_mutex_init(&s->tune_mu, NULL);
	cam_sched__ring_init(&s->ring, o->decisions ? o->decisions : DEFAULT_DECISIONS);
	if ((rc = register_metrics(s))) {
		cam_sched_free(s);
		return rc;
	}
	atomic_store(&s->target, st.workers);
	pthread_mutex_lock(&s->tune_mu);
	n = grow(s, st.workers);
	pthread_mutex_unlock(&s->tune_mu);
	if (n < st.workers) {
		cam_sched_free(s);
		return CAM_EIO;
	}
	*out = s;
	return 0;
}

struct cam_grpc_executor *cam_sched_executor(cam_sched *s)
{
	return &s->ex;
}

/* Why a caller's call was refused: its share of class c (cap) is full.
 * In a buffer of the submitting thread (pool.h: the text is valid until
 * that thread's next submit). */
static const char *caller_refusal(const struct cam_grpc_sched *x, unsigned c, unsigned cap,
				  bool shared)
{
	static _Thread_local char text[256];
	const char *name = "callers with no token or caller_id (one caller to the scheduler)";
	size_t n = strlen(name), len = n;

	if (x->caller_name) {
		name = x->caller_name;
		len = x->caller_name_len;
		n = len < 64 ? len : 64;
		/* Not inside a UTF-8 sequence: back to its first byte. */
		while (n > 0 && n < len && ((unsigned char)name[n] & 0xc0) == 0x80)
			n--;
	}
	snprintf(text, sizeof(text), "queue limit per caller of %u reached for %.*s%s in class %s (priority %s)%s",
		 cap, (int)n, name, n < len ? "..." : "", class_names[c], class_ranges[c],
		 shared ? "; its place in the queue is shared with another caller's" : "");
	return text;
}

int cam_sched_submit(cam_sched *s, struct cam_grpc_task *t)
{
	unsigned p = t->sched.priority > 9 ? 9 : t->sched.priority;
	unsigned c = cam_sched_class_of(p);
	struct klass *k = &s->cls[c];
	int64_t now = cam_mono_ns();
	enum cam_sched_fair_result fr;
	unsigned cap;
	long n;

	t->sched.klass = c;
	t->sched.enqueued_ns = now;
	if (atomic_load_explicit(&s->stopped, memory_order_acquire)) {
		t->sched.dequeued_ns = now;
		t->run(t);
		return 0;
	}
	cam_histogram_observe(s->m_priority, p);
	n = atomic_fetch_add(&k->size, 1);
	if (n >= (long)atomic_load_explicit(&k->limit, memory_order_relaxed)) {
		atomic_fetch_sub(&k->size, 1);
		atomic_fetch_add_explicit(&s->rej_full, 1, memory_order_relaxed);
		cam_counter_inc(k->m_full);
		t->sched.reject = full_texts[c];
		return CAM_ELIMIT;
	}
	/* Before the push: a worker may run and finish t at once. */
	t->sched.queue_len = (unsigned)n;
	cam_gauge_add(k->m_queue, 1);
	cap = atomic_load_explicit(&k->caller_limit, memory_order_relaxed);
	fr = cam_sched__fair_push(&k->fair, t, cam_sched__caller_queue_key(t->sched.caller, s->seed),
				  cap);
	if (fr == CAM_SCHED_FAIR_CAPPED || fr == CAM_SCHED_FAIR_CAPPED_SHARED) {
		cam_gauge_add(k->m_queue, -1);
		atomic_fetch_sub(&k->size, 1);
		atomic_fetch_add_explicit(&s->rej_caller, 1, memory_order_relaxed);
		cam_counter_inc(k->m_caller);
		t->sched.reject = caller_refusal(&t->sched, c, cap, fr == CAM_SCHED_FAIR_CAPPED_SHARED);
		return CAM_ELIMIT;
	}
	if (n == 0)
		atomic_store_explicit(&k->nonempty_since, now, memory_order_relaxed);
	if (atomic_load(&s->sleepers) > 0) {
		pthread_mutex_lock(&s->sleep_mu);
		pthread_cond_signal(&s->sleep_cv);
		pthread_mutex_unlock(&s->sleep_mu);
	}
	return 0;
}

void cam_sched_stop(cam_sched *s)
{
	struct worker *join[CAM_SCHED_WORKERS_MAX];
	struct cam_grpc_task *t;
	size_t n = 0;

	pthread_mutex_lock(&s->tune_mu);
	if (s->stop_started) {
		pthread_mutex_unlock(&s->tune_mu);
		return;
	}
	s->stop_started = true;
	atomic_store(&s->stopping, true);
	for (size_t i = 0; i < CAM_SCHED_WORKERS_MAX; i++)
		if (s->slots[i] && s->slots[i]->state != SLOT_EMPTY)
			join[n++] = s->slots[i];
	pthread_mutex_unlock(&s->tune_mu);
	wake_all(s);
	for (size_t i = 0; i < n; i++) {
		pthread_join(join[i]->thread, NULL);
		join[i]->state = SLOT_EMPTY;
	}
	/* Tasks no worker was left to take (every one had retired). */
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++)
		while ((t = cam_sched__fair_pop(&s->cls[c].fair)))
			process(s, NULL, t);
	atomic_store_explicit(&s->stopped, true, memory_order_release);
}

void cam_sched_free(cam_sched *s)
{
	if (!s)
		return;
	cam_sched_stop(s);
	for (size_t i = 0; i < CAM_SCHED_WORKERS_MAX; i++)
		free(s->slots[i]);
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++)
		cam_sched__fair_free(&s->cls[c].fair);
	cam_sched__ring_free(&s->ring);
	pthread_cond_destroy(&s->sleep_cv);
	pthread_mutex_destroy(&s->sleep_mu);
	pthread_mutex_destroy(&s->tune_mu);
	free(s);
}

/* ---- tuning, figures, health ------------------------------------------- */

int cam_sched_tune(cam_sched *s, const struct cam_sched_settings *want, const char **why)
{
	const char *bad = cam_sched_settings_check(want);
	unsigned n;
	int rc = 0;

	if (!bad && want->workers < CAM_SCHED_WORKERS_MIN)
		bad = "workers must be 1-256";
	if (bad) {
		if (why)
			*why = bad;
		return CAM_EINVAL;
	}
	pthread_mutex_lock(&s->tune_mu);
	if (s->stop_started) {
		pthread_mutex_unlock(&s->tune_mu);
		if (why)
			*why = "the scheduler is stopping";
		return CAM_EUNAVAIL;
	}
	apply(s, want);
	atomic_store(&s->target, want->workers);
	n = grow(s, want->workers);
	if (n < want->workers) {
		atomic_store(&s->target, n ? n : 1);
		if (why)
			*why = "could not start every worker thread";
		rc = CAM_EIO;
	}
	pthread_mutex_unlock(&s->tune_mu);
	wake_all(s); /* workers beyond the target leave */
	cam_log(CAM_LOG_INFO, COMPONENT,
		"tuned: weights %u:%u:%u, queue limits %u:%u:%u (%u:%u:%u per caller), %u workers, stall %u ms",
		want->weights[0], want->weights[1], want->weights[2], want->queue_limit[0],
		want->queue_limit[1], want->queue_limit[2], cam_sched_caller_limit(want, 0),
		cam_sched_caller_limit(want, 1), cam_sched_caller_limit(want, 2), want->workers,
		want->stall_ms);
	return rc;
}

void cam_sched_get_settings(cam_sched *s, struct cam_sched_settings *out)
{
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++) {
		out->weights[c] = atomic_load(&s->cls[c].weight);
		out->queue_limit[c] = atomic_load(&s->cls[c].limit);
		out->queue_limit_per_caller[c] = atomic_load(&s->cls[c].caller_limit_set);
	}
	out->workers = atomic_load(&s->target);
	out->stall_ms = atomic_load(&s->stall_ms);
}

void cam_sched_get_stats(cam_sched *s, struct cam_sched_stats *out)
{
	int64_t last = 0, now = cam_mono_ns();
	bool queued = false;

	memset(out, 0, sizeof(*out));
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++) {
		long n = atomic_load(&s->cls[c].size);

		out->queued[c] = n > 0 ? (unsigned long)n : 0;
		if (n > 0) {
			int64_t since = atomic_load(&s->cls[c].nonempty_since);

			queued = true;
			if (since > last)
				last = since;
		}
	}
	pthread_mutex_lock(&s->tune_mu);
	out->workers = s->running;
	for (size_t i = 0; i < CAM_SCHED_WORKERS_MAX; i++) {
		struct worker *w = s->slots[i];
		int64_t t;

		if (!w)
			continue;
		out->busy += atomic_load_explicit(&w->busy, memory_order_relaxed);
		out->dequeued += atomic_load_explicit(&w->dequeued, memory_order_relaxed);
		t = atomic_load_explicit(&w->last_dequeue_ns, memory_order_relaxed);
		if (t > last)
			last = t;
	}
	pthread_mutex_unlock(&s->tune_mu);
	out->rejected_full = atomic_load(&s->rej_full);
	out->rejected_deadline = atomic_load(&s->rej_deadline);
	out->rejected_caller = atomic_load(&s->rej_caller);
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++)
		cam_sched__fair_callers(&s->cls[c].fair, &out->callers[c], &out->caller_most[c]);
	out->ran_inline = 0;
	for (int i = 0; i < INLINE_STRIPES; i++)
		out->ran_inline += atomic_load_explicit(&s->ran_inline[i].n, memory_order_relaxed);
	out->idle_ns = queued && now > last ? now - last : 0;
}

enum cam_sched_health cam_sched_health(cam_sched *s, char *msg, size_t msglen)
{
	struct cam_sched_settings st;
	struct cam_sched_stats x;
	int fullest = -1;
	double fill = 0;

	cam_sched_get_settings(s, &st);
	cam_sched_get_stats(s, &x);
	if (x.idle_ns > (int64_t)st.stall_ms * 1000000) {
		snprintf(msg, msglen,
			 "stuck: %lu/%lu/%lu calls queued (high/normal/low) and none dequeued for %.1f s (limit %u ms); %u workers, %u busy",
			 x.queued[0], x.queued[1], x.queued[2], (double)x.idle_ns / 1e9,
			 st.stall_ms, x.workers, x.busy);
		return CAM_SCHED_STUCK;
	}
	for (int c = 0; c < CAM_SCHED_NCLASSES; c++) {
		double f = (double)x.queued[c] / st.queue_limit[c];

		if (f > fill) {
			fill = f;
			fullest = c;
		}
	}
	if (fill > 0.8) {
		snprintf(msg, msglen, "queue %s is %.0f%% full (%lu of %u); %u workers, %u busy",
			 class_names[fullest], fill * 100, x.queued[fullest],
			 st.queue_limit[fullest], x.workers, x.busy);
		return CAM_SCHED_DEGRADED;
	}
	snprintf(msg, msglen,
		 "%lu/%lu/%lu calls queued (high/normal/low); %u workers, %u busy; weights %u:%u:%u",
		 x.queued[0], x.queued[1], x.queued[2], x.workers, x.busy, st.weights[0],
		 st.weights[1], st.weights[2]);
	return CAM_SCHED_OK;
}

void cam_sched_record(cam_sched *s, const struct cam_sched_decision *d)
{
	cam_sched__ring_put(&s->ring, d);
}

int cam_sched_explain(cam_sched *s, const char *request_id, const char *trace_id,
		      struct cam_sched_decision *out)
{
	return cam_sched__ring_find(&s->ring, request_id, trace_id, out);
}
