/* Loopback check for listen addresses: see listen_policy.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "kernel/listen_policy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

bool cam_listen_is_loopback(const char *addr)
{
	char host[128];
	const char *colon;
	size_t n;
	struct in_addr v4;
	struct in6_addr v6;

	if (!addr)
		return false;
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		if (!end || (size_t)(end - addr - 1) >= sizeof(host))
			return false;
		n = (size_t)(end - addr - 1);
		memcpy(host, addr + 1, n);
		host[n] = '\0';
		return inet_pton(AF_INET6, host, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
	}
	colon = strrchr(addr, ':');
	n = colon ? (size_t)(colon - addr) : strlen(addr);
	if (n == 0 || n >= sizeof(host))
		return false; /* ":50051" is every interface */
	memcpy(host, addr, n);
	host[n] = '\0';
	if (strcmp(host, "localhost") == 0)
		return true;
	return inet_pton(AF_INET, host, &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}
