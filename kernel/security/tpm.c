/*
 * The TPM thread: one TCTI, one ESAPI context, one signing key, and a
 * bounded queue of jobs from the worker threads (see tpm.h).
 *
 * Only the TPM thread touches the ESAPI context, so no two commands ever
 * interleave. Every command runs as _Async then _Finish with a short TCTI
 * timeout, repeated until the command answers or timeout_ms passes: the
 * synchronous ESAPI calls would block for ever on a TPM that stops
 * answering. A command that fails below the TPM (connection, timeout)
 * drops the context; the thread reconnects and reloads the key.
 *
 * A job is shared by its caller and the thread, so it is refcounted under
 * t->lock: a caller whose deadline passes marks it cancelled and leaves,
 * and whichever side lets go last frees it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/security/tpm.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/xmalloc.h"

#define SLICE_MS 100 /* TCTI wait of one _Finish before we look at the clock */
#define KICK_MIN_NS 200000000 /* reconnects a failing call may ask for: 5/s */

enum op {
	OP_SIGN,
	OP_SIGN_CLOCKED,
	OP_VERIFY,
	OP_RANDOM,
	OP_PCR_READ,
	OP_PUBLIC_KEY,
};

struct job {
	struct job *next;
	int refs;        /* under t->lock */
	bool done;       /* under t->lock */
	bool cancelled;  /* under t->lock */
	bool in_queue;   /* under t->lock */
	enum op op;
	int rc;
	char err[256];
	/* in */
	uint8_t digest[CAM_TPM_DIGEST_LEN];
	uint8_t r[32], s[32];
	size_t n;
	uint32_t mask;
	/* out */
	uint8_t der[CAM_TPM_SIG_MAX_DER];
	size_t der_len;
	bool valid;
	uint8_t bytes[CAM_TPM_RANDOM_MAX];
	uint8_t pcrs[CAM_TPM_NPCRS][CAM_TPM_DIGEST_LEN];
	char pem[CAM_TPM_PEM_MAX];
	uint32_t handle;
	struct cam_tpm_clock clock;
};

struct cam_tpm {
	char *conf;
	uint32_t key_handle;
	unsigned timeout_ms, retry_ms, ping_ms, queue_max;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock;
	pthread_cond_t wake;     /* to the thread: job, kick or stop */
	pthread_cond_t done;     /* to callers: a job is done */
	struct job *head, *tail; /* under lock */
	size_t queued;           /* under lock */
	bool stopping, kick;     /* under lock */
	enum cam_tpm_status status; /* under lock */
	char msg[384];           /* under lock: what status means now */
	int64_t busy_since;      /* under lock: a command started (0 = idle) */

	/* The TPM thread's own (and the opener's, before the thread starts). */
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR key;
	bool key_persistent;
	TPM2B_AUTH owner_auth;   /* set once, read by the TPM thread */
	uint8_t x[32], y[32];
	int64_t last_io, last_try;
};

static struct timespec to_timespec(int64_t ns)
{
	return (struct timespec){ .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
}

static void set_status(cam_tpm *t, enum cam_tpm_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_status(cam_tpm *t, enum cam_tpm_status st, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&t->lock);
	t->status = st;
	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&t->lock);
}

static void set_busy(cam_tpm *t, bool busy)
{
	pthread_mutex_lock(&t->lock);
	t->busy_since = busy ? cam_mono_ns() : 0;
	pthread_mutex_unlock(&t->lock);
}

