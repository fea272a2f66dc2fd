/*
 * crash: a test driver that dies on request.
 *   echo   the input back
 *   crash  a NULL write: SIGSEGV kills the helper process
 *   abort  abort(): SIGABRT
 *   exit   exit(3) in the middle of a call
 *   late_crash  sleeps the milliseconds given as input, then SIGSEGV (dies
 *               after a short client deadline, while the kernel waits for
 *               a late answer)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cam/driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

CAM_DRIVER_DEFINE_ABI;

static int calls;

int cam_driver_init(const char *config, void **state)
{
	(void)config;
	*state = &calls;
	return CAM_DRIVER_OK;
}

int cam_driver_invoke(void *state, const char *op, const char *in, size_t len,
		      struct cam_driver_buf *out)
{
	(void)state;
	calls++;
	if (strcmp(op, "late_crash") == 0) {
		long ms = strtol(in, NULL, 10);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	if (strcmp(op, "crash") == 0 || strcmp(op, "late_crash") == 0) {
		volatile int *p = NULL;
		*p = 1;
	}
	if (strcmp(op, "abort") == 0)
		abort();
	if (strcmp(op, "exit") == 0)
		exit(3);
	return cam_driver_buf_append(out, in, len);
}

int cam_driver_health(void *state, char *msg, size_t msglen)
{
	snprintf(msg, msglen, "%d calls since start", *(int *)state);
	return CAM_DRIVER_HEALTHY;
}

void cam_driver_shutdown(void *state)
{
	(void)state;
}
