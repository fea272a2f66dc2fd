/* Trace id checks and mapping: see trace_id.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "kernel/tracing/trace_id.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

bool cam_trace_id_is_w3c(const char *s, size_t n)
{
	bool nonzero = false;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		nonzero |= c != '0';
	}
	return nonzero;
}

/* FNV-1a, 64-bit, with a seed so two runs give independent halves. */
static uint64_t fnv1a(const char *s, uint64_t seed)
{
	uint64_t h = 1469598103934665603ull ^ seed;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	/* Final mix, so short inputs spread over every bit. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h ? h : 1;
}

bool cam_trace_id_normalize(const char *in, size_t hex_len, char *out)
{
	if (strlen(in) == hex_len && cam_trace_id_is_w3c(in, hex_len)) {
		memcpy(out, in, hex_len + 1);
		return true;
	}
	if (hex_len == 32)
		snprintf(out, 33, "%016llx%016llx",
			 (unsigned long long)fnv1a(in, 0x9e3779b97f4a7c15ull),
			 (unsigned long long)fnv1a(in, 0xc2b2ae3d27d4eb4full));
	else
		snprintf(out, 17, "%016llx", (unsigned long long)fnv1a(in, 0x165667b19e3779f9ull));
	return false;
}
