/*
 * cam-driver-host: the helper process one driver runs in.
 *
 * cam-kernel starts one per driver instance, with the driver object open on
 * fd 3 and a SOCK_SEQPACKET socket on fd 4 (kernel/drivers/wire.h). It
 * answers requests one at a time, from the main thread, until SHUTDOWN or
 * EOF; a watchdog thread ends it if the kernel goes away. Whatever the driver
 * does (crash, spin, leak up to the memory limit) ends here, not in the
 * kernel, which sees EOF or a missed deadline and recycles this process.
 *
 * usage: cam-driver-host DRIVER_NAME MEMORY_LIMIT_MB
 * (the name is for ps and messages; the limit caps the address space).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/grpc_status.h"
#include "kernel/drivers/wire.h"

struct driver {
	const char *name;
	void *so;
	void *state;
	int (*init)(const char *, void **);
	int (*invoke)(void *, const char *, const char *, size_t, struct cam_driver_buf *);
	int (*health)(void *, char *, size_t);
	void (*shutdown)(void *);
	int ready;
};

static char req_buf[CAM_WIRE_MAX + 1];
static char out_buf[CAM_WIRE_MAX];

static int reply(int32_t status, const char *text, size_t len)
{
	struct cam_wire_resp r = { status, (uint32_t)len };
	struct iovec iov[2] = { { &r, sizeof(r) }, { (void *)text, len } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };

	return sendmsg(CAM_WIRE_SOCK_FD, &m, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static int replyf(int32_t status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int replyf(int32_t status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply(status, msg, strlen(msg));
}

static int grpc_status(int rc)
{
	switch (rc) {
	case CAM_DRIVER_OK: return CAM_GRPC_OK;
	case CAM_DRIVER_EINVAL: return CAM_GRPC_INVALID_ARGUMENT;
	case CAM_DRIVER_ENOTFOUND: return CAM_GRPC_NOT_FOUND;
	case CAM_DRIVER_ENOTSUP: return CAM_GRPC_UNIMPLEMENTED;
	case CAM_DRIVER_ELIMIT: return CAM_GRPC_RESOURCE_EXHAUSTED;
	case CAM_DRIVER_EUNAVAIL: return CAM_GRPC_UNAVAILABLE;
	default: return CAM_GRPC_INTERNAL;
	}
}

#define SYM(d, field, sym)                                                       \
	do {                                                                     \
		*(void **)(&(d)->field) = dlsym((d)->so, sym);                   \
		if (!(d)->field)                                                 \
			return replyf(CAM_GRPC_FAILED_PRECONDITION,              \
				      "driver %s does not export %s (ABI v%d)",   \
				      (d)->name, sym, CAM_DRIVER_ABI_VERSION);    \
	} while (0)

/* dlopen the object the kernel checked, check its ABI, run init. */
static int do_init(struct driver *d, const char *config)
{
	const uint32_t *abi;
	int rc;

	if (d->ready)
		return replyf(CAM_GRPC_FAILED_PRECONDITION, "driver %s is already initialised", d->name);
	d->so = dlopen("/proc/self/fd/3", RTLD_NOW | RTLD_LOCAL);
	if (!d->so)
		return replyf(CAM_GRPC_FAILED_PRECONDITION, "cannot load driver %s: %s", d->name,
			      dlerror());
	abi = dlsym(d->so, "cam_driver_abi_version");
	if (!abi)
		return replyf(CAM_GRPC_FAILED_PRECONDITION,
			      "driver %s does not export cam_driver_abi_version (ABI v%d)",
			      d->name, CAM_DRIVER_ABI_VERSION);
	if (*abi != CAM_DRIVER_ABI_VERSION)
		return replyf(CAM_GRPC_FAILED_PRECONDITION,
			      "driver %s was built for driver ABI v%u; this kernel speaks v%d",
			      d->name, *abi, CAM_DRIVER_ABI_VERSION);
	SYM(d, init, "cam_driver_init");
	SYM(d, invoke, "cam_driver_invoke");
	SYM(d, health, "cam_driver_health");
	SYM(d, shutdown, "cam_driver_shutdown");
	rc = d->init(config, &d->state);
	if (rc)
		return replyf(CAM_GRPC_FAILED_PRECONDITION, "driver %s init failed (code %d)", d->name, rc);
	d->ready = 1;
	return reply(CAM_GRPC_OK, "", 0);
}

