/*
 * Parsing CAM_EXPORTER_LISTEN and opening the listening socket (listen.h).
 * The only socket-level code of the exporter; errno is mapped here.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"

#define LISTEN_BACKLOG 128

static bool port_valid(const char *p)
{
	size_t n = strlen(p), i;

	if (n == 0 || n > 5)
		return false;
	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return atol(p) <= 65535;
}

static int copy_part(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		return CAM_EINVAL;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int cam_listen_parse(const char *s, struct cam_listen_spec *out,
		     const char **why)
{
	const char *colon, *close;
	const char *dummy;

	if (!why)
		why = &dummy;
	*why = "expected host:port, :port or [ipv6]:port";
	if (!s)
		return CAM_EINVAL;
	if (s[0] == '[') {
		close = strchr(s, ']');
		if (!close || close == s + 1 || close[1] != ':')
			return CAM_EINVAL;
		if (copy_part(out->host, sizeof(out->host), s + 1,
			      (size_t)(close - s - 1)))
			return CAM_EINVAL;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return CAM_EINVAL;
		if (memchr(s, ':', (size_t)(colon - s))) {
			*why = "IPv6 addresses need brackets: [::1]:8080";
			return CAM_EINVAL;
		}
		if (copy_part(out->host, sizeof(out->host), s,
			      (size_t)(colon - s)))
			return CAM_EINVAL;
	}
	if (!port_valid(colon + 1)) {
		*why = "the port must be a number from 0 to 65535";
		return CAM_EINVAL;
	}
	copy_part(out->port, sizeof(out->port), colon + 1, strlen(colon + 1));
	*why = NULL;
	return 0;
}

static void describe(const struct sockaddr *sa, char *buf, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)sa;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(buf, n, "[%s]:%u", host, port);
		return;
	}
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)sa;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
	}
	snprintf(buf, n, "%s:%u", host, port);
}

/* Binds and listens on one address; returns the fd or -errno. */
static int try_bind(const struct sockaddr *sa, socklen_t len, bool dual)
{
	int fd, one = 1, zero = 0, e;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one,
			   sizeof(int));
	if (bind(fd, sa, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* ":port": IPv6 any with IPv4 mapped in, or IPv4 any without IPv6. */
static int open_wildcard(uint16_t port, char *err, size_t errlen)
{
	struct sockaddr_in6 a6 = {0};
	struct sockaddr_in a4 = {0};
	int fd;

	a6.sin6_family = AF_INET6;
	a6.sin6_addr = in6addr_any;
	a6.sin6_port = htons(port);
	fd = try_bind((const struct sockaddr *)&a6, sizeof(a6), true);
	if (fd >= 0 || (fd != -EAFNOSUPPORT && fd != -EADDRNOTAVAIL)) {
		if (fd < 0)
			snprintf(err, errlen, "bind [::]:%u: %s", port,
				 strerror(-fd));
		return fd;
	}
	a4.sin_family = AF_INET;
	a4.sin_addr.s_addr = htonl(INADDR_ANY);
	a4.sin_port = htons(port);
	fd = try_bind((const struct sockaddr *)&a4, sizeof(a4), false);
	if (fd < 0)
		snprintf(err, errlen, "bind 0.0.0.0:%u: %s", port, strerror(-fd));
	return fd;
}

static int open_host(const struct cam_listen_spec *spec, char *err,
		     size_t errlen)
{
	struct addrinfo hints = {0}, *res, *ai;
	char where[INET6_ADDRSTRLEN + 16];
	int fd = -EADDRNOTAVAIL, rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(spec->host, spec->port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "resolve %s: %s", spec->host,
			 gai_strerror(rc));
		return -EADDRNOTAVAIL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = try_bind(ai->ai_addr, ai->ai_addrlen, false);
		if (fd >= 0)
			break;
		describe(ai->ai_addr, where, sizeof(where));
		snprintf(err, errlen, "bind %s: %s", where, strerror(-fd));
	}
	freeaddrinfo(res);
	return fd;
}

int cam_listen_open(const struct cam_listen_spec *spec, int *fd, char *err,
		    size_t errlen)
{
	int r;

	snprintf(err, errlen, "no address to bind");
	if (spec->host[0] == '\0')
		r = open_wildcard((uint16_t)atoi(spec->port), err, errlen);
	else
		r = open_host(spec, err, errlen);
	if (r < 0)
		return r == -EADDRINUSE ? CAM_EEXIST : cam_err_from_errno(-r);
	err[0] = '\0';
	*fd = r;
	return 0;
}

uint16_t cam_listen_name(int fd, char *buf, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		snprintf(buf, n, "?");
		return 0;
	}
	describe((const struct sockaddr *)&ss, buf, n);
	if (ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
	if (ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
	return 0;
}
