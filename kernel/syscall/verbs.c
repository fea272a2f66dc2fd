/*
 * The one verb table: each verb with its handler, subsystem, accepted
 * payload keys and the scope it needs. DESIGN.md fixes the verbs; a verb
 * whose subsystem is not built yet has no handler and answers UNIMPLEMENTED
 * saying so (it is still a known verb, so its metrics keep their name).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/syscall.h"
#include "kernel/drivers/driver_verbs.h"
#include "kernel/security/verbs_tpm.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const K_EMIT_METRIC[] = { "metric_name", "value", "labels", "type",
					     "help", NULL };
static const char *const K_EMIT_TRACE[] = { "trace_id", "span_id", "parent_span_id",
					    "operation", "duration_ms", "attributes",
					    "service", "status", NULL };
static const char *const K_NONE[] = { NULL };
static const char *const K_DRIVER_LOAD[] = { "driver", "config", NULL };
static const char *const K_DRIVER_UNLOAD[] = { "driver", NULL };
static const char *const K_DRIVER_INVOKE[] = { "driver", "operation", "timeout_ms", "payload",
					       NULL };
static const char *const K_TPM_SIGN[] = { "message", "digest", NULL };
static const char *const K_TPM_VERIFY[] = { "message", "digest", "signature", NULL };
static const char *const K_TPM_RANDOM[] = { "bytes", NULL };
static const char *const K_TPM_PCR_READ[] = { "pcrs", NULL };
static const char *const K_THINK[] = { "task", "urgency", "importance", "efficiency",
				       "energy", "trust", NULL };
static const char *const K_EXPLAIN[] = { "request_id", "trace_id", NULL };
static const char *const K_TUNE[] = { "weights", "weight_high", "weight_normal",
				      "weight_low", "queue_limit", "queue_limit_high",
				      "queue_limit_normal", "queue_limit_low", "workers",
				      "stall_ms", NULL };
static const char *const K_CONTEXT_WRITE[] = { "namespace", "key", "value",
					       "expected_version", NULL };
static const char *const K_CONTEXT_READ[] = { "namespace", "key", "version", NULL };
static const char *const K_CONTEXT_KEY[] = { "namespace", "key", NULL };
static const char *const K_CONTEXT_DELETE[] = { "namespace", "key", "snapshot_id", NULL };
static const char *const K_CONTEXT_NS[] = { "namespace", NULL };
static const char *const K_CONTEXT_RESTORE[] = { "snapshot_id", NULL };

/* X(name, subsystem, handler, keys, scope) */
#define CAM_VERB_TABLE(X)                                                     \
	X(ping, "system", cam_verb_ping, NULL, "read")                        \
	X(observe, "system", cam_verb_observe, K_NONE, "read")                \
	X(emit_metric, "observability", cam_verb_emit_metric, K_EMIT_METRIC, "write") \
	X(emit_trace, "observability", cam_verb_emit_trace, K_EMIT_TRACE, "write") \
	X(think, "scheduler", cam_verb_think, K_THINK, "read")                \
	X(explain_action, "scheduler", cam_verb_explain_action, K_EXPLAIN, "read") \
	X(tune_system, "scheduler", cam_verb_tune_system, K_TUNE, "admin")    \
	X(context_write, "memory context", cam_verb_context_write, K_CONTEXT_WRITE, "write") \
	X(context_read, "memory context", cam_verb_context_read, K_CONTEXT_READ, "read") \
	X(context_versions, "memory context", cam_verb_context_versions, K_CONTEXT_KEY, "read") \
	X(context_delete, "memory context", cam_verb_context_delete, K_CONTEXT_DELETE, "write") \
	X(context_snapshot, "memory context", cam_verb_context_snapshot, K_CONTEXT_NS, "write") \
	X(context_restore, "memory context", cam_verb_context_restore, K_CONTEXT_RESTORE, "write") \
	X(whoami, "security", cam_verb_whoami, K_NONE, "read")                             \
	X(tpm_sign, "security", cam_verb_tpm_sign, K_TPM_SIGN, "write")       \
	X(tpm_verify, "security", cam_verb_tpm_verify, K_TPM_VERIFY, "read")  \
	X(tpm_random, "security", cam_verb_tpm_random, K_TPM_RANDOM, "read")  \
	X(tpm_pcr_read, "security", cam_verb_tpm_pcr_read, K_TPM_PCR_READ, "read") \
	X(tpm_public_key, "security", cam_verb_tpm_public_key, K_NONE, "read") \
	X(driver_list, "drivers", cam_verb_driver_list, K_NONE, "read")       \
	X(driver_load, "drivers", cam_verb_driver_load, K_DRIVER_LOAD, "admin") \
	X(driver_unload, "drivers", cam_verb_driver_unload, K_DRIVER_UNLOAD, "admin") \
	X(driver_invoke, "drivers", cam_verb_driver_invoke, K_DRIVER_INVOKE, "write")

enum {
#define VERB_ENUM(name, sub, fn, keys, scope) VERB_##name,
	CAM_VERB_TABLE(VERB_ENUM)
#undef VERB_ENUM
	VERB_COUNT
};

static const struct cam_verb verbs[VERB_COUNT] = {
#define VERB_ROW(name, sub, fn, keys, scope) \
	{ #name, sub, fn, keys, scope, VERB_##name },
	CAM_VERB_TABLE(VERB_ROW)
#undef VERB_ROW
};

const struct cam_verb *cam_verbs(size_t *n)
{
	*n = VERB_COUNT;
	return verbs;
}

const struct cam_verb *cam_verb_find(const char *name)
{
	for (size_t i = 0; i < VERB_COUNT; i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

int cam_syscall_fail(struct cam_syscall *sc, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sc->error, sizeof(sc->error), fmt, ap);
	va_end(ap);
	return status;
}