static int do_invoke(struct driver *d, const char *op, const char *in, size_t len)
{
	struct cam_driver_buf out = { out_buf, CAM_DRIVER_MAX_OUTPUT, 0 };
	int rc = d->invoke(d->state, op, in, len, &out);

	if (out.len > out.cap)
		out.len = out.cap;
	if (rc && out.len == 0)
		return replyf(grpc_status(rc), "operation %s failed (code %d)", op, rc);
	return reply(grpc_status(rc), out.data, out.len);
}

static int do_health(struct driver *d)
{
	char msg[200] = "";
	int st = d->health(d->state, msg, sizeof(msg));

	msg[sizeof(msg) - 1] = '\0';
	if (st < CAM_DRIVER_HEALTHY || st > CAM_DRIVER_UNHEALTHY)
		st = CAM_DRIVER_UNHEALTHY;
	return reply(st, msg, strlen(msg));
}

/* One request; 1 when the helper should exit. */
static int serve(struct driver *d, size_t n)
{
	struct cam_wire_req r;
	char *op, *in;

	if (n < sizeof(r))
		return 1;
	memcpy(&r, req_buf, sizeof(r));
	if ((size_t)r.oplen + r.len != n - sizeof(r))
		return 1;
	/* Split the operation and the input into two C strings. */
	op = req_buf + sizeof(r);
	in = op + r.oplen + 1;
	memmove(in, op + r.oplen, r.len);
	in[r.len] = '\0';
	op[r.oplen] = '\0';
	if (r.type != CAM_WIRE_INIT && !d->ready)
		return replyf(CAM_GRPC_FAILED_PRECONDITION, "driver %s is not initialised", d->name), 1;
	switch (r.type) {
	case CAM_WIRE_INIT:
		return do_init(d, in) || !d->ready;
	case CAM_WIRE_INVOKE:
		return do_invoke(d, op, in, r.len) != 0;
	case CAM_WIRE_HEALTH:
		return do_health(d) != 0;
	case CAM_WIRE_SHUTDOWN:
		d->shutdown(d->state);
		d->ready = 0;
		reply(CAM_GRPC_OK, "", 0);
		return 1;
	default:
		return replyf(CAM_GRPC_INVALID_ARGUMENT, "unknown request type %u", r.type), 0;
	}
}

/*
 * Dies with the kernel, even while the driver spins and never reads its
 * socket again. Not PR_SET_PDEATHSIG: that fires when the kernel *thread*
 * that started this helper exits, and worker threads come and go.
 */
static void *watchdog(void *arg)
{
	pid_t parent = (pid_t)(intptr_t)arg;

	for (;;) {
		struct timespec ts = { 0, 200 * 1000000L };

		nanosleep(&ts, NULL);
		if (getppid() != parent)
			_exit(1);
	}
	return NULL;
}

static int start_watchdog(void)
{
	pthread_attr_t a;
	pthread_t t;
	int rc;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &a, watchdog, (void *)(intptr_t)getppid());
	pthread_attr_destroy(&a);
	return rc;
}

int main(int argc, char **argv)
{
	struct driver d = { .name = argc > 1 ? argv[1] : "?" };
	long mb = argc > 2 ? atol(argv[2]) : 0;
	struct rlimit core = { 0, 0 };

	if (start_watchdog())
		return 1;
	setrlimit(RLIMIT_CORE, &core);
	if (mb > 0) {
		struct rlimit as = { (rlim_t)mb << 20, (rlim_t)mb << 20 };
		setrlimit(RLIMIT_AS, &as);
	}
	for (;;) {
		/* Leave room to split op and input into two C strings. */
		ssize_t n = recv(CAM_WIRE_SOCK_FD, req_buf, CAM_WIRE_MAX - 2, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || serve(&d, (size_t)n))
			break;
	}
	if (d.ready)
		d.shutdown(d.state);
	return 0;
}
