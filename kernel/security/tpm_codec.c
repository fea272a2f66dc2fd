/*
 * The encodings the TPM verbs speak: DER ECDSA signatures (what openssl
 * and every X.509 tool expect), PEM public keys of P-256 points, and PCR
 * lists. Pure functions with no TPM behind them, so unit tests reach them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/security/tpm.h"

#include <openssl/sha.h>

#include <stdlib.h>
#include <string.h>

#include "common/audit_chain.h"
#include "common/error.h"

/* DER INTEGER of an unsigned big-endian number; returns bytes written. */
static size_t der_uint(const uint8_t *v, size_t len, uint8_t *out)
{
	size_t n = 0;

	while (len > 1 && v[0] == 0) {
		v++;
		len--;
	}
	out[n++] = 0x02;
	out[n++] = (uint8_t)(len + (len && (v[0] & 0x80)));
	if (len == 0) {
		out[1] = 1;
		out[n++] = 0;
		return n;
	}
	if (v[0] & 0x80)
		out[n++] = 0;
	memcpy(out + n, v, len);
	return n + len;
}

size_t cam_tpm_sig_to_der(const uint8_t *r, size_t rlen, const uint8_t *s, size_t slen,
			  uint8_t der[CAM_TPM_SIG_MAX_DER])
{
	size_t n = 2;

	if (rlen > 32)
		rlen = 32;
	if (slen > 32)
		slen = 32;
	n += der_uint(r, rlen, der + n);
	n += der_uint(s, slen, der + n);
	der[0] = 0x30;
	der[1] = (uint8_t)(n - 2);
	return n;
}

/* One DER INTEGER at *p (minimal, positive, at most 32 significant bytes)
 * into a 32-byte big-endian out; advances *p. */
static int read_uint(const uint8_t **p, const uint8_t *end, uint8_t out[32])
{
	const uint8_t *q = *p;
	size_t len;

	if (end - q < 3 || q[0] != 0x02 || q[1] & 0x80)
		return CAM_EINVAL;
	len = q[1];
	q += 2;
	if (len == 0 || (size_t)(end - q) < len || q[0] & 0x80)
		return CAM_EINVAL;
	if (len > 1 && q[0] == 0 && !(q[1] & 0x80))
		return CAM_EINVAL; /* not minimal */
	if (q[0] == 0 && len > 1) {
		q++;
		len--;
	}
	if (len > 32)
		return CAM_EINVAL;
	memset(out, 0, 32);
	memcpy(out + 32 - len, q, len);
	*p = q + len;
	return 0;
}

int cam_tpm_sig_from_der(const uint8_t *der, size_t len, uint8_t r[32], uint8_t s[32])
{
	const uint8_t *p = der, *end = der + len;

	if (len < 8 || len > CAM_TPM_SIG_MAX_DER || der[0] != 0x30 || der[1] != len - 2)
		return CAM_EINVAL;
	p += 2;
	if (read_uint(&p, end, r) || read_uint(&p, end, s) || p != end)
		return CAM_EINVAL;
	return 0;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with padding; returns characters written (no NUL). */
static size_t base64(const uint8_t *in, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[n++] = B64[(v >> 18) & 63];
		out[n++] = B64[(v >> 12) & 63];
		out[n++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
		out[n++] = i + 2 < len ? B64[v & 63] : '=';
	}
	return n;
}

size_t cam_tpm_pem_p256(const uint8_t x[32], const uint8_t y[32], char pem[CAM_TPM_PEM_MAX])
{
	/* SubjectPublicKeyInfo { id-ecPublicKey, prime256v1 }, BIT STRING 04||x||y */
	static const uint8_t prefix[] = { 0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86,
					  0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
					  0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03,
					  0x42, 0x00, 0x04 };
	static const char head[] = "-----BEGIN PUBLIC KEY-----\n";
	static const char tail[] = "-----END PUBLIC KEY-----\n";
	uint8_t der[sizeof(prefix) + 64];
	char b64[128];
	size_t n = 0, blen;

	memcpy(der, prefix, sizeof(prefix));
	memcpy(der + sizeof(prefix), x, 32);
	memcpy(der + sizeof(prefix) + 32, y, 32);
	blen = base64(der, sizeof(der), b64);
	memcpy(pem, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	for (size_t i = 0; i < blen; i += 64) {
		size_t line = blen - i < 64 ? blen - i : 64;

		memcpy(pem + n, b64 + i, line);
		n += line;
		pem[n++] = '\n';
	}
	memcpy(pem + n, tail, sizeof(tail));
	return n + sizeof(tail) - 1;
}

/* A PCR index 0-23 at *s; advances *s. */
static int pcr_index(const char **s, unsigned *out)
{
	char *end;
	long v;

	if (**s < '0' || **s > '9')
		return CAM_EINVAL;
	v = strtol(*s, &end, 10);
	if (v < 0 || v >= CAM_TPM_NPCRS || end - *s > 2)
		return CAM_EINVAL;
	*s = end;
	*out = (unsigned)v;
	return 0;
}

int cam_tpm_parse_pcrs(const char *s, uint32_t *mask)
{
	uint32_t m = 0;

	if (!s || !*s)
		return CAM_EINVAL;
	if (strcmp(s, "all") == 0) {
		*mask = (1u << CAM_TPM_NPCRS) - 1;
		return 0;
	}
	for (;;) {
		unsigned lo, hi;

		if (pcr_index(&s, &lo))
			return CAM_EINVAL;
		hi = lo;
		if (*s == '-') {
			s++;
			if (pcr_index(&s, &hi) || hi < lo)
				return CAM_EINVAL;
		}
		for (unsigned i = lo; i <= hi; i++)
			m |= 1u << i;
		if (*s == '\0')
			break;
		if (*s++ != ',')
			return CAM_EINVAL;
	}
	*mask = m;
	return 0;
}

void cam_tpm_clocked_digest(const uint8_t digest[CAM_TPM_DIGEST_LEN],
			    const struct cam_tpm_clock *c, uint8_t out[CAM_TPM_DIGEST_LEN])
{
	cam_audit_clocked_digest(digest, c->clock_ms, c->reset_count, c->restart_count, out);
}
