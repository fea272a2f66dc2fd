/* GCRA rate limits: see rate.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "common/rate.h"

/* Allow when now >= tat - tolerance; then tat = max(tat, now) + T. */
bool cam_rate_take(struct cam_rate_bucket *b, double rate, double burst, int64_t now)
{
	int64_t t = (int64_t)(1e9 / rate);
	int64_t tolerance = (int64_t)((burst - 1) * 1e9 / rate);
	int64_t tat = atomic_load_explicit(&b->tat_ns, memory_order_relaxed);

	for (;;) {
		int64_t base = tat > now ? tat : now;

		if (now < tat - tolerance)
			return false;
		if (atomic_compare_exchange_weak_explicit(&b->tat_ns, &tat, base + t,
							  memory_order_relaxed,
							  memory_order_relaxed))
			return true;
	}
}

uint64_t cam_rate_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}
