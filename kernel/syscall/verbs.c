/*
 * The one verb table: each verb with its handler, subsystem, accepted
 * payload keys and the scope it needs. DESIGN.md fixes the verbs; a verb
 * whose subsystem is not built yet has no handler and answers UNIMPLEMENTED
 * saying so (it is still a known verb, so its metrics keep their name).
 */
#include "kernel/syscall/syscall.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const K_EMIT_METRIC[] = { "metric_name", "value", "labels", "type",
					     "help", NULL };
static const char *const K_EMIT_TRACE[] = { "trace_id", "span_id", "parent_span_id",
					    "operation", "duration_ms", "attributes",
					    "service", "status", NULL };
static const char *const K_NONE[] = { NULL };

/* X(name, subsystem, handler, keys, scope) */
#define CAM_VERB_TABLE(X)                                                     \
	X(ping, "system", cam_verb_ping, NULL, "read")                        \
	X(observe, "system", cam_verb_observe, K_NONE, "read")                \
	X(emit_metric, "observability", cam_verb_emit_metric, K_EMIT_METRIC, "write") \
	X(emit_trace, "observability", cam_verb_emit_trace, K_EMIT_TRACE, "write") \
	X(think, "scheduler", NULL, NULL, "read")                             \
	X(explain_action, "scheduler", NULL, NULL, "read")                    \
	X(tune_system, "scheduler", NULL, NULL, "admin")                      \
	X(context_write, "memory context", NULL, NULL, "write")               \
	X(context_read, "memory context", NULL, NULL, "read")                 \
	X(context_versions, "memory context", NULL, NULL, "read")             \
	X(context_delete, "memory context", NULL, NULL, "write")              \
	X(context_snapshot, "memory context", NULL, NULL, "write")            \
	X(context_restore, "memory context", NULL, NULL, "write")             \
	X(whoami, "security", NULL, NULL, "read")                             \
	X(tpm_sign, "security", NULL, NULL, "write")                          \
	X(tpm_verify, "security", NULL, NULL, "read")                         \
	X(tpm_random, "security", NULL, NULL, "read")                         \
	X(tpm_pcr_read, "security", NULL, NULL, "read")                       \
	X(tpm_public_key, "security", NULL, NULL, "read")                     \
	X(driver_list, "drivers", NULL, NULL, "read")                         \
	X(driver_load, "drivers", NULL, NULL, "admin")                        \
	X(driver_unload, "drivers", NULL, NULL, "admin")                      \
	X(driver_invoke, "drivers", NULL, NULL, "write")

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
