/*
 * The exporter's listening socket from CAM_EXPORTER_LISTEN.
 *
 * Accepted forms: "host:port", ":port" (every interface, IPv6 and IPv4 when
 * the machine has IPv6), "[v6addr]:port". Port 0 asks the kernel for a free
 * port (tests use it). The socket is opened here rather than by
 * libmicrohttpd so a bind failure can be reported precisely and the real
 * port read back.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_LISTEN_H
#define CAM_EXPORTER_LISTEN_H

#include <stddef.h>
#include <stdint.h>

struct cam_listen_spec {
	char host[256]; /* empty: every interface; IPv6 without brackets */
	char port[8];
};

/*
 * Splits s into host and port. CAM_EINVAL when it is none of the accepted
 * forms, *why (static text) then says what is wrong.
 */
int cam_listen_parse(const char *s, struct cam_listen_spec *out,
		     const char **why);

/*
 * Opens a TCP socket bound to spec, listening, non-blocking and
 * close-on-exec; *fd is the caller's to close. On failure returns a CAM_E*
 * code and writes what failed to err ("bind [::]:8080: Address already in
 * use").
 */
int cam_listen_open(const struct cam_listen_spec *spec, int *fd, char *err,
		    size_t errlen);

/* Writes the bound address of fd as "[::]:8080" or "127.0.0.1:8080" and
 * returns its port (0 on failure, with buf "?"). */
uint16_t cam_listen_name(int fd, char *buf, size_t n);

#endif
