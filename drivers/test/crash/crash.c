/*
 * crash: a test driver that dies on request.
 *   echo   the input back
 *   crash  a NULL write: SIGSEGV kills the helper process
 *   abort  abort(): SIGABRT
 *   exit   exit(3) in the middle of a call
 */
#include <cam/driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	if (strcmp(op, "crash") == 0) {
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
