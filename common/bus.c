/*
 * The nng pub/sub bus described in bus.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/bus.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>

#include "common/error.h"
#include "common/log.h"
#include "common/xmalloc.h"

struct cam_bus {
	nng_socket sock;
};

static int from_nng(int rv)
{
	switch (rv) {
	case 0:
		return 0;
	case NNG_ETIMEDOUT:
		return CAM_ETIMEDOUT;
	case NNG_ECLOSED:
		return CAM_ECLOSED;
	case NNG_ENOMEM:
		return CAM_ENOMEM;
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
		return CAM_EINVAL;
	case NNG_EAGAIN:
		return CAM_ELIMIT;
	case NNG_EPERM:
		return CAM_EPERM;
	}
	return CAM_EIO;
}

/* mkdir -p for the folder of an ipc:// socket path, mode 0700. */
static int prepare_ipc_dir(const char *addr)
{
	char path[PATH_MAX];
	char *slash;

	if (strncmp(addr, "ipc://", 6) != 0)
		return 0;
	if (strlen(addr + 6) >= sizeof(path))
		return CAM_EINVAL;
	strcpy(path, addr + 6);
	slash = strrchr(path, '/');
	if (!slash || slash == path)
		return 0;
	*slash = '\0';
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return cam_err_from_errno(errno);
		*p = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return cam_err_from_errno(errno);
	return 0;
}

int cam_bus_pub_new(const char *addr, cam_bus **out)
{
	cam_bus *b;
	int rv;

	rv = prepare_ipc_dir(addr);
	if (rv) {
		cam_log(CAM_LOG_ERROR, "bus", "cannot create the folder of %s: %s",
			addr, cam_strerror(rv));
		return rv;
	}
	b = cam_xcalloc(1, sizeof(*b));
	rv = nng_pub0_open(&b->sock);
	if (rv)
		goto out_free;
	rv = nng_listen(b->sock, addr, NULL, 0);
	if (rv) {
		cam_log(CAM_LOG_ERROR, "bus", "cannot listen on %s: %s", addr,
			nng_strerror(rv));
		goto out_close;
	}
	*out = b;
	return 0;
out_close:
	nng_close(b->sock);
out_free:
	free(b);
	return from_nng(rv);
}

int cam_bus_sub_new(const char *addr, cam_bus **out)
{
	cam_bus *b;
	int rv;

	rv = prepare_ipc_dir(addr);
	if (rv)
		return rv;
	b = cam_xcalloc(1, sizeof(*b));
	rv = nng_sub0_open(&b->sock);
	if (rv)
		goto out_free;
	if ((rv = nng_socket_set(b->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) ||
	    (rv = nng_socket_set_size(b->sock, NNG_OPT_RECVMAXSZ, CAM_BUS_MAX_MSG)) ||
	    (rv = nng_socket_set_ms(b->sock, NNG_OPT_RECONNMINT, 100)) ||
	    (rv = nng_socket_set_ms(b->sock, NNG_OPT_RECONNMAXT, 1000)))
		goto out_close;
	/* Non-blocking dial: succeeds now and keeps retrying until the
	 * kernel's listener is there. */
	rv = nng_dial(b->sock, addr, NULL, NNG_FLAG_NONBLOCK);
	if (rv) {
		cam_log(CAM_LOG_ERROR, "bus", "cannot dial %s: %s", addr,
			nng_strerror(rv));
		goto out_close;
	}
	*out = b;
	return 0;
out_close:
	nng_close(b->sock);
out_free:
	free(b);
	return from_nng(rv);
}

int cam_bus_send(cam_bus *b, const void *buf, size_t len)
{
	/* pub0 never blocks: a subscriber whose queue is full misses this
	 * message. NONBLOCK guards the send itself as well. */
	return from_nng(nng_send(b->sock, (void *)buf, len, NNG_FLAG_NONBLOCK));
}

int cam_bus_recv(cam_bus *b, void **buf, size_t *len, int timeout_ms)
{
	int rv = nng_socket_set_ms(b->sock, NNG_OPT_RECVTIMEO, timeout_ms);

	if (rv)
		return from_nng(rv);
	return from_nng(nng_recv(b->sock, buf, len, NNG_FLAG_ALLOC));
}

void cam_bus_msg_free(void *buf, size_t len)
{
	if (buf)
		nng_free(buf, len);
}

void cam_bus_free(cam_bus *b)
{
	if (!b)
		return;
	nng_close(b->sock);
	free(b);
}
