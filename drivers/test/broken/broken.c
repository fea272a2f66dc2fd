/*
 * broken: test drivers that must be refused at load time, one per build
 * flag (kernel/drivers/drivers.mk builds each):
 *   -DBAD_INIT   init fails                      -> badinit
 *   -DNO_HEALTH  cam_driver_health is missing    -> nosym
 *   -DBAD_ABI    built for driver ABI v99        -> badabi
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cam/driver.h>

#include <stdio.h>

#ifdef BAD_ABI
CAM_DRIVER_EXPORT const uint32_t cam_driver_abi_version = 99;
#else
CAM_DRIVER_DEFINE_ABI;
#endif

int cam_driver_init(const char *config, void **state)
{
	(void)config;
	*state = NULL;
#ifdef BAD_INIT
	return CAM_DRIVER_EINVAL;
#else
	return CAM_DRIVER_OK;
#endif
}

int cam_driver_invoke(void *state, const char *op, const char *in, size_t len,
		      struct cam_driver_buf *out)
{
	(void)state;
	(void)op;
	return cam_driver_buf_append(out, in, len);
}

#ifndef NO_HEALTH
int cam_driver_health(void *state, char *msg, size_t msglen)
{
	(void)state;
	snprintf(msg, msglen, "ok");
	return CAM_DRIVER_HEALTHY;
}
#endif

void cam_driver_shutdown(void *state)
{
	(void)state;
}
