/*
 * The nng bus between cam-kernel (publisher) and cam-exporter (subscriber).
 *
 * The kernel listens on the address, the exporter dials it, so the socket
 * file belongs to the kernel. Either may start first: the exporter's dialer
 * retries in the background, and a pub socket with no subscriber drops.
 * Sending never blocks; a message a slow subscriber cannot take is dropped
 * (snapshots are cumulative, the next one replaces it).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_BUS_H
#define CAM_BUS_H

#include <stddef.h>

typedef struct cam_bus cam_bus;

/* Largest message accepted (snapshots of 10k+ series fit many times). */
#define CAM_BUS_MAX_MSG (64u * 1024 * 1024)

/* Opens the publishing side and listens on addr. For ipc:// addresses the
 * folder is created (0700) when missing. */
int cam_bus_pub_new(const char *addr, cam_bus **out);
/* Opens the subscribing side and dials addr (retrying in the background). */
int cam_bus_sub_new(const char *addr, cam_bus **out);
/* Queues buf for subscribers; never blocks. Returns 0 or a CAM_E* code. */
int cam_bus_send(cam_bus *b, const void *buf, size_t len);
/*
 * Waits up to timeout_ms for a message. On 0, *buf (free with
 * cam_bus_msg_free) and *len hold it. CAM_ETIMEDOUT when none came,
 * CAM_ECLOSED once closed.
 */
int cam_bus_recv(cam_bus *b, void **buf, size_t *len, int timeout_ms);
void cam_bus_msg_free(void *buf, size_t len);
/* Closes the socket and frees b; NULL is a no-op. */
void cam_bus_free(cam_bus *b);

#endif
