/*
 * hang: a test driver that stops answering on request.
 *   echo   the input back
 *   hang   spins forever (the kernel must kill it at the deadline)
 *   sleep  sleeps the number of milliseconds given as input, then answers
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cam/driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

CAM_DRIVER_DEFINE_ABI;

int cam_driver_init(const char *config, void **state)
{
	(void)config;
	*state = NULL;
	return CAM_DRIVER_OK;
}

int cam_driver_invoke(void *state, const char *op, const char *in, size_t len,
		      struct cam_driver_buf *out)
{
	(void)state;
	if (strcmp(op, "hang") == 0)
		for (volatile unsigned long i = 0;; i++)
			;
	if (strcmp(op, "sleep") == 0) {
		long ms = strtol(in, NULL, 10);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		return cam_driver_buf_puts(out, "slept");
	}
	return cam_driver_buf_append(out, in, len);
}

int cam_driver_health(void *state, char *msg, size_t msglen)
{
	(void)state;
	snprintf(msg, msglen, "awake");
	return CAM_DRIVER_HEALTHY;
}

void cam_driver_shutdown(void *state)
{
	(void)state;
}
