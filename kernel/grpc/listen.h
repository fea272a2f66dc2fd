/*
 * Socket glue of the gRPC server: listen addresses and peer names.
 * Linux/POSIX specific, kept apart from the protocol code.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_GRPC_LISTEN_H
#define CAM_GRPC_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * Splits "host:port", "[v6]:port" or ":port" (every interface) into host
 * (NULL for every interface) and port, in caller buffers. CAM_EINVAL if
 * malformed.
 */
int cam_grpc_listen_parse(const char *addr, char *host, size_t host_cap,
			  char *port, size_t port_cap);
/*
 * Binds and listens on addr with a non-blocking, close-on-exec socket.
 * Returns 0 with *fd and *port (the bound port, useful for port 0), or
 * CAM_EINVAL for a bad address and a CAM_E* mapped from errno otherwise;
 * why (whylen bytes) then says what failed in the system's words
 * ("Address already in use").
 */
int cam_grpc_listen_open(const char *addr, int backlog, int *fd, int *port, char *why,
			 size_t whylen);
/* "ipv4:127.0.0.1:4242", "ipv6:[::1]:4242" or "unknown", NUL-terminated. */
void cam_grpc_listen_peer_name(const struct sockaddr *sa, char *buf, size_t cap);

#endif