static bool try_again(TSS2_RC rc)
{
	return (rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER &&
	       (rc & 0xffff) == TSS2_BASE_RC_TRY_AGAIN;
}

/* An answer from the TPM itself (as opposed to the link failing). */
static bool tpm_answered(TSS2_RC rc)
{
	return (rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER;
}

/* Runs one ESAPI command: _Async, then _Finish until it answers or
 * timeout_ms passes (then rc is a TRY_AGAIN code). */
#define TPM_RUN(t, rc, async_call, finish_call)                                    \
	do {                                                                       \
		int64_t until_ = cam_mono_ns() + (int64_t)(t)->timeout_ms * 1000000;   \
		set_busy((t), true);                                               \
		(rc) = (async_call);                                               \
		if (!(rc))                                                         \
			do                                                         \
				(rc) = (finish_call);                              \
			while (try_again(rc) && cam_mono_ns() < until_);               \
		set_busy((t), false);                                              \
		if (tpm_answered(rc))                                              \
			(t)->last_io = cam_mono_ns();                                  \
	} while (0)

#define NONE3 ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE
#define PW_NONE2 ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE

static void disconnect(cam_tpm *t)
{
	if (t->esys)
		Esys_Finalize(&t->esys);
	if (t->tcti)
		Tss2_TctiLdr_Finalize(&t->tcti);
	t->esys = NULL;
	t->tcti = NULL;
	t->key = ESYS_TR_NONE;
}

/*
 * A command failed with rc. A TPM answer is the TPM refusing (CAM_EINTERNAL);
 * anything else means the link is gone or stuck: drop it, mark the TPM down
 * and let the thread reconnect.
 */
static int failed(cam_tpm *t, TSS2_RC rc, const char *what, char *err, size_t errlen)
{
	if (tpm_answered(rc)) {
		/* TPM_RC_BAD_AUTH and TPM_RC_AUTH_FAIL carry a session number. */
		bool auth = (rc & TPM2_RC_FMT1) &&
			    ((rc & 0x3f) == (TPM2_RC_BAD_AUTH & 0x3f) ||
			     (rc & 0x3f) == (TPM2_RC_AUTH_FAIL & 0x3f));

		if (auth)
			snprintf(err, errlen, "TPM refused %s: the owner hierarchy has an "
				 "authorization value, set CAM_TPM_OWNER_AUTH_FILE (%s)", what,
				 Tss2_RC_Decode(rc));
		else
			snprintf(err, errlen, "TPM refused %s: %s", what, Tss2_RC_Decode(rc));
		return CAM_EINTERNAL;
	}
	disconnect(t);
	if (try_again(rc)) {
		snprintf(err, errlen, "TPM did not answer %s within %u ms", what, t->timeout_ms);
		set_status(t, CAM_TPM_DOWN, "TPM at %s stopped answering (%s); reconnecting",
			   t->conf, what);
		cam_log(CAM_LOG_WARN, "tpm", "TPM at %s did not answer %s within %u ms", t->conf,
			what, t->timeout_ms);
		return CAM_ETIMEDOUT;
	}
	snprintf(err, errlen, "TPM connection lost during %s: %s", what, Tss2_RC_Decode(rc));
	set_status(t, CAM_TPM_DOWN, "TPM at %s lost: %s; reconnecting", t->conf,
		   Tss2_RC_Decode(rc));
	cam_log(CAM_LOG_WARN, "tpm", "TPM at %s lost during %s: %s", t->conf, what,
		Tss2_RC_Decode(rc));
	return CAM_EUNAVAIL;
}

/* The key template: ECC P-256, unrestricted signing, ECDSA with SHA-256. */
static TPM2B_PUBLIC key_template(void)
{
	TPM2B_PUBLIC p = { 0 };

	p.publicArea.type = TPM2_ALG_ECC;
	p.publicArea.nameAlg = TPM2_ALG_SHA256;
	p.publicArea.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |
					TPMA_OBJECT_FIXEDPARENT |
					TPMA_OBJECT_SENSITIVEDATAORIGIN |
					TPMA_OBJECT_USERWITHAUTH;
	p.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	p.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
	p.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	p.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	p.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	return p;
}

/* Is this public area a key made from our template? */
static bool is_our_key(const TPMT_PUBLIC *p)
{
	const TPMS_ECC_PARMS *e = &p->parameters.eccDetail;

	return p->type == TPM2_ALG_ECC && e->curveID == TPM2_ECC_NIST_P256 &&
	       e->scheme.scheme == TPM2_ALG_ECDSA &&
	       e->scheme.details.ecdsa.hashAlg == TPM2_ALG_SHA256 &&
	       (p->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) &&
	       !(p->objectAttributes & TPMA_OBJECT_RESTRICTED) &&
	       (p->objectAttributes & TPMA_OBJECT_USERWITHAUTH) &&
	       p->authPolicy.size == 0 && p->unique.ecc.x.size <= 32 &&
	       p->unique.ecc.y.size <= 32;
}

static void keep_point(cam_tpm *t, const TPMT_PUBLIC *p)
{
	const TPM2B_ECC_PARAMETER *x = &p->unique.ecc.x, *y = &p->unique.ecc.y;

	memset(t->x, 0, 32);
	memset(t->y, 0, 32);
	memcpy(t->x + 32 - x->size, x->buffer, x->size);
	memcpy(t->y + 32 - y->size, y->buffer, y->size);
}

/* Loads the key at the persistent handle; 1 when there is none there. */
static int load_persistent(cam_tpm *t, char *err, size_t errlen)
{
	TPM2B_PUBLIC *pub = NULL;
	ESYS_TR tr = ESYS_TR_NONE;
	TSS2_RC rc;
	int ret = 0;

	TPM_RUN(t, rc, Esys_TR_FromTPMPublic_Async(t->esys, t->key_handle, NONE3),
		Esys_TR_FromTPMPublic_Finish(t->esys, &tr));
	if (rc)
		return tpm_answered(rc) ? 1 : failed(t, rc, "loading the key", err, errlen);
	TPM_RUN(t, rc, Esys_ReadPublic_Async(t->esys, tr, NONE3),
		Esys_ReadPublic_Finish(t->esys, &pub, NULL, NULL));
	if (rc) {
		ret = failed(t, rc, "reading the key", err, errlen);
		goto out_close;
	}
	if (!is_our_key(&pub->publicArea)) {
		cam_log(CAM_LOG_WARN, "tpm",
			"persistent handle 0x%08x holds another kind of object; using a transient key",
			t->key_handle);
		ret = 2;
		goto out_close;
	}
	keep_point(t, &pub->publicArea);
	t->key = tr;
	t->key_persistent = true;
	Esys_Free(pub);
	return 0;
out_close:
	Esys_Free(pub);
	if (t->esys)
		Esys_TR_Close(t->esys, &tr);
	return ret;
}

/* Creates the key as a primary under the owner hierarchy (the same seed and
 * template give the same key) and, when persist, makes it persistent. */
static int create_key(cam_tpm *t, bool persist, char *err, size_t errlen)
{
	TPM2B_SENSITIVE_CREATE sens = { 0 };
	TPM2B_PUBLIC tmpl = key_template(), *pub = NULL;
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION pcrs = { 0 };
	ESYS_TR tr = ESYS_TR_NONE, ptr = ESYS_TR_NONE;
	TSS2_RC rc;

	TPM_RUN(t, rc,
		Esys_CreatePrimary_Async(t->esys, ESYS_TR_RH_OWNER, PW_NONE2, &sens, &tmpl,
					 &outside, &pcrs),
		Esys_CreatePrimary_Finish(t->esys, &tr, &pub, NULL, NULL, NULL));
	if (rc)
		return failed(t, rc, "creating the key", err, errlen);
	keep_point(t, &pub->publicArea);
	Esys_Free(pub);
	t->key = tr;
	t->key_persistent = false;
	if (!persist)
		return 0;
	TPM_RUN(t, rc,
		Esys_EvictControl_Async(t->esys, ESYS_TR_RH_OWNER, tr, PW_NONE2, t->key_handle),
		Esys_EvictControl_Finish(t->esys, &ptr));
	if (rc && !tpm_answered(rc))
		return failed(t, rc, "persisting the key", err, errlen);
	if (rc) {
		cam_log(CAM_LOG_WARN, "tpm", "cannot persist the key at 0x%08x (%s); using it transient",
			t->key_handle, Tss2_RC_Decode(rc));
		return 0;
	}
	TPM_RUN(t, rc, Esys_FlushContext_Async(t->esys, tr), Esys_FlushContext_Finish(t->esys));
	if (rc && !tpm_answered(rc))
		return failed(t, rc, "flushing the transient key", err, errlen);
	t->key = ptr;
	t->key_persistent = true;
	return 0;
}

/* Opens the TCTI, starts the TPM if needed and loads or creates the key. */
static int connect_tpm(cam_tpm *t)
{
	char err[256];
	TSS2_RC rc;
	int ret;

	disconnect(t);
	t->last_try = cam_mono_ns();
	rc = Tss2_TctiLdr_Initialize(t->conf, &t->tcti);
	if (rc) {
		t->tcti = NULL;
		set_status(t, CAM_TPM_DOWN, "cannot reach the TPM at %s (%s); retrying every %u ms",
			   t->conf, Tss2_RC_Decode(rc), t->retry_ms);
		return CAM_EUNAVAIL;
	}
	rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc) {
		t->esys = NULL;
		disconnect(t);
		set_status(t, CAM_TPM_DOWN, "cannot start ESAPI on %s (%s); retrying", t->conf,
			   Tss2_RC_Decode(rc));
		return CAM_EUNAVAIL;
	}
	Esys_SetTimeout(t->esys, SLICE_MS);
	/* Local to this ESYS context: no TPM command. */
	rc = Esys_TR_SetAuth(t->esys, ESYS_TR_RH_OWNER, &t->owner_auth);
	if (rc) {
		ret = failed(t, rc, "setting the owner authorization", err, sizeof(err));
		goto out_fail;
	}
	TPM_RUN(t, rc, Esys_Startup_Async(t->esys, TPM2_SU_CLEAR), Esys_Startup_Finish(t->esys));
	if (rc && rc != TPM2_RC_INITIALIZE) {
		ret = failed(t, rc, "startup", err, sizeof(err));
		goto out_fail;
	}
	ret = load_persistent(t, err, sizeof(err));
	if (ret > 0)
		ret = create_key(t, ret == 1, err, sizeof(err));
	if (ret)
		goto out_fail;
	set_status(t, CAM_TPM_READY, "TPM at %s ready; ECC P-256 signing key %s 0x%08x", t->conf,
		   t->key_persistent ? "persistent at" : "transient, persistent handle taken:",
		   t->key_handle);
	cam_log(CAM_LOG_INFO, "tpm", "TPM at %s ready; signing key %s 0x%08x", t->conf,
		t->key_persistent ? "at persistent handle" : "transient (handle taken)",
		t->key_handle);
	return 0;
out_fail:
	disconnect(t);
	set_status(t, CAM_TPM_DOWN, "TPM at %s: %s; retrying every %u ms", t->conf, err,
		   t->retry_ms);
	return ret;
}

/* A cheap command that proves the TPM still answers. */
static void ping(cam_tpm *t)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	char err[200];
	TSS2_RC rc;

	TPM_RUN(t, rc,
		Esys_GetCapability_Async(t->esys, NONE3, TPM2_CAP_TPM_PROPERTIES,
					 TPM2_PT_MANUFACTURER, 1),
		Esys_GetCapability_Finish(t->esys, NULL, &cap));
	Esys_Free(cap);
	if (rc)
		failed(t, rc, "a liveness check", err, sizeof(err));
}

