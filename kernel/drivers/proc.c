/*
 * Driver helper processes (proc.h): posix_spawn with a clean signal state
 * and only fds 0-2, 3 (the object) and 4 (the socket); SOCK_SEQPACKET
 * requests with poll() for the deadline; SIGKILL and waitpid to recycle.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/drivers/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/xmalloc.h"
#include "kernel/drivers/wire.h"

extern char **environ;

/* The child starts with default dispositions and nothing blocked (the
 * kernel blocks its signals in every thread and ignores SIGPIPE). */
static void spawn_attrs(posix_spawnattr_t *a)
{
	sigset_t none, def;

	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGCHLD);
	posix_spawnattr_init(a);
	posix_spawnattr_setsigmask(a, &none);
	posix_spawnattr_setsigdefault(a, &def);
	posix_spawnattr_setflags(a, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
}

int cam_drivers__proc_spawn(struct cam_dproc *p, const char *host, const char *name,
		    int lib_fd, unsigned memory_limit_mb, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char mb[16];
	char *argv[] = { (char *)host, (char *)name, mb, NULL };
	int sv[2], lib = -1, sock = -1, rc = 0, bufsz = CAM_WIRE_MAX * 2;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	snprintf(mb, sizeof(mb), "%u", memory_limit_mb);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return cam_err_from_errno(errno);
	}
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	/* Move both above 4 so the dup2s below never meet themselves. */
	lib = fcntl(lib_fd, F_DUPFD_CLOEXEC, 10);
	sock = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
	close(sv[1]);
	if (lib < 0 || sock < 0) {
		snprintf(err, errlen, "dup: %s", strerror(errno));
		rc = CAM_EIO;
		goto out_close;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, lib, CAM_WIRE_LIB_FD);
	posix_spawn_file_actions_adddup2(&fa, sock, CAM_WIRE_SOCK_FD);
	posix_spawn_file_actions_addclosefrom_np(&fa, CAM_WIRE_SOCK_FD + 1);
	spawn_attrs(&attr);
	rc = posix_spawn(&p->pid, host, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		snprintf(err, errlen, "cannot start driver host %s: %s", host, strerror(rc));
		p->pid = 0;
		rc = CAM_EUNAVAIL;
		goto out_close;
	}
	p->fd = sv[0];
	sv[0] = -1;
	p->buf = cam_xmalloc(CAM_WIRE_MAX + 1);
out_close:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sock >= 0)
		close(sock);
	if (lib >= 0)
		close(lib);
	return rc;
}

static int send_req(struct cam_dproc *p, uint32_t type, const char *op, const char *in,
		    size_t inlen)
{
	size_t oplen = op ? strlen(op) : 0;
	struct cam_wire_req r = { type, (uint32_t)oplen, (uint32_t)inlen };
	struct iovec iov[3] = { { &r, sizeof(r) }, { (void *)op, oplen }, { (void *)in, inlen } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 3 };

	if (sizeof(r) + oplen + inlen > CAM_WIRE_MAX - 2)
		return CAM_EINVAL;
	while (sendmsg(p->fd, &m, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return CAM_ECLOSED;
	return 0;
}

/* Waits for one datagram until deadline_ns: its length, 0 at EOF, -1 on
 * an error, or CAM_ETIMEDOUT (negative, never -1) when none came. */
static ssize_t await_datagram(struct cam_dproc *p, int64_t deadline_ns)
{
	for (;;) {
		struct pollfd pfd = { p->fd, POLLIN, 0 };
		int64_t left = deadline_ns - cam_mono_ns();
		int ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
		ssize_t n;
		int rc = poll(&pfd, 1, ms);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0 && cam_mono_ns() >= deadline_ns)
			return CAM_ETIMEDOUT;
		if (rc == 0)
			continue;
		n = recv(p->fd, p->buf, CAM_WIRE_MAX, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		return n;
	}
}

int cam_drivers__proc_call(struct cam_dproc *p, uint32_t type, const char *op, const char *in,
		   size_t inlen, int64_t deadline_ns, int32_t *status, const char **text,
		   size_t *textlen)
{
	struct cam_wire_resp r;
	ssize_t n;
	int rc;

	if (!p->pid || p->fd < 0)
		return CAM_ECLOSED;
	if ((rc = send_req(p, type, op, in, inlen)))
		return rc;
	n = await_datagram(p, deadline_ns);
	if (n == CAM_ETIMEDOUT)
		return CAM_ETIMEDOUT;
	if (n <= 0)
		return CAM_ECLOSED;
	if ((size_t)n < sizeof(r))
		return CAM_EPROTO;
	memcpy(&r, p->buf, sizeof(r));
	if (r.len != (size_t)n - sizeof(r))
		return CAM_EPROTO;
	memmove(p->buf, p->buf + sizeof(r), r.len);
	p->buf[r.len] = '\0';
	*status = r.status;
	*text = p->buf;
	*textlen = r.len;
	return 0;
}

int cam_drivers__proc_await(struct cam_dproc *p, int64_t deadline_ns)
{
	ssize_t n;

	if (!p->pid || p->fd < 0)
		return CAM_ECLOSED;
	n = await_datagram(p, deadline_ns);
	if (n == CAM_ETIMEDOUT)
		return 0;
	return n > 0 ? 1 : CAM_ECLOSED;
}

static void describe(int wstatus, char *how, size_t howlen)
{
	if (!how)
		return;
	if (WIFSIGNALED(wstatus))
		snprintf(how, howlen, "killed by signal %d (%s)", WTERMSIG(wstatus),
			 strsignal(WTERMSIG(wstatus)));
	else if (WIFEXITED(wstatus))
		snprintf(how, howlen, "exited with status %d", WEXITSTATUS(wstatus));
	else
		snprintf(how, howlen, "ended");
}

static void release(struct cam_dproc *p)
{
	if (p->fd >= 0)
		close(p->fd);
	free(p->buf);
	p->fd = -1;
	p->buf = NULL;
	p->pid = 0;
}

void cam_drivers__proc_kill(struct cam_dproc *p, char *how, size_t howlen)
{
	int ws = 0;

	if (how && howlen)
		how[0] = '\0';
	if (p->pid > 0) {
		/* A helper that already died keeps its status: ask first. */
		if (waitpid(p->pid, &ws, WNOHANG) == 0) {
			kill(p->pid, SIGKILL);
			while (waitpid(p->pid, &ws, 0) < 0 && errno == EINTR)
				;
		}
		describe(ws, how, howlen);
	}
	release(p);
}

void cam_drivers__proc_stop(struct cam_dproc *p, int timeout_ms)
{
	int64_t deadline = cam_mono_ns() + (int64_t)timeout_ms * 1000000;
	const char *text;
	size_t len;
	int32_t st;
	int ws;

	if (!p->pid)
		return release(p);
	if (cam_drivers__proc_call(p, CAM_WIRE_SHUTDOWN, NULL, NULL, 0, deadline, &st, &text, &len) == 0) {
		/* It exits right after answering; give it until the deadline. */
		while (cam_mono_ns() < deadline) {
			if (waitpid(p->pid, &ws, WNOHANG) == p->pid)
				return release(p);
			usleep(1000);
		}
	}
	cam_drivers__proc_kill(p, NULL, 0);
}
