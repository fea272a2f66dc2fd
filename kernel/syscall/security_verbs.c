/*
 * The security subsystem's verbs: whoami (who the kernel thinks is
 * calling, and with which scopes), and tpm_sign, tpm_verify, tpm_random,
 * tpm_pcr_read and tpm_public_key over the kernel's TPM
 * (kernel/security/tpm.h); and the "TPM Security" health component.
 *
 * What is signed is the SHA-256 of, in this order: the request's binary
 * `data` when it is not empty, else the payload's `message` text, else a
 * digest given as 64 hex digits in `digest`. Signatures are DER ECDSA
 * (P-256, SHA-256), in SyscallResponse.data and as hex in the result;
 * tpm_verify takes one back as hex in `signature`. The hashing runs on the
 * worker thread; only the 32-byte digest travels to the TPM thread.
 *
 * Every call counts in cam_os_security_tpm_operations_total{op,status}
 * (status "ok", else the gRPC code name), and the ones that reached the TPM
 * are timed in cam_os_security_tpm_operation_duration_seconds{op}. The
 * TPM verbs wait for the TPM thread (they may block); whoami does not.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/security_verbs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/metrics_table.h"
#include "common/xmalloc.h"
#include "kernel/security/auth.h"

enum tpm_op { OP_SIGN, OP_VERIFY, OP_RANDOM, OP_PCR_READ, OP_PUBLIC_KEY, NOPS };

static const char *const op_names[NOPS] = { "sign", "verify", "random", "pcr_read",
					    "public_key" };

/* Bounds (seconds) for TPM commands: a software TPM answers in about a
 * millisecond, a hardware one in tens to hundreds. */
static const double BUCKETS[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				  0.1,    0.25,  0.5,    1,     2.5,  5,    10 };
static const char *const L_OP[] = { "op", NULL };
static const char *const L_OP_STATUS[] = { "op", "status", NULL };

enum { M_OPERATIONS, M_DURATION, NMETRICS };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_OPERATIONS] = { .name = "cam_os_security_tpm_operations_total",
			   .help = "Counter of TPM operations", .type = CAM_COUNTER,
			   .label_names = L_OP_STATUS, .max_series = 256 },
	[M_DURATION] = { .name = "cam_os_security_tpm_operation_duration_seconds",
			 .help = "Histogram of TPM operation times, queue wait included",
			 .type = CAM_HISTOGRAM, .unit = "seconds", .label_names = L_OP,
			 .buckets = BUCKETS, .nbuckets = sizeof(BUCKETS) / sizeof(BUCKETS[0]),
			 .max_series = NOPS },
};

struct cam_security_verbs {
	struct cam_security_verbs_opts o;
	cam_family *operations;
	cam_series *durations[NOPS];
};

static void count(cam_security_verbs *v, enum tpm_op op, int rc)
{
	const char *l[2] = { op_names[op],
			     rc ? cam_grpc_status_name(cam_err_grpc_status(rc)) : "ok" };

	cam_counter_inc(cam_series_get(v->operations, l));
}

/* Counts a call refused before it reached the TPM. */
static int refuse(cam_security_verbs *v, struct cam_syscall *sc, enum tpm_op op, int rc,
		  const char *msg)
{
	count(v, op, rc);
	return cam_syscall_fail(sc, rc, "%s", msg);
}

/* The TPM of the verbs, or NULL after failing sc with CAM_EUNAVAIL. */
static cam_tpm *tpm_or_fail(cam_security_verbs *v, struct cam_syscall *sc, enum tpm_op op,
			    int *rc)
{
	if (!v->o.tpm)
		*rc = refuse(v, sc, op, CAM_EUNAVAIL,
			     "no TPM configured: set CAM_TPM_TCTI to a TCTI (for example "
			     "swtpm:host=127.0.0.1,port=2321 or device:/dev/tpmrm0)");
	return v->o.tpm;
}

