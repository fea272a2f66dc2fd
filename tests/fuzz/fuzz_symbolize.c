/*
 * Fuzzes cam_symbolize (kernel/tracing/symbolize.c): the body of a pprof
 * /debug/pprof/symbol POST, symbolized with libdwfl against this very
 * process (the real code path: a Dwfl per call over /proc/self/maps).
 * Inputs are capped at 4 KiB (a Dwfl per call is slow; the parser is what
 * is under test).
 *
 * Checks, besides no crash, leak or UB: the result is 0 exactly when every
 * token (split on '+', space, tab, CR, LF) is "0x" and 1-16 hex digits, as
 * a reference tokenizer decides, and CAM_EINVAL with a message otherwise;
 * on success the output is outlen bytes, NUL-terminated, one line
 * "0x<hex> <name>\n" per named address, in input order, each address one of
 * the input's, never more lines than addresses.
 *
 * Objects: kernel/tracing/symbolize.o common/xmalloc.o
 * Libs: libdw
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernel/tracing/symbolize.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 4096

static bool sep(uint8_t c)
{
	return c == '+' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int hexdigit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The addresses of the input into addrs (at most MAX_INPUT / 2 of them);
 * -1 when a token is not an address. */
static long tokens(const uint8_t *p, size_t n, uint64_t *addrs)
{
	long count = 0;

	for (size_t i = 0; i < n;) {
		size_t s = i;
		uint64_t v = 0;

		if (sep(p[i])) {
			i++;
			continue;
		}
		while (i < n && !sep(p[i]))
			i++;
		if (i - s < 3 || i - s > 18 || p[s] != '0' || (p[s + 1] != 'x' && p[s + 1] != 'X'))
			return -1;
		for (size_t k = s + 2; k < i; k++) {
			int d = hexdigit(p[k]);
			if (d < 0)
				return -1;
			v = v << 4 | (uint64_t)d;
		}
		addrs[count++] = v;
	}
	return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t addrs[MAX_INPUT / 2 + 1];
	char *out = NULL, why[128];
	size_t outlen = 0;
	long n;
	int rc;

	if (size > MAX_INPUT)
		return -1; /* not added to the corpus */
	n = tokens(data, size, addrs);
	why[0] = '\0';
	rc = cam_symbolize((const char *)data, size, &out, &outlen, why, sizeof(why));
	FUZZ_CHECK(rc != CAM_EIO);
	if (n < 0) {
		FUZZ_CHECK(rc == CAM_EINVAL && why[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(out != NULL && out[outlen] == '\0' && strlen(out) == outlen);
	{
		long at = 0, lines = 0;
		char *p = out;

		while (*p) {
			char *nl = strchr(p, '\n'), *end;
			uint64_t a;

			FUZZ_CHECK(nl != NULL);
			FUZZ_CHECK(p[0] == '0' && p[1] == 'x');
			a = strtoull(p + 2, &end, 16);
			FUZZ_CHECK(end > p + 2 && *end == ' ' && end + 1 < nl);
			/* In input order: the next address equal to a. */
			while (at < n && addrs[at] != a)
				at++;
			FUZZ_CHECK(at < n);
			at++;
			lines++;
			p = nl + 1;
		}
		FUZZ_CHECK(lines <= n);
	}
	free(out);
	return 0;
}