static int do_sign(cam_tpm *t, struct job *j)
{
	TPM2B_DIGEST dg = { .size = CAM_TPM_DIGEST_LEN };
	TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_ECDSA };
	TPMT_TK_HASHCHECK check = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	TPMT_SIGNATURE *sig = NULL;
	TSS2_RC rc;

	scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	memcpy(dg.buffer, j->digest, CAM_TPM_DIGEST_LEN);
	TPM_RUN(t, rc, Esys_Sign_Async(t->esys, t->key, PW_NONE2, &dg, &scheme, &check),
		Esys_Sign_Finish(t->esys, &sig));
	if (rc)
		return failed(t, rc, "sign", j->err, sizeof(j->err));
	j->der_len = cam_tpm_sig_to_der(sig->signature.ecdsa.signatureR.buffer,
					sig->signature.ecdsa.signatureR.size,
					sig->signature.ecdsa.signatureS.buffer,
					sig->signature.ecdsa.signatureS.size, j->der);
	Esys_Free(sig);
	return 0;
}

/* Reads the TPM's clock, then signs SHA-256(digest || clock): what is
 * signed says when, by the TPM's own clock (cam_tpm_clocked_digest). */
static int do_sign_clocked(cam_tpm *t, struct job *j)
{
	TPMS_TIME_INFO *ti = NULL;
	TSS2_RC rc;

	TPM_RUN(t, rc, Esys_ReadClock_Async(t->esys, NONE3), Esys_ReadClock_Finish(t->esys, &ti));
	if (rc)
		return failed(t, rc, "read clock", j->err, sizeof(j->err));
	j->clock = (struct cam_tpm_clock){ ti->clockInfo.clock, ti->clockInfo.resetCount,
					   ti->clockInfo.restartCount, ti->clockInfo.safe != 0 };
	Esys_Free(ti);
	cam_tpm_clocked_digest(j->digest, &j->clock, j->digest);
	return do_sign(t, j);
}

