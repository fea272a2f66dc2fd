/* The syscall access log and its limit on failing calls: see access_log.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "kernel/syscall/access_log.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/metrics_table.h"
#include "common/rate.h"
#include "common/xmalloc.h"

#define CALLER_SLOTS 256

struct slot {
	struct cam_rate_bucket bucket;
	_Atomic uint64_t held;    /* lines of this slot's callers held back since its last */
};

struct cam_access_log {
	struct cam_access_log_opts o;
	struct cam_rate_bucket all;
	struct slot slots[CALLER_SLOTS];
	cam_series *suppressed;
};

enum { M_SUPPRESSED, NMETRICS };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_SUPPRESSED] = { .name = "cam_os_access_log_suppressed_total",
			   .help = "Access-log lines of failing syscalls held back by the per-caller "
				   "and overall limits (CAM_ACCESS_LOG_ERROR_RATE); the calls are "
				   "still counted in cam_os_syscall_errors_total.",
			   .type = CAM_COUNTER },
};

int cam_access_log_new(const struct cam_access_log_opts *o, cam_access_log **out)
{
	cam_family *f[NMETRICS];
	char why[160];
	cam_access_log *l;
	int rc = cam_metrics_table_register(metrics, NMETRICS, f, why, sizeof(why));

	if (rc)
		return rc;
	l = cam_xcalloc_aligned(sizeof(*l));
	l->o = *o;
	l->suppressed = cam_series_get(f[M_SUPPRESSED], NULL);
	*out = l;
	return 0;
}

void cam_access_log_free(cam_access_log *l)
{
	free(l);
}

/* Whether a failing call's line may go out; counts it when not. The
 * number held back for its slot so far goes in *held (then reset). */
static bool allowed(cam_access_log *l, const char *caller, uint64_t *held)
{
	struct slot *s = &l->slots[cam_rate_hash(caller) % CALLER_SLOTS];
	double r = l->o.error_rate;
	int64_t now = cam_mono_ns();

	*held = 0;
	if (!(r > 0))
		return true;
	if (!cam_rate_take(&s->bucket, r, 2 * r < 1 ? 1 : 2 * r, now) ||
	    !cam_rate_take(&l->all, 10 * r, 20 * r < 1 ? 1 : 20 * r, now)) {
		atomic_fetch_add_explicit(&s->held, 1, memory_order_relaxed);
		cam_counter_inc(l->suppressed);
		return false;
	}
	if (atomic_load_explicit(&s->held, memory_order_relaxed))
		*held = atomic_exchange_explicit(&s->held, 0, memory_order_relaxed);
	return true;
}

void cam_access_log_write(cam_access_log *l, const struct cam_access_entry *e)
{
	bool ok = e->grpc_status == CAM_GRPC_OK;
	struct cam_log_line line;
	uint64_t held = 0;

	if (l->o.mode == CAM_ACCESS_LOG_NONE || (l->o.mode == CAM_ACCESS_LOG_ERRORS && ok))
		return;
	if (!cam_log_enabled(ok ? CAM_LOG_INFO : CAM_LOG_WARN))
		return;
	if (!ok && !allowed(l, e->caller_id, &held))
		return;
	if (!cam_log_begin(&line, ok ? CAM_LOG_INFO : CAM_LOG_WARN, "syscall_dispatcher", NULL))
		return;
	cam_log_str(&line, "syscall", e->verb);
	cam_log_str(&line, "caller_id", e->caller_id);
	cam_log_num(&line, "latency_ms", e->seconds * 1e3);
	cam_log_bool(&line, "success", ok);
	cam_log_str(&line, "code", cam_grpc_status_name(e->grpc_status));
	cam_log_str(&line, "request_id", e->request_id);
	if (e->trace_id && e->trace_id[0])
		cam_log_str(&line, "trace_id", e->trace_id);
	if (e->span_id && e->span_id[0])
		cam_log_str(&line, "span_id", e->span_id);
	if (!ok)
		cam_log_str(&line, "error", e->error);
	if (held)
		cam_log_int(&line, "suppressed", (int64_t)held);
	cam_log_end(&line);
}
