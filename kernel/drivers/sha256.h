/*
 * SHA-256 of an open file, for the driver runtime's manifest check
 * (OpenSSL's libcrypto does the hashing).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_DRIVERS_SHA256_H
#define CAM_DRIVERS_SHA256_H

/* Hashes the whole file behind fd (read from offset 0 with pread, so the
 * fd's position is untouched) into 64 lower-case hex digits and a NUL.
 * 0, CAM_EIO on a read error, CAM_EINTERNAL if libcrypto fails. */
int cam_drivers__sha256_fd(int fd, char hex[65]);

#endif