static int do_verify(cam_tpm *t, struct job *j)
{
	TPM2B_DIGEST dg = { .size = CAM_TPM_DIGEST_LEN };
	TPMT_SIGNATURE sig = { .sigAlg = TPM2_ALG_ECDSA };
	TPMT_TK_VERIFIED *ticket = NULL;
	TSS2_RC rc;

	memcpy(dg.buffer, j->digest, CAM_TPM_DIGEST_LEN);
	sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
	sig.signature.ecdsa.signatureR.size = 32;
	sig.signature.ecdsa.signatureS.size = 32;
	memcpy(sig.signature.ecdsa.signatureR.buffer, j->r, 32);
	memcpy(sig.signature.ecdsa.signatureS.buffer, j->s, 32);
	TPM_RUN(t, rc, Esys_VerifySignature_Async(t->esys, t->key, NONE3, &dg, &sig),
		Esys_VerifySignature_Finish(t->esys, &ticket));
	Esys_Free(ticket);
	j->valid = rc == 0;
	/* A signature that does not verify is an answer, not a failure. */
	if (tpm_answered(rc) && (rc & TPM2_RC_FMT1) &&
	    (rc & (TPM2_RC_FMT1 | 0x3f)) == TPM2_RC_SIGNATURE)
		return 0;
	return rc ? failed(t, rc, "verify", j->err, sizeof(j->err)) : 0;
}

