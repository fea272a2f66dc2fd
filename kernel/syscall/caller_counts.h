/*
 * A count per caller name, exact (no two callers share one), for quotas
 * such as the series a caller may make. Entries are made only by
 * cam_caller_counts_add, so a table holds no more names than things were
 * counted. Not thread-safe: its user holds a lock across a check and the
 * add that follows it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_CALLER_COUNTS_H
#define CAM_SYSCALL_CALLER_COUNTS_H

#include <stddef.h>

typedef struct cam_caller_counts cam_caller_counts;

cam_caller_counts *cam_caller_counts_new(void);
/* NULL is a no-op. */
void cam_caller_counts_free(cam_caller_counts *c);
/* name's count (0 when it has none). */
size_t cam_caller_counts_get(const cam_caller_counts *c, const char *name);
/* Adds one to name's count. */
void cam_caller_counts_add(cam_caller_counts *c, const char *name);

#endif
