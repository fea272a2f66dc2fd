/*
 * SHA-256 of a file (sha256.h) with libcrypto's EVP interface.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/drivers/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/error.h"

int cam_drivers__sha256_fd(int fd, char hex[65])
{
	unsigned char buf[16384], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	off_t off = 0;
	ssize_t n;
	int rc = 0;

	if (!ctx)
		return CAM_EINTERNAL;
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		rc = CAM_EINTERNAL;
		goto out_free_ctx;
	}
	for (;;) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = CAM_EIO;
			goto out_free_ctx;
		}
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
			rc = CAM_EINTERNAL;
			goto out_free_ctx;
		}
		off += n;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32) {
		rc = CAM_EINTERNAL;
		goto out_free_ctx;
	}
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
out_free_ctx:
	EVP_MD_CTX_free(ctx);
	return rc;
}
