/*
 * leak: a test driver that eats memory on request.
 *   echo   the input back
 *   leak   allocates and touches 1 MiB blocks, never freed, until malloc
 *          fails under the helper's memory limit, then aborts (as most
 *          programs do on out of memory)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cam/driver.h>

#include <stdlib.h>
#include <string.h>

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
	if (strcmp(op, "leak") == 0)
		for (;;) {
			char *p = malloc(1 << 20);

			if (!p)
				abort();
			memset(p, 0x5a, 1 << 20);
		}
	return cam_driver_buf_append(out, in, len);
}

int cam_driver_health(void *state, char *msg, size_t msglen)
{
	(void)state;
	strncpy(msg, "ok", msglen);
	return CAM_DRIVER_HEALTHY;
}

void cam_driver_shutdown(void *state)
{
	(void)state;
}