static int do_random(cam_tpm *t, struct job *j)
{
	size_t got = 0;

	while (got < j->n) {
		TPM2B_DIGEST *r = NULL;
		size_t want = j->n - got < 32 ? j->n - got : 32;
		TSS2_RC rc;

		TPM_RUN(t, rc, Esys_GetRandom_Async(t->esys, NONE3, (UINT16)want),
			Esys_GetRandom_Finish(t->esys, &r));
		if (rc)
			return failed(t, rc, "get random", j->err, sizeof(j->err));
		if (r->size == 0) {
			Esys_Free(r);
			snprintf(j->err, sizeof(j->err), "the TPM returned no random bytes");
			return CAM_EINTERNAL;
		}
		if (r->size > want)
			r->size = (UINT16)want;
		memcpy(j->bytes + got, r->buffer, r->size);
		got += r->size;
		Esys_Free(r);
	}
	return 0;
}

/* Reads the PCRs in j->mask; the TPM returns at most 8 per command. */
static int do_pcr_read(cam_tpm *t, struct job *j)
{
	uint32_t left = j->mask;

	while (left) {
		TPML_PCR_SELECTION sel = { .count = 1 }, *out = NULL;
		TPML_DIGEST *vals = NULL;
		uint32_t counter, got = 0;
		size_t k = 0;
		TSS2_RC rc;

		sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
		sel.pcrSelections[0].sizeofSelect = 3;
		for (unsigned b = 0; b < 3; b++)
			sel.pcrSelections[0].pcrSelect[b] = (uint8_t)(left >> (8 * b));
		TPM_RUN(t, rc, Esys_PCR_Read_Async(t->esys, NONE3, &sel),
			Esys_PCR_Read_Finish(t->esys, &counter, &out, &vals));
		if (rc)
			return failed(t, rc, "PCR read", j->err, sizeof(j->err));
		for (unsigned i = 0; i < CAM_TPM_NPCRS && out->count == 1; i++) {
			if (!(out->pcrSelections[0].pcrSelect[i / 8] & (1u << (i % 8))) ||
			    k >= vals->count)
				continue;
			if (vals->digests[k].size == CAM_TPM_DIGEST_LEN && (left & (1u << i))) {
				memcpy(j->pcrs[i], vals->digests[k].buffer, CAM_TPM_DIGEST_LEN);
				got |= 1u << i;
			}
			k++;
		}
		Esys_Free(out);
		Esys_Free(vals);
		if (!got) {
			snprintf(j->err, sizeof(j->err),
				 "the TPM returned no sha256 PCR values (is the sha256 bank allocated?)");
			return CAM_EINTERNAL;
		}
		left &= ~got;
	}
	return 0;
}

static void run_job_once(cam_tpm *t, struct job *j)
{
	if (!t->esys) {
		pthread_mutex_lock(&t->lock);
		snprintf(j->err, sizeof(j->err), "TPM unavailable: %.230s", t->msg);
		pthread_mutex_unlock(&t->lock);
		j->rc = CAM_EUNAVAIL;
		return;
	}
	switch (j->op) {
	case OP_SIGN:
		j->rc = do_sign(t, j);
		break;
	case OP_SIGN_CLOCKED:
		j->rc = do_sign_clocked(t, j);
		break;
	case OP_VERIFY:
		j->rc = do_verify(t, j);
		break;
	case OP_RANDOM:
		j->rc = do_random(t, j);
		break;
	case OP_PCR_READ:
		j->rc = do_pcr_read(t, j);
		break;
	case OP_PUBLIC_KEY:
		cam_tpm_pem_p256(t->x, t->y, j->pem);
		j->handle = t->key_persistent ? t->key_handle : 0;
		j->rc = 0;
		break;
	}
}

/*
 * Runs j; when the link broke under it (a TPM restarted, or swtpm serving
 * another client, which closes ours), reconnects and runs it once more:
 * every job is safe to repeat. A timeout is not retried.
 */
