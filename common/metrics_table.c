/*
 * Registration of a module's table of metric families (metrics_table.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/metrics_table.h"

#include <stdio.h>

#include "common/error.h"

int cam_metrics_table_register(const struct cam_family_desc *table, size_t n,
			       cam_family **out, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		const char *reason = NULL;
		int rc = cam_family_register(&table[i], &out[i], &reason);

		if (rc) {
			snprintf(why, whylen, "cannot register %s: %s",
				 table[i].name ? table[i].name : "(no name)",
				 reason ? reason : cam_strerror(rc));
			return rc;
		}
	}
	return 0;
}
