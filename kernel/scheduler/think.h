/*
 * The 5-D score: five factors of a task, each 0-1 where 1 argues for
 * running it sooner, weighed into one score 0-1 that maps to a priority
 * 0-9 and so to a class. Deterministic (integer weights, one rounding):
 *
 *   score    = 0.30 urgency + 0.25 importance + 0.15 efficiency
 *            + 0.10 energy  + 0.20 trust           rounded to 4 decimals
 *   priority = min(9, floor(10 * score))
 *   class    = high (7-9), normal (3-6), low (0-2)
 *
 * energy is how light the task is on energy (1 = cheap), efficiency how
 * much it achieves per unit of work, trust how far its caller is trusted.
 * A factor not given counts 0.5, so a request with no factors scores 0.5:
 * priority 5, the default. contribution(f) = weight(f) * f.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SCHED_THINK_H
#define CAM_SCHED_THINK_H

#include <stddef.h>

enum cam_think_factor {
	CAM_THINK_URGENCY,
	CAM_THINK_IMPORTANCE,
	CAM_THINK_EFFICIENCY,
	CAM_THINK_ENERGY,
	CAM_THINK_TRUST,
	CAM_THINK_NFACTORS
};

#define CAM_THINK_DEFAULT 0.5

/* "urgency", "importance", "efficiency", "energy", "trust". */
extern const char *const cam_think_factor_names[CAM_THINK_NFACTORS];
/* Weights in thousandths: 300, 250, 150, 100, 200 (sum 1000). */
extern const unsigned cam_think_weights[CAM_THINK_NFACTORS];

struct cam_think {
	double factors[CAM_THINK_NFACTORS];
	double contrib[CAM_THINK_NFACTORS]; /* weight * factor */
	double score;                       /* 0-1, 4 decimals */
	unsigned priority;                  /* 0-9 */
	unsigned klass;                     /* enum cam_sched_class */
};

/* Scores five factors (each 0-1). Cannot fail. */
void cam_think_score(const double f[CAM_THINK_NFACTORS], struct cam_think *out);
/* The index of a factor key, or -1. */
int cam_think_factor_index(const char *key, size_t len);
/* A factor value: a decimal 0-1 ("0", "1", "0.75", ".5"); 0 or CAM_EINVAL. */
int cam_think_parse_factor(const char *s, size_t len, double *out);
/*
 * The factors raw payload text carries (the payload grammar of
 * kernel/syscall/payload.h), allocating nothing: the I/O thread runs it
 * before the payload is parsed. Fills f (missing factors 0.5) and returns
 * how many were given, or CAM_EINVAL for a bad value, a duplicate factor
 * key or a factor value continued past a comma. (A parsed payload's
 * factors: kernel/syscall/factors.h.)
 */
int cam_think_scan(const char *p, size_t len, double f[CAM_THINK_NFACTORS]);

#endif
