/*
 * Scheduling factors from a parsed payload (factors.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/syscall/factors.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"

int cam_factors_pair(const struct cam_payload_pair *pair, int *idx, double *v, char *err,
		     size_t errlen)
{
	int i = cam_think_factor_index(pair->key, pair->klen);

	if (i < 0)
		return 0;
	if (cam_think_parse_factor(pair->value, pair->vlen, v)) {
		snprintf(err, errlen, "%s must be a number from 0 to 1, not '%.32s'",
			 cam_think_factor_names[i], pair->value);
		return CAM_EINVAL;
	}
	*idx = i;
	return 1;
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
		double v;
		int i, rc = cam_factors_pair(&p->pairs[j], &i, &v, err, errlen);

		if (rc < 0)
			return rc;
		if (rc) {
			f[i] = v;
			n++;
		}
	}
	return n;
}
