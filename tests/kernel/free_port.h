/*
 * A free loopback TCP port for a test's own servers (redis-server,
 * redis-sentinel), never one this process was given before: the kernel may
 * hand the same ephemeral port to two bind(0) calls made before either
 * port is taken (the shell tests' free_port in tests/integration/lib.sh
 * does the same).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_TESTS_FREE_PORT_H
#define CAM_TESTS_FREE_PORT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

static inline int free_port(void)
{
	static int given[64];
	static unsigned ngiven;

	for (;;) {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(a);
		int fd = socket(AF_INET, SOCK_STREAM, 0), port;
		bool seen = false;

		bind(fd, (struct sockaddr *)&a, sizeof(a));
		getsockname(fd, (struct sockaddr *)&a, &len);
		port = ntohs(a.sin_port);
		close(fd);
		for (unsigned i = 0; i < ngiven; i++)
			seen |= given[i] == port;
		if (seen)
			continue;
		if (ngiven < sizeof(given) / sizeof(given[0]))
			given[ngiven++] = port;
		return port;
	}
}

#endif
