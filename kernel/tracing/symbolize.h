/*
 * Names for code addresses of this process, for pprof's remote
 * symbolization (the exporter's /debug/pprof/symbol): the profiles carry
 * raw addresses, and this turns them into function names with elfutils'
 * libdwfl, which reads the ELF symbol tables (static functions included)
 * of the program and of every library mapped into it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_TRACING_SYMBOLIZE_H
#define CAM_TRACING_SYMBOLIZE_H

#include <stddef.h>

/* The most addresses one request may ask for. */
#define CAM_SYMBOLIZE_MAX_ADDRS 200000

/*
 * in: addresses in hex ("0x4a5b6c"), separated by '+' or white space, as
 * pprof sends them (inlen bytes, not NUL-terminated). On 0, *out (malloc'd,
 * *outlen bytes) has one line per address that has a name,
 * "0x4a5b6c function_name\n"; addresses with none are left out. Otherwise
 * CAM_EINVAL (a token that is not a hex address, or too many) with a
 * message in why, or CAM_EIO when this process's maps cannot be read.
 */
int cam_symbolize(const char *in, size_t inlen, char **out, size_t *outlen, char *why,
		  size_t whylen);

#endif
