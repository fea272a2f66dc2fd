/*
 * The TPM 2.0 behind the tpm_* verbs (tpm2-tss ESAPI).
 *
 * One cam_tpm owns one TCTI and one ESAPI context, and one thread of its
 * own runs every TPM command: a TPM is slow and stateful, so worker threads
 * hand it small jobs through a bounded queue and wait for the answer until
 * their deadline. At start (and after every reconnect) the thread loads the
 * ECC P-256 signing key from its persistent handle, or creates it as a
 * primary key under the owner hierarchy and persists it there.
 *
 * A TPM that is absent or goes away does not stop the kernel: calls answer
 * CAM_EUNAVAIL with the reason, and the thread reconnects in the background
 * (every retry_ms, and at once when a call finds it down). While connected
 * and idle it checks the TPM every ping_ms, so cam_tpm_state() reflects the
 * device without a round trip of its own.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_TPM_H
#define CAM_TPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cam_tpm cam_tpm;

#define CAM_TPM_DIGEST_LEN 32    /* SHA-256 */
#define CAM_TPM_SIG_MAX_DER 72   /* DER ECDSA P-256 signature, at most */
#define CAM_TPM_PEM_MAX 200      /* PEM SubjectPublicKeyInfo of a P-256 key */
#define CAM_TPM_RANDOM_MAX 1024  /* bytes one tpm_random may ask for */
#define CAM_TPM_NPCRS 24         /* PCRs 0-23 of the sha256 bank */
#define CAM_TPM_DEFAULT_KEY_HANDLE 0x81000CA0u

struct cam_tpm_opts {
	const char *tcti;        /* tpm2-tss TCTI string; copied */
	uint32_t key_handle;     /* persistent handle; 0: CAM_TPM_DEFAULT_KEY_HANDLE */
	unsigned timeout_ms;     /* one TPM command, and a job's longest wait; 0: 5000 */
	unsigned retry_ms;       /* reconnect period while down; 0: 1000 */
	unsigned ping_ms;        /* liveness check while idle; 0: 2000 */
	unsigned queue_max;      /* jobs waiting at most; 0: 64 */
	/* The owner hierarchy's authorization value, which creating and
	 * persisting the key need (copied; at most 64 bytes, more is
	 * CAM_EINVAL). NULL or 0 bytes: empty, a fresh TPM's default. */
	const void *owner_auth;
	size_t owner_auth_len;
};

enum cam_tpm_status {
	CAM_TPM_CONNECTING,      /* first connection not tried yet */
	CAM_TPM_READY,           /* connected, key loaded */
	CAM_TPM_DOWN,            /* not reachable or failed; retrying */
};

/*
 * Starts the TPM thread and makes the first connection attempt before
 * returning, so the log says at start whether the TPM is there. A TPM that
 * cannot be reached is not an error here (the thread keeps trying); returns
 * CAM_EINVAL for an empty TCTI string, CAM_EINTERNAL when the thread cannot
 * start. Free with cam_tpm_free.
 */
int cam_tpm_new(const struct cam_tpm_opts *o, cam_tpm **out);
/* Fails queued jobs with CAM_EUNAVAIL, stops the thread, closes the TPM.
 * No call may start after this begins. NULL is a no-op. */
void cam_tpm_free(cam_tpm *t);

/* The cached state and a message about it (msg has len bytes); quick, no
 * TPM round trip. */
enum cam_tpm_status cam_tpm_state(cam_tpm *t, char *msg, size_t len);

/*
 * The calls below run one TPM command on the TPM thread and wait for it
 * until deadline_ns (CLOCK_MONOTONIC; 0 = none), capped at timeout_ms.
 * Each returns 0 or a negative CAM_E* code, with a message in err (errlen
 * bytes): CAM_EUNAVAIL (no TPM, connection lost), CAM_ETIMEDOUT (deadline
 * or TPM timeout), CAM_ELIMIT (queue full), CAM_EINTERNAL (the TPM refused).
 */

