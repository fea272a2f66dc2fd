/*
 * The audit trail: who did what, and was it allowed (../shared/DESIGN.md,
 * "Audit log"). JSON lines in CAM_AUDIT_LOG, never sampled and never
 * dropped: a record either reaches the file or the call it records is
 * refused (UNAVAILABLE "audit log unavailable"); a denial stays a denial,
 * and a record that cannot be written is counted.
 *
 * Every line carries "seq" (its number since the trail began) and "prev",
 * the chain hash of the line before it (common/audit_chain.h), so an edit,
 * a removal or a swap breaks the chain. With a TPM, a seal line every
 * seal_lines lines or seal_s seconds signs where the trail stands with the
 * TPM's key and clock, so lines cannot be removed and resealed later
 * without the TPM. A file that reaches max_bytes is renamed
 * (<path>.<UTC time>) and the new one goes on from its last hash.
 *
 * One writer thread appends records in groups: one write and one
 * fdatasync for every record queued meanwhile. A durable record (an admin
 * act's, written before the act runs) is answered only once it is on disk.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SECURITY_AUDIT_H
#define CAM_SECURITY_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/component.h"
#include "kernel/security/tpm.h"

typedef struct cam_audit cam_audit;

/* What is audited (CAM_AUDIT_EVENTS). */
enum cam_audit_events {
	CAM_AUDIT_DENY = 1,   /* every refused call: unauthenticated, denied, over a quota */
	CAM_AUDIT_ADMIN = 2,  /* every admin verb, every policy reload */
	CAM_AUDIT_AUTH = 4,   /* agent registrations and revocations, kernel start and stop */
	CAM_AUDIT_WRITE = 8,  /* every context change */
	CAM_AUDIT_ALL = 16,   /* every call */
};
/* "deny,admin,auth" (the default), "write", "all", ...: CAM_EINVAL for a
 * name it does not know. "all" takes every event; "none" none. */
int cam_audit_parse_events(const char *s, unsigned *out);

struct cam_audit_opts {
	const char *path;     /* the current file */
	unsigned events;      /* enum cam_audit_events bits */
	unsigned seal_lines;  /* a seal after this many lines; 0: not by count */
	unsigned seal_s;      /* and at least this often while lines come; 0: not by time */
	uint64_t max_bytes;   /* rotate past this; 0: never */
	bool ecs;             /* Elastic Common Schema field names */
	cam_tpm *tpm;         /* seals with its key; NULL: no seals (borrowed) */
	size_t queue_bytes;   /* records waiting at most before producers wait; 0: 1 MiB */
	/* Sees each line (newline included) once it is on disk, on the writer
	 * thread; must be quick. NULL: none. The kernel hands the lines to the
	 * exporter's OTLP logs push this way (kernel/log_bus.h). */
	void (*tap)(void *arg, const char *line, size_t len);
	void *tap_arg;
};

/* One record; NULL strings and negative numbers are left out. */
struct cam_audit_record {
	const char *event;          /* deny, admin, auth, write, call, start, stop, reload */
	const char *verb;
	const char *principal;
	const char *identified_by;  /* token, registered, certificate, anonymous */
	const char *resource;
	const char *policy_name;
	const char *matched_rule;
	int authorized;             /* 1, 0, or -1 for none */
	const char *code;           /* the call's gRPC status name, when known */
	const char *request_id, *trace_id, *peer;
	const char *ns, *key;       /* what changed */
	int64_t version, size;
	const char *message;
};

/*
 * Opens (or makes, 0600) the trail and finds where it stands: the last
 * line's seq and hash (a torn last line, left by a crash, is cut off and
 * said so in a "recovered" record). Starts the writer (and the sealer with
 * a TPM). CAM_EIO / CAM_EDATALOSS with why for a file it cannot use.
 */
int cam_audit_new(const struct cam_audit_opts *o, cam_audit **out, char *why, size_t why_len);
/* Writes what is queued (and a last seal with a TPM), then closes. NULL is
 * a no-op. */
void cam_audit_free(cam_audit *a);

bool cam_audit_wants(const cam_audit *a, unsigned event);
/*
 * Appends r. durable: waits until it is on disk (never on an I/O thread).
 * Waits for room when the queue is full. 0, or CAM_EUNAVAIL with why when
 * the trail cannot be written (the caller refuses the call it records; a
 * record refused is counted in cam_os_audit_write_failures_total).
 */
int cam_audit_write(cam_audit *a, const struct cam_audit_record *r, bool durable, char *why,
		    size_t why_len);
/* Whether writes fail now (the file cannot be written or synced). */
bool cam_audit_failing(const cam_audit *a);
/* "Audit Log" health: degraded while writes fail. Quick. */
enum cam_component_status cam_audit_health(cam_audit *a, char *msg, size_t len);
/* Waits until everything queued so far is on disk (tests, shutdown). */
void cam_audit_flush(cam_audit *a);

#endif
