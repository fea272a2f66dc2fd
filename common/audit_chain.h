/*
 * The audit trail's chain and seals, shared by the kernel that writes it
 * (kernel/security/audit.c) and the program that checks it (audit/,
 * cam-audit verify). The format is in ../shared/DESIGN.md, "Audit log".
 *
 * Every line is one JSON object that ends with "prev":"<64 hex>", the
 * chain hash of the line before it: the SHA-256 of that line's bytes (its
 * newline excluded). The first line of a new trail has prev = the genesis,
 * SHA-256("cam-os audit v1"); a rotated file's first line continues from
 * the last line of the file before.
 *
 * A seal line (event "seal") signs, with the kernel's TPM key, where the
 * trail stood: "sealed" (the chain hash of line number "lines", counted
 * from the genesis) and the TPM's clock. What the TPM signs is
 * cam_tpm_clocked_digest(cam_audit_seal_digest(...), clock): SHA-256 of the
 * seal digest followed by clock_ms (8 bytes), reset_count and
 * restart_count (4 each), big-endian.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_AUDIT_CHAIN_H
#define CAM_AUDIT_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#define CAM_AUDIT_HASH 32

/* SHA-256("cam-os audit v1"). */
void cam_audit_genesis(uint8_t out[CAM_AUDIT_HASH]);
/* The chain hash of one line (len bytes, no newline). */
void cam_audit_line_hash(const char *line, size_t len, uint8_t out[CAM_AUDIT_HASH]);
/* Lower-case hex into out (65 bytes). */
void cam_audit_hex(const uint8_t h[CAM_AUDIT_HASH], char out[2 * CAM_AUDIT_HASH + 1]);
/* 64 hex digits into h: 0, or -1. */
int cam_audit_unhex(const char *s, uint8_t h[CAM_AUDIT_HASH]);
/* SHA-256 of "cam-os audit seal v1\n<sealed hex>\n<lines>\n". */
void cam_audit_seal_digest(const char *sealed_hex, uint64_t lines, uint8_t out[CAM_AUDIT_HASH]);
/* What the TPM signs for a digest at a clock reading: SHA-256 of digest,
 * clock_ms (8 bytes), reset_count and restart_count (4 each), big-endian
 * (the kernel's cam_tpm_sign_clocked). */
void cam_audit_clocked_digest(const uint8_t digest[CAM_AUDIT_HASH], uint64_t clock_ms,
			      uint32_t reset_count, uint32_t restart_count,
			      uint8_t out[CAM_AUDIT_HASH]);

#endif
