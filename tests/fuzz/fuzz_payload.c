/*
 * Fuzzes cam_payload_parse (kernel/syscall/payload.c): every syscall's
 * payload comes from the client as is.
 *
 * Checks, besides no crash, leak or UB: on success at most 32 pairs, every
 * key matches [a-z_][a-z0-9_]{0,63}, keys are distinct, cam_payload_get
 * finds each key with its own value, and writing the pairs back in the same
 * grammar ("k:v,k:v") gives the input byte for byte (continuations included);
 * on failure the payload is empty and err is a NUL-terminated message,
 * whatever the size of err.
 *
 * Objects: kernel/syscall/payload.o common/xmalloc.o
 * Libs:
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernel/syscall/payload.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > CAM_PAYLOAD_MAX_KEY)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || k[i] == '_' ||
		      (i > 0 && k[i] >= '0' && k[i] <= '9')))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct cam_payload p;
	char err[200];
	/* The err size follows the input, so short buffers are tried too. */
	size_t errlen = 1 + size % sizeof(err);
	int rc;

	memset(err, 'X', sizeof(err));
	rc = cam_payload_parse(s, size, &p, err, errlen);
	if (rc != 0) {
		FUZZ_CHECK(rc == CAM_EINVAL);
		FUZZ_CHECK(p.n == 0 && p.buf == NULL);
		FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
		cam_payload_free(&p);
		return 0;
	}
	FUZZ_CHECK(p.n <= CAM_PAYLOAD_MAX_PAIRS);
	FUZZ_CHECK(size == 0 || p.n > 0);
	{
		/* Written back: "k:v" joined with ',' is the input again. */
		char *back = malloc(size + 1);
		size_t o = 0;

		for (size_t i = 0; i < p.n; i++) {
			const char *k = p.pairs[i].key, *v = p.pairs[i].value;
			size_t kl = strlen(k), vl = strlen(v);

			FUZZ_CHECK(key_ok(k));
			FUZZ_CHECK(cam_payload_get(&p, k) == v);
			for (size_t j = 0; j < i; j++)
				FUZZ_CHECK(strcmp(p.pairs[j].key, k) != 0);
			FUZZ_CHECK(o + (i ? 1 : 0) + kl + 1 + vl <= size);
			if (i)
				back[o++] = ',';
			memcpy(back + o, k, kl);
			o += kl;
			back[o++] = ':';
			memcpy(back + o, v, vl);
			o += vl;
		}
		FUZZ_CHECK(o == size && memcmp(back, data, size) == 0);
		free(back);
	}
	/* A key that is not there is not found. */
	FUZZ_CHECK(cam_payload_get(&p, "Not-A-Key") == NULL);
	cam_payload_free(&p);
	FUZZ_CHECK(p.n == 0 && p.buf == NULL);
	return 0;
}
