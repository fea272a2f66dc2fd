/*
 * Scheduling factors from a parsed payload (factors.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/factors.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"

bool cam_factors_is_key(const char *key, size_t len)
{
	return cam_think_factor_index(key, len) >= 0;
}

int cam_factors_from_payload(const struct cam_payload *p, double f[CAM_THINK_NFACTORS],
			     char *err, size_t errlen)
{
	int n = 0;

	for (int i = 0; i < CAM_THINK_NFACTORS; i++)
		f[i] = CAM_THINK_DEFAULT;
	/* One pass over the pairs (keys are unique): most payloads have no
	 * factor at all. */
	for (size_t j = 0; j < p->n; j++) {
		const char *v = p->pairs[j].value;
		int i = cam_think_factor_index(p->pairs[j].key, p->pairs[j].klen);

		if (i < 0)
			continue;
		if (cam_think_parse_factor(v, p->pairs[j].vlen, &f[i])) {
			snprintf(err, errlen, "%s must be a number from 0 to 1, not '%.32s'",
				 cam_think_factor_names[i], v);
			return CAM_EINVAL;
		}
		n++;
	}
	return n;
}
