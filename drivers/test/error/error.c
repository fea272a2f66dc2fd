/*
 * error: a test driver whose operations fail the way real ones do.
 *   echo      the input back
 *   invalid   CAM_DRIVER_EINVAL with a message (INVALID_ARGUMENT)
 *   missing   CAM_DRIVER_ENOTFOUND (NOT_FOUND)
 *   fail      CAM_DRIVER_EFAIL and no message (INTERNAL)
 *   sick      echo, but health answers unhealthy from then on
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cam/driver.h>

#include <stdio.h>
#include <string.h>

CAM_DRIVER_DEFINE_ABI;

static int sick;

int cam_driver_init(const char *config, void **state)
{
	(void)config;
	*state = &sick;
	return CAM_DRIVER_OK;
}

int cam_driver_invoke(void *state, const char *op, const char *in, size_t len,
		      struct cam_driver_buf *out)
{
	if (strcmp(op, "invalid") == 0) {
		cam_driver_buf_puts(out, "input was rejected on purpose");
		return CAM_DRIVER_EINVAL;
	}
	if (strcmp(op, "missing") == 0) {
		cam_driver_buf_puts(out, "no such thing");
		return CAM_DRIVER_ENOTFOUND;
	}
	if (strcmp(op, "fail") == 0)
		return CAM_DRIVER_EFAIL;
	if (strcmp(op, "sick") == 0)
		*(int *)state = 1;
	return cam_driver_buf_append(out, in, len);
}

int cam_driver_health(void *state, char *msg, size_t msglen)
{
	int s = *(int *)state;

	snprintf(msg, msglen, s ? "told to be sick" : "fine");
	return s ? CAM_DRIVER_UNHEALTHY : CAM_DRIVER_HEALTHY;
}

void cam_driver_shutdown(void *state)
{
	(void)state;
}
