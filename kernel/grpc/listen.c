/*
 * Listen sockets for the gRPC server: address parsing, bind, peer names.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/grpc/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"

int cam_grpc_listen_parse(const char *addr, char *host, size_t host_cap,
			  char *port, size_t port_cap)
{
	const char *colon, *hs = addr;
	size_t hlen;

	if (!addr || !*addr)
		return CAM_EINVAL;
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (!end || end[1] != ':')
			return CAM_EINVAL;
		hs = addr + 1;
		hlen = (size_t)(end - hs);
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
			return CAM_EINVAL;
		hlen = (size_t)(colon - addr);
	}
	if (hlen >= host_cap || strlen(colon + 1) >= port_cap || !colon[1])
		return CAM_EINVAL;
	for (const char *p = colon + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return CAM_EINVAL;
	memcpy(host, hs, hlen);
	host[hlen] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

/* Socket, options, bind and listen for one resolved address. */
static int open_one(const struct addrinfo *ai, int backlog, int *fd_out, char *why,
		    size_t whylen)
{
	int fd, one = 1, zero = 0, err;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return cam_err_from_errno(errno);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* ":port" binds "::" and should take IPv4 too. */
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		err = cam_err_from_errno(errno);
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int cam_grpc_listen_open(const char *addr, int backlog, int *fd, int *port, char *why,
			 size_t whylen)
{
	char host[256], portstr[16];
	struct addrinfo hints, *res, *ai;
	int rc, gai;

	snprintf(why, whylen, "no address to listen on");
	rc = cam_grpc_listen_parse(addr, host, sizeof(host), portstr, sizeof(portstr));
	if (rc) {
		snprintf(why, whylen, "not a host:port address");
		return rc;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((gai = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &res)) != 0) {
		snprintf(why, whylen, "%s", gai_strerror(gai));
		return CAM_EINVAL;
	}
	/* For every interface prefer the IPv6 wildcard (dual stack). */
	rc = CAM_EINVAL;
	for (int pass = 0; pass < 2 && rc; pass++) {
		for (ai = res; ai; ai = ai->ai_next) {
			if (!host[0] && (pass == 0) != (ai->ai_family == AF_INET6))
				continue;
			if (host[0] && pass == 1)
				break;
			rc = open_one(ai, backlog, fd, why, whylen);
			if (rc == 0)
				break;
		}
	}
	freeaddrinfo(res);
	if (rc == 0)
		*port = bound_port(*fd);
	return rc;
}

void cam_grpc_listen_peer_name(const struct sockaddr *sa, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, cap, "ipv4:%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, cap, "ipv6:[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, cap, "unknown");
	}
}