/* Counts and times a call that reached the TPM; rc is its outcome. */
static int finish(cam_security_verbs *v, struct cam_syscall *sc, enum tpm_op op, int rc,
		  int64_t t0, const char *err)
{
	cam_histogram_observe(v->durations[op], (double)(cam_mono_ns() - t0) / 1e9);
	count(v, op, rc);
	return rc ? cam_syscall_fail(sc, rc, "%s", err) : 0;
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex text into at most max bytes; returns the byte count or -1. */
static long from_hex(const char *s, uint8_t *out, size_t max)
{
	size_t len = strlen(s);

	if (len % 2 || len / 2 > max)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(len / 2);
}

/* The digest a sign or verify call is about (see the top of the file). */
static int digest_of(cam_security_verbs *v, struct cam_syscall *sc, enum tpm_op op,
		     uint8_t digest[32])
{
	const char *msg = cam_payload_get(sc->payload, "message");
	const char *dg = cam_payload_get(sc->payload, "digest");
	int sources = (sc->data_len > 0) + (msg != NULL) + (dg != NULL);

	if (sources != 1)
		return refuse(v, sc, op, CAM_EINVAL,
			      sources ? "give only one of data, message and digest"
				      : "nothing to sign: give binary data, a message or a digest");
	if (sc->data_len)
		SHA256(sc->data, sc->data_len, digest);
	else if (msg)
		SHA256((const unsigned char *)msg, strlen(msg), digest);
	else if (from_hex(dg, digest, 32) != 32)
		return refuse(v, sc, op, CAM_EINVAL,
			      "digest must be a SHA-256 digest: 64 hex digits");
	return 0;
}

/*
 * What the TPM signs for signer: SHA-256 of "cam-os tpm_sign v1\n", the
 * signer's caller id, "\n" and the content's 32-byte digest. A signature
 * is bound to who asked for it: made for agent-b, it never verifies as
 * agent-a's. Anyone can check it with openssl against tpm_public_key by
 * building those bytes (README, "TPM 2.0").
 */
static void bound_digest(const char *signer, const uint8_t content[32], uint8_t out[32])
{
	static const char prefix[] = "cam-os tpm_sign v1\n";
	unsigned char m[sizeof(prefix) + 256 + 33];
	size_t n = sizeof(prefix) - 1, sl = strnlen(signer, 256);

	memcpy(m, prefix, n);
	memcpy(m + n, signer, sl);
	n += sl;
	m[n++] = '\n';
	memcpy(m + n, content, 32);
	SHA256(m, n + 32, out);
}

/* Hands a copy of b to SyscallResponse.data. */
static void set_out_data(struct cam_syscall *sc, const void *b, size_t n)
{
	sc->out_data = cam_xmalloc(n ? n : 1);
	memcpy(sc->out_data, b, n);
	sc->out_len = n;
}

static int tpm_sign(void *ctx, struct cam_syscall *sc)
{
	cam_security_verbs *v = ctx;
	uint8_t digest[32], bound[32], der[CAM_TPM_SIG_MAX_DER];
	char hex[2 * CAM_TPM_SIG_MAX_DER + 1], err[256];
	size_t der_len = 0;
	int64_t t0;
	cam_tpm *t;
	int rc = 0;

	if (!(t = tpm_or_fail(v, sc, OP_SIGN, &rc)) || (rc = digest_of(v, sc, OP_SIGN, digest)))
		return rc;
	bound_digest(sc->caller_id, digest, bound);
	t0 = cam_mono_ns();
	rc = cam_tpm_sign(t, bound, sc->deadline_ns, der, &der_len, err, sizeof(err));
	if ((rc = finish(v, sc, OP_SIGN, rc, t0, err)))
		return rc;
	to_hex(der, der_len, hex);
	cam_result_add(&sc->result, "signature", hex);
	cam_result_add(&sc->result, "signer", sc->caller_id);
	to_hex(digest, 32, hex);
	cam_result_add(&sc->result, "digest", hex);
	to_hex(bound, 32, hex);
	cam_result_add(&sc->result, "signed_digest", hex);
	cam_result_add(&sc->result, "algorithm", "ecdsa-p256-sha256");
	set_out_data(sc, der, der_len);
	return 0;
}

static int tpm_verify(void *ctx, struct cam_syscall *sc)
{
	cam_security_verbs *v = ctx;
	const char *sig_hex = cam_payload_get(sc->payload, "signature");
	const char *signer = cam_payload_get(sc->payload, "signer");
	uint8_t digest[32], bound[32], der[CAM_TPM_SIG_MAX_DER];
	char hex[65], err[256];
	bool valid = false;
	long der_len;
	int64_t t0;
	cam_tpm *t;
	int rc = 0;

	if (!(t = tpm_or_fail(v, sc, OP_VERIFY, &rc)))
		return rc;
	if (!sig_hex || (der_len = from_hex(sig_hex, der, sizeof(der))) <= 0)
		return refuse(v, sc, OP_VERIFY, CAM_EINVAL,
			      "signature must be a DER ECDSA signature in hex (as tpm_sign returns it)");
	if ((rc = digest_of(v, sc, OP_VERIFY, digest)))
		return rc;
	if (!signer || !*signer)
		signer = sc->caller_id; /* one's own signatures need no name */
	bound_digest(signer, digest, bound);
	t0 = cam_mono_ns();
	rc = cam_tpm_verify(t, bound, der, (size_t)der_len, sc->deadline_ns, &valid, err,
			    sizeof(err));
	if ((rc = finish(v, sc, OP_VERIFY, rc, t0, err)))
		return rc;
	cam_result_add(&sc->result, "valid", valid ? "true" : "false");
	cam_result_add(&sc->result, "signer", signer);
	to_hex(digest, 32, hex);
	cam_result_add(&sc->result, "digest", hex);
	return 0;
}

static int tpm_random(void *ctx, struct cam_syscall *sc)
{
	cam_security_verbs *v = ctx;
	const char *n_s = cam_payload_get(sc->payload, "bytes");
	uint8_t buf[CAM_TPM_RANDOM_MAX];
	char *hex, err[256], *end;
	long n = 32;
	int64_t t0;
	cam_tpm *t;
	int rc = 0;

	if (!(t = tpm_or_fail(v, sc, OP_RANDOM, &rc)))
		return rc;
	if (n_s && (n = strtol(n_s, &end, 10), *end || !*n_s || n < 1 || n > CAM_TPM_RANDOM_MAX)) {
		snprintf(err, sizeof(err), "bytes must be a number from 1 to %d", CAM_TPM_RANDOM_MAX);
		return refuse(v, sc, OP_RANDOM, CAM_EINVAL, err);
	}
	t0 = cam_mono_ns();
	rc = cam_tpm_random(t, buf, (size_t)n, sc->deadline_ns, err, sizeof(err));
	if ((rc = finish(v, sc, OP_RANDOM, rc, t0, err)))
		return rc;
	hex = cam_xmalloc(2 * (size_t)n + 1);
	to_hex(buf, (size_t)n, hex);
	cam_result_add(&sc->result, "random", hex);
	cam_result_addf(&sc->result, "bytes", "%ld", n);
	free(hex);
	set_out_data(sc, buf, (size_t)n);
	return 0;
}

static int tpm_pcr_read(void *ctx, struct cam_syscall *sc)
{
	cam_security_verbs *v = ctx;
	const char *sel = cam_payload_get(sc->payload, "pcrs");
	uint8_t vals[CAM_TPM_NPCRS][CAM_TPM_DIGEST_LEN];
	char hex[65], key[8], err[256];
	uint32_t mask;
	int64_t t0;
	cam_tpm *t;
	int rc = 0;

	if (!(t = tpm_or_fail(v, sc, OP_PCR_READ, &rc)))
		return rc;
	if (cam_tpm_parse_pcrs(sel ? sel : "all", &mask))
		return refuse(v, sc, OP_PCR_READ, CAM_EINVAL,
			      "pcrs must list PCRs 0-23: \"0,1,7\", \"0-7\" or \"all\"");
	t0 = cam_mono_ns();
	rc = cam_tpm_pcr_read(t, mask, sc->deadline_ns, vals, err, sizeof(err));
	if ((rc = finish(v, sc, OP_PCR_READ, rc, t0, err)))
		return rc;
	cam_result_add(&sc->result, "bank", "sha256");
	for (unsigned i = 0; i < CAM_TPM_NPCRS; i++) {
		if (!(mask & (1u << i)))
			continue;
		snprintf(key, sizeof(key), "pcr%u", i);
		to_hex(vals[i], CAM_TPM_DIGEST_LEN, hex);
		cam_result_add(&sc->result, key, hex);
	}
	return 0;
}

static int tpm_public_key(void *ctx, struct cam_syscall *sc)
{
	cam_security_verbs *v = ctx;
	char pem[CAM_TPM_PEM_MAX], err[256];
	uint32_t handle = 0;
	int64_t t0;
	cam_tpm *t;
	int rc = 0;

	if (!(t = tpm_or_fail(v, sc, OP_PUBLIC_KEY, &rc)))
		return rc;
	t0 = cam_mono_ns();
	rc = cam_tpm_public_key(t, sc->deadline_ns, pem, &handle, err, sizeof(err));
	if ((rc = finish(v, sc, OP_PUBLIC_KEY, rc, t0, err)))
		return rc;
	cam_result_add(&sc->result, "algorithm", "ecdsa-p256-sha256");
	if (handle)
		cam_result_addf(&sc->result, "handle", "0x%08x", handle);
	else
		cam_result_add(&sc->result, "handle", "transient");
	cam_result_add(&sc->result, "public_key_pem", pem);
	set_out_data(sc, pem, strlen(pem));
	return 0;
}

static int whoami(void *ctx, struct cam_syscall *sc)
{
	(void)ctx;
	cam_result_add(&sc->result, "caller_id", sc->caller_id);
	cam_result_add(&sc->result, "authenticated", sc->authenticated ? "true" : "false");
	cam_result_add(&sc->result, "identified_by", cam_identified_by_name(sc->identified_by));
	cam_result_addf(&sc->result, "scopes", "%s%s%s", sc->scopes & CAM_SCOPE_READ ? "read" : "",
			sc->scopes & CAM_SCOPE_WRITE ? "+write" : "",
			sc->scopes & CAM_SCOPE_ADMIN ? "+admin" : "");
	return 0;
}

/* "TPM Security": the TPM thread's cached state, no TPM round trip. */
static enum cam_component_status probe(void *arg, char *msg, size_t len)
{
	cam_tpm *t = arg;

	if (!t) {
		snprintf(msg, len, "no TPM configured (CAM_TPM_TCTI is unset)");
		return CAM_COMPONENT_DISABLED;
	}
	switch (cam_tpm_state(t, msg, len)) {
	case CAM_TPM_READY:
		return CAM_COMPONENT_HEALTHY;
	case CAM_TPM_CONNECTING:
		return CAM_COMPONENT_DEGRADED;
	default:
		return CAM_COMPONENT_UNHEALTHY;
	}
}

static const char *const K_NONE[] = { NULL };
static const char *const K_SIGN[] = { "message", "digest", NULL };
static const char *const K_VERIFY[] = { "message", "digest", "signature", "signer", NULL };
static const char *const K_RANDOM[] = { "bytes", NULL };
static const char *const K_PCR_READ[] = { "pcrs", NULL };

static const struct cam_verb rows[] = {
	{ .name = "whoami", .fn = whoami, .keys = K_NONE, .scope = CAM_SCOPE_READ },
	{ .name = "tpm_sign", .fn = tpm_sign, .keys = K_SIGN, .scope = CAM_SCOPE_WRITE,
	  .may_block = true },
	{ .name = "tpm_verify", .fn = tpm_verify, .keys = K_VERIFY, .scope = CAM_SCOPE_READ,
	  .may_block = true },
	{ .name = "tpm_random", .fn = tpm_random, .keys = K_RANDOM, .scope = CAM_SCOPE_READ,
	  .may_block = true },
	{ .name = "tpm_pcr_read", .fn = tpm_pcr_read, .keys = K_PCR_READ, .scope = CAM_SCOPE_READ,
	  .may_block = true },
	{ .name = "tpm_public_key", .fn = tpm_public_key, .keys = K_NONE, .scope = CAM_SCOPE_READ,
	  .may_block = true },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static int register_metrics(cam_security_verbs *v)
{
	cam_family *f[NMETRICS];
	char why[160];
	int rc = cam_metrics_table_register(metrics, NMETRICS, f, why, sizeof(why));

	if (rc) {
		cam_log(CAM_LOG_ERROR, "security", "%s", why);
		return rc;
	}
	v->operations = f[M_OPERATIONS];
	for (size_t i = 0; i < NOPS; i++)
		v->durations[i] = cam_series_get(f[M_DURATION], (const char *[]){ op_names[i] });
	return 0;
}

int cam_security_verbs_new(const struct cam_security_verbs_opts *o, cam_security_verbs **out)
{
	cam_security_verbs *v = cam_xcalloc(1, sizeof(*v));
	int rc;

	v->o = *o;
	if ((rc = register_metrics(v)) ||
	    (rc = cam_verbs_add(o->verbs, "security", rows, NROWS, v)))
		goto out_free;
	/* Without a TPM the probe still runs: it says "disabled" and why. */
	if (o->components && (rc = cam_components_set(o->components, "TPM Security", probe, o->tpm)))
		goto out_remove_rows;
	*out = v;
	return 0;
out_remove_rows:
	cam_verbs_remove(o->verbs, rows, NROWS);
out_free:
	free(v);
	return rc;
}

void cam_security_verbs_free(cam_security_verbs *v)
{
	if (!v)
		return;
	cam_components_clear(v->o.components, "TPM Security");
	cam_verbs_remove(v->o.verbs, rows, NROWS);
	free(v);
}