static void run_job(cam_tpm *t, struct job *j)
{
	bool had_link = t->esys != NULL;

	run_job_once(t, j);
	if (j->rc == CAM_EUNAVAIL && had_link && !t->esys && connect_tpm(t) == 0)
		run_job_once(t, j);
}

/* Drops one reference; the last one frees. Called with t->lock held. */
static void job_put_locked(struct job *j)
{
	if (--j->refs == 0)
		free(j);
}

/* What the thread should do next when no job waits: 1 reconnect, 2 ping,
 * 0 sleep until *wake_at. Called with t->lock held. */
static int idle_action(cam_tpm *t, int64_t *wake_at)
{
	int64_t now = cam_mono_ns();

	if (t->status != CAM_TPM_READY) {
		/* A call found the TPM down: try now, but not more than 5 times a second. */
		int64_t soon = t->last_try + KICK_MIN_NS;

		*wake_at = t->last_try + (int64_t)t->retry_ms * 1000000;
		if (t->kick && soon < *wake_at)
			*wake_at = soon;
		return now >= *wake_at ? 1 : 0;
	}
	*wake_at = t->last_io + (int64_t)t->ping_ms * 1000000;
	return now >= *wake_at ? 2 : 0;
}

static void *tpm_thread(void *arg)
{
	cam_tpm *t = arg;

	pthread_mutex_lock(&t->lock);
	while (!t->stopping) {
		struct job *j = t->head;
		int64_t wake_at;
		int action;

		if (j) {
			t->head = j->next;
			if (!t->head)
				t->tail = NULL;
			t->queued--;
			j->in_queue = false;
			if (j->cancelled) {
				job_put_locked(j);
				continue;
			}
			pthread_mutex_unlock(&t->lock);
			run_job(t, j);
			pthread_mutex_lock(&t->lock);
			j->done = true;
			pthread_cond_broadcast(&t->done);
			job_put_locked(j);
			continue;
		}
		action = idle_action(t, &wake_at);
		if (action) {
			t->kick = false;
			pthread_mutex_unlock(&t->lock);
			if (action == 1)
				connect_tpm(t);
			else
				ping(t);
			pthread_mutex_lock(&t->lock);
			continue;
		}
		struct timespec ts = to_timespec(wake_at);
		pthread_cond_timedwait(&t->wake, &t->lock, &ts);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* Takes a job the thread has not started off the queue (and drops the
 * queue's reference). Called with t->lock held. */
static void unqueue(cam_tpm *t, struct job *j)
{
	struct job **pp = &t->head, *prev = NULL;

	if (!j->in_queue)
		return;
	while (*pp != j) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	*pp = j->next;
	if (t->tail == j)
		t->tail = prev;
	t->queued--;
	j->in_queue = false;
	job_put_locked(j);
}

/*
 * Queues j and waits for it until deadline_ns (capped at timeout_ms).
 * Returns 0 when the thread ran it (its rc and outputs are then in j), or a
 * CAM_E* code with err written when it never ran or ran too long. Either way
 * the caller still holds its reference and must call job_put.
 */
static int submit(cam_tpm *t, struct job *j, int64_t deadline_ns, char *err, size_t errlen)
{
	int64_t limit = cam_mono_ns() + (int64_t)t->timeout_ms * 1000000;
	int ret = 0;

	if (deadline_ns && deadline_ns < limit)
		limit = deadline_ns;
	if (limit <= cam_mono_ns()) {
		snprintf(err, errlen, "the call's deadline passed before the TPM was asked");
		return CAM_ETIMEDOUT;
	}
	pthread_mutex_lock(&t->lock);
	if (t->stopping || t->status != CAM_TPM_READY) {
		snprintf(err, errlen, "TPM unavailable: %s", t->msg);
		t->kick = true;
		pthread_cond_signal(&t->wake);
		ret = CAM_EUNAVAIL;
		goto out_unlock;
	}
	if (t->busy_since && cam_mono_ns() - t->busy_since > (int64_t)t->timeout_ms * 1000000) {
		snprintf(err, errlen, "TPM unavailable: the TPM at %s has not answered a command for %.1f s",
			 t->conf, (double)(cam_mono_ns() - t->busy_since) / 1e9);
		ret = CAM_EUNAVAIL;
		goto out_unlock;
	}
	if (t->queued >= t->queue_max) {
		snprintf(err, errlen, "TPM busy: %zu calls already waiting for it", t->queued);
		ret = CAM_ELIMIT;
		goto out_unlock;
	}
	j->refs++;
	if (t->tail)
		t->tail->next = j;
	else
		t->head = j;
	t->tail = j;
	t->queued++;
	j->in_queue = true;
	pthread_cond_signal(&t->wake);
	while (!j->done) {
		struct timespec ts = to_timespec(limit);

		if (pthread_cond_timedwait(&t->done, &t->lock, &ts) == ETIMEDOUT && !j->done) {
			j->cancelled = true;
			unqueue(t, j);
			snprintf(err, errlen, "no answer from the TPM within %s",
				 limit == deadline_ns ? "the call's deadline" : "the TPM timeout");
			ret = CAM_ETIMEDOUT;
			break;
		}
	}
out_unlock:
	pthread_mutex_unlock(&t->lock);
	return ret;
}

static struct job *job_new(enum op op)
{
	struct job *j = cam_xcalloc(1, sizeof(*j));

	j->op = op;
	j->refs = 1;
	return j;
}

static void job_put(cam_tpm *t, struct job *j)
{
	pthread_mutex_lock(&t->lock);
	job_put_locked(j);
	pthread_mutex_unlock(&t->lock);
}

/* Submits j and returns its outcome (0 when its outputs can be read). */
static int run(cam_tpm *t, struct job *j, int64_t deadline_ns, char *err, size_t errlen)
{
	int rc = submit(t, j, deadline_ns, err, errlen);

	if (rc)
		return rc;
	if (j->rc)
		snprintf(err, errlen, "%s", j->err);
	return j->rc;
}

int cam_tpm_sign(cam_tpm *t, const uint8_t digest[CAM_TPM_DIGEST_LEN], int64_t deadline_ns,
		 uint8_t der[CAM_TPM_SIG_MAX_DER], size_t *der_len, char *err, size_t errlen)
{
	struct job *j = job_new(OP_SIGN);
	int rc;

	memcpy(j->digest, digest, CAM_TPM_DIGEST_LEN);
	rc = run(t, j, deadline_ns, err, errlen);
	if (!rc) {
		memcpy(der, j->der, j->der_len);
		*der_len = j->der_len;
	}
	job_put(t, j);
	return rc;
}

int cam_tpm_sign_clocked(cam_tpm *t, const uint8_t digest[CAM_TPM_DIGEST_LEN],
			 int64_t deadline_ns, uint8_t der[CAM_TPM_SIG_MAX_DER], size_t *der_len,
			 struct cam_tpm_clock *clock, char *err, size_t errlen)
{
	struct job *j = job_new(OP_SIGN_CLOCKED);
	int rc;

	memcpy(j->digest, digest, CAM_TPM_DIGEST_LEN);
	rc = run(t, j, deadline_ns, err, errlen);
	if (!rc) {
		memcpy(der, j->der, j->der_len);
		*der_len = j->der_len;
		*clock = j->clock;
	}
	job_put(t, j);
	return rc;
}

int cam_tpm_verify(cam_tpm *t, const uint8_t digest[CAM_TPM_DIGEST_LEN], const uint8_t *der,
		   size_t der_len, int64_t deadline_ns, bool *valid, char *err, size_t errlen)
{
	struct job *j = job_new(OP_VERIFY);
	int rc;

	memcpy(j->digest, digest, CAM_TPM_DIGEST_LEN);
	if (cam_tpm_sig_from_der(der, der_len, j->r, j->s)) {
		snprintf(err, errlen, "signature is not a DER ECDSA signature of a P-256 key");
		rc = CAM_EINVAL;
		goto out_put;
	}
	rc = run(t, j, deadline_ns, err, errlen);
	if (!rc)
		*valid = j->valid;
out_put:
	job_put(t, j);
	return rc;
}

int cam_tpm_random(cam_tpm *t, uint8_t *out, size_t n, int64_t deadline_ns, char *err,
		   size_t errlen)
{
	struct job *j;
	int rc;

	if (n == 0 || n > CAM_TPM_RANDOM_MAX) {
		snprintf(err, errlen, "random size must be 1-%d bytes", CAM_TPM_RANDOM_MAX);
		return CAM_EINVAL;
	}
	j = job_new(OP_RANDOM);
	j->n = n;
	rc = run(t, j, deadline_ns, err, errlen);
	if (!rc)
		memcpy(out, j->bytes, n);
	job_put(t, j);
	return rc;
}

int cam_tpm_pcr_read(cam_tpm *t, uint32_t mask, int64_t deadline_ns,
		     uint8_t values[CAM_TPM_NPCRS][CAM_TPM_DIGEST_LEN], char *err, size_t errlen)
{
	struct job *j;
	int rc;

	mask &= (1u << CAM_TPM_NPCRS) - 1;
	if (!mask) {
		snprintf(err, errlen, "no PCR selected");
		return CAM_EINVAL;
	}
	j = job_new(OP_PCR_READ);
	j->mask = mask;
	rc = run(t, j, deadline_ns, err, errlen);
	if (!rc)
		memcpy(values, j->pcrs, sizeof(j->pcrs));
	job_put(t, j);
	return rc;
}

int cam_tpm_public_key(cam_tpm *t, int64_t deadline_ns, char pem[CAM_TPM_PEM_MAX],
		       uint32_t *handle, char *err, size_t errlen)
{
	struct job *j = job_new(OP_PUBLIC_KEY);
	int rc = run(t, j, deadline_ns, err, errlen);

	if (!rc) {
		memcpy(pem, j->pem, CAM_TPM_PEM_MAX);
		*handle = j->handle;
	}
	job_put(t, j);
	return rc;
}

enum cam_tpm_status cam_tpm_state(cam_tpm *t, char *msg, size_t len)
{
	enum cam_tpm_status st;
	int64_t busy;

	pthread_mutex_lock(&t->lock);
	st = t->status;
	busy = t->busy_since ? cam_mono_ns() - t->busy_since : 0;
	if (st == CAM_TPM_READY && busy > (int64_t)t->timeout_ms * 1000000) {
		st = CAM_TPM_DOWN;
		snprintf(msg, len, "TPM at %s has not answered a command for %.1f s", t->conf,
			 (double)busy / 1e9);
	} else {
		snprintf(msg, len, "%s", t->msg);
	}
	pthread_mutex_unlock(&t->lock);
	return st;
}

int cam_tpm_new(const struct cam_tpm_opts *o, cam_tpm **out)
{
	pthread_condattr_t ca;
	cam_tpm *t;

	*out = NULL;
	if (!o->tcti || !*o->tcti || o->owner_auth_len > sizeof(((TPM2B_AUTH *)0)->buffer))
		return CAM_EINVAL;
	/* tpm2-tss logs are silenced in main() (TSS2_LOG), before threads. */
	t = cam_xcalloc(1, sizeof(*t));
	if (o->owner_auth_len) {
		t->owner_auth.size = (UINT16)o->owner_auth_len;
		memcpy(t->owner_auth.buffer, o->owner_auth, o->owner_auth_len);
	}
	t->conf = cam_xstrdup(o->tcti);
	t->key_handle = o->key_handle ? o->key_handle : CAM_TPM_DEFAULT_KEY_HANDLE;
	t->timeout_ms = o->timeout_ms ? o->timeout_ms : 5000;
	t->retry_ms = o->retry_ms ? o->retry_ms : 1000;
	t->ping_ms = o->ping_ms ? o->ping_ms : 2000;
	t->queue_max = o->queue_max ? o->queue_max : 64;
	t->key = ESYS_TR_NONE;
	t->status = CAM_TPM_CONNECTING;
	snprintf(t->msg, sizeof(t->msg), "connecting to the TPM at %s", t->conf);
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &ca);
	pthread_cond_init(&t->done, &ca);
	pthread_condattr_destroy(&ca);

	if (connect_tpm(t))
		cam_log(CAM_LOG_WARN, "tpm", "%s", t->msg);
	if (pthread_create(&t->thread, NULL, tpm_thread, t)) {
		cam_tpm_free(t);
		return CAM_EINTERNAL;
	}
	t->thread_started = true;
	*out = t;
	return 0;
}

void cam_tpm_free(cam_tpm *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	if (t->thread_started)
		pthread_join(t->thread, NULL);
	/* Jobs nobody ran: their callers are gone or told the TPM is gone. */
	while (t->head) {
		struct job *j = t->head;

		t->head = j->next;
		j->rc = CAM_EUNAVAIL;
		snprintf(j->err, sizeof(j->err), "TPM closed: the kernel is stopping");
		pthread_mutex_lock(&t->lock);
		j->done = true;
		pthread_cond_broadcast(&t->done);
		job_put_locked(j);
		pthread_mutex_unlock(&t->lock);
	}
	disconnect(t);
	pthread_cond_destroy(&t->wake);
	pthread_cond_destroy(&t->done);
	pthread_mutex_destroy(&t->lock);
	explicit_bzero(&t->owner_auth, sizeof(t->owner_auth));
	free(t->conf);
	free(t);
}