/* ECDSA signature of a SHA-256 digest, DER encoded into der (*der_len out). */
int cam_tpm_sign(cam_tpm *t, const uint8_t digest[CAM_TPM_DIGEST_LEN], int64_t deadline_ns,
		 uint8_t der[CAM_TPM_SIG_MAX_DER], size_t *der_len, char *err, size_t errlen);
/* The TPM's clock (TPM2_ReadClock): ms the TPM has run since it was
 * made (it only goes forward, and is saved across power cycles), and how
 * often it was reset and restarted since. */
struct cam_tpm_clock {
	uint64_t clock_ms;
	uint32_t reset_count, restart_count;
	bool safe;
};
/* What cam_tpm_sign_clocked signs: SHA-256 of digest, then the clock as
 * 8 + 4 + 4 bytes big-endian (clock_ms, reset_count, restart_count). */
void cam_tpm_clocked_digest(const uint8_t digest[CAM_TPM_DIGEST_LEN],
			    const struct cam_tpm_clock *c, uint8_t out[CAM_TPM_DIGEST_LEN]);
/* Reads the TPM's clock and signs digest with it (in one job, so nothing
 * else runs between): *clock gets the clock signed. */
int cam_tpm_sign_clocked(cam_tpm *t, const uint8_t digest[CAM_TPM_DIGEST_LEN],
			 int64_t deadline_ns, uint8_t der[CAM_TPM_SIG_MAX_DER], size_t *der_len,
			 struct cam_tpm_clock *clock, char *err, size_t errlen);
/* Checks a DER signature of digest with the key; *valid says the outcome.
 * A malformed signature gives CAM_EINVAL. */
int cam_tpm_verify(cam_tpm *t, const uint8_t digest[CAM_TPM_DIGEST_LEN], const uint8_t *der,
		   size_t der_len, int64_t deadline_ns, bool *valid, char *err, size_t errlen);
/* n (1..CAM_TPM_RANDOM_MAX) random bytes from the TPM. */
int cam_tpm_random(cam_tpm *t, uint8_t *out, size_t n, int64_t deadline_ns, char *err,
		   size_t errlen);
/* The sha256-bank PCRs whose bit is set in mask (bit i = PCR i), into
 * values[i]. */
int cam_tpm_pcr_read(cam_tpm *t, uint32_t mask, int64_t deadline_ns,
		     uint8_t values[CAM_TPM_NPCRS][CAM_TPM_DIGEST_LEN], char *err, size_t errlen);
/* The signing key's public half as PEM (SubjectPublicKeyInfo), and its
 * persistent handle (0 when the key is transient). */
int cam_tpm_public_key(cam_tpm *t, int64_t deadline_ns, char pem[CAM_TPM_PEM_MAX],
		       uint32_t *handle, char *err, size_t errlen);

/* Encodings, shared with the verbs and the tests (tpm_codec.c). */

/* r and s (big-endian, any length up to 32 bytes) as a DER ECDSA-Sig-Value;
 * returns its length. */
size_t cam_tpm_sig_to_der(const uint8_t *r, size_t rlen, const uint8_t *s, size_t slen,
			  uint8_t der[CAM_TPM_SIG_MAX_DER]);
/* The reverse, into 32-byte big-endian r and s; 0 or CAM_EINVAL. */
int cam_tpm_sig_from_der(const uint8_t *der, size_t len, uint8_t r[32], uint8_t s[32]);
/* A P-256 point (32-byte x and y) as a PEM public key; returns its length. */
size_t cam_tpm_pem_p256(const uint8_t x[32], const uint8_t y[32], char pem[CAM_TPM_PEM_MAX]);
/* "0,1,7" or "0-7,10" or "all" into a mask of PCRs 0-23; 0 or CAM_EINVAL. */
int cam_tpm_parse_pcrs(const char *s, uint32_t *mask);

#endif
