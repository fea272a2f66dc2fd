/*
 * The audit trail's chain and seal digests (audit_chain.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/audit_chain.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>

void cam_audit_genesis(uint8_t out[CAM_AUDIT_HASH])
{
	static const char g[] = "cam-os audit v1";

	SHA256((const unsigned char *)g, sizeof(g) - 1, out);
}

/* OpenSSL 3's one-shot SHA256() fetches the algorithm on every call (a
 * lock and a lookup): the chain hashes every line, so the algorithm is
 * fetched once and each thread keeps its digest context. */
static EVP_MD *sha256_md;
static pthread_key_t ctx_key;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void free_ctx(void *p)
{
	EVP_MD_CTX_free(p);
}

static void fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	pthread_key_create(&ctx_key, free_ctx);
}

void cam_audit_line_hash(const char *line, size_t len, uint8_t out[CAM_AUDIT_HASH])
{
	EVP_MD_CTX *ctx;
	unsigned int n = 0;

	pthread_once(&sha256_once, fetch_sha256);
	if (!(ctx = pthread_getspecific(ctx_key)) && (ctx = EVP_MD_CTX_new()))
		pthread_setspecific(ctx_key, ctx);
	if (!sha256_md || !ctx || !EVP_DigestInit_ex2(ctx, sha256_md, NULL) ||
	    !EVP_DigestUpdate(ctx, line, len) || !EVP_DigestFinal_ex(ctx, out, &n))
		SHA256((const unsigned char *)line, len, out);
}

void cam_audit_hex(const uint8_t h[CAM_AUDIT_HASH], char out[2 * CAM_AUDIT_HASH + 1])
{
	static const char d[] = "0123456789abcdef";

	for (int i = 0; i < CAM_AUDIT_HASH; i++) {
		out[2 * i] = d[h[i] >> 4];
		out[2 * i + 1] = d[h[i] & 15];
	}
	out[2 * CAM_AUDIT_HASH] = '\0';
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cam_audit_unhex(const char *s, uint8_t h[CAM_AUDIT_HASH])
{
	for (int i = 0; i < CAM_AUDIT_HASH; i++) {
		int a = nibble(s[2 * i]), b = a < 0 ? -1 : nibble(s[2 * i + 1]);

		if (a < 0 || b < 0)
			return -1;
		h[i] = (uint8_t)(a << 4 | b);
	}
	return s[2 * CAM_AUDIT_HASH] == '\0' ? 0 : -1;
}

void cam_audit_seal_digest(const char *sealed_hex, uint64_t lines, uint8_t out[CAM_AUDIT_HASH])
{
	char m[160];
	int n = snprintf(m, sizeof(m), "cam-os audit seal v1\n%.64s\n%" PRIu64 "\n", sealed_hex, lines);

	SHA256((const unsigned char *)m, (size_t)n, out);
}

void cam_audit_clocked_digest(const uint8_t digest[CAM_AUDIT_HASH], uint64_t clock_ms,
			      uint32_t reset_count, uint32_t restart_count,
			      uint8_t out[CAM_AUDIT_HASH])
{
	uint8_t m[CAM_AUDIT_HASH + 16];

	memcpy(m, digest, CAM_AUDIT_HASH);
	for (int i = 0; i < 8; i++)
		m[32 + i] = (uint8_t)(clock_ms >> (56 - 8 * i));
	for (int i = 0; i < 4; i++) {
		m[40 + i] = (uint8_t)(reset_count >> (24 - 8 * i));
		m[44 + i] = (uint8_t)(restart_count >> (24 - 8 * i));
	}
	SHA256(m, sizeof(m), out);
}
