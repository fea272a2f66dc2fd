/*
 * One gRPC connection on the I/O thread: its socket (cleartext or TLS),
 * its nghttp2 session, the write buffer, and how it ends (closed on
 * error, or terminated with a GOAWAY).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "kernel/grpc/internal.h"
#include "kernel/grpc/h2_mem.h"
#include "kernel/grpc/listen.h"

/*
 * nghttp2 answers a client that opens more streams than its acknowledged
 * SETTINGS_MAX_CONCURRENT_STREAMS with a connection error (GOAWAY
 * PROTOCOL_ERROR), which takes the client's other calls with it; RFC 9113
 * 5.1.2 asks for a stream error, and REFUSED_STREAM tells the client the
 * stream was not processed, so it may retry. So the session is told a
 * higher limit than the one the client sees: our first SETTINGS frame is
 * patched on its way out to advertise MAX_CONCURRENT_STREAMS, and h2.c
 * refuses streams past that with REFUSED_STREAM.
 */
#define SESSION_STREAM_LIMIT (MAX_CONCURRENT_STREAMS * 2)

void cam_grpc__conn_mark_dirty(struct conn *conn)
{
	struct cam_grpc__loop *s = conn->loop;

	if (conn->dirty)
		return;
	conn->dirty = true;
	conn->dirty_next = s->dirty;
	s->dirty = conn;
}

static void conn_set_pollout(struct conn *conn, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
				  .data.ptr = conn };

	if (conn->pollout == on)
		return;
	conn->pollout = on;
	epoll_ctl(conn->loop->epfd, EPOLL_CTL_MOD, conn->fd, &ev);
}

static void wbuf_append(struct conn *conn, const uint8_t *p, size_t n)
{
	if (conn->wlen + n > conn->wcap) {
		size_t ncap = conn->wcap ? conn->wcap : 16384;

		while (ncap < conn->wlen + n)
			ncap *= 2;
		conn->wbuf = cam_xrealloc(conn->wbuf, ncap);
		conn->wcap = ncap;
	}
	memcpy(conn->wbuf + conn->wlen, p, n);
	conn->wlen += n;
}

/* The first bytes a server session sends are its SETTINGS frame: there,
 * SETTINGS_MAX_CONCURRENT_STREAMS becomes the limit clients are told. */
static void patch_first_settings(struct conn *conn)
{
	uint8_t *f = conn->wbuf;
	size_t len;

	conn->settings_sent = true;
	if (conn->wlen < 9 || f[3] != NGHTTP2_SETTINGS || f[4] != 0)
		return;
	len = (size_t)f[0] << 16 | (size_t)f[1] << 8 | f[2];
	if (9 + len > conn->wlen)
		return;
	for (uint8_t *e = f + 9; e + 6 <= f + 9 + len; e += 6) {
		if ((e[0] << 8 | e[1]) != NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
			continue;
		e[2] = (uint8_t)(MAX_CONCURRENT_STREAMS >> 24);
		e[3] = (uint8_t)(MAX_CONCURRENT_STREAMS >> 16);
		e[4] = (uint8_t)(MAX_CONCURRENT_STREAMS >> 8);
		e[5] = (uint8_t)MAX_CONCURRENT_STREAMS;
	}
}

static int write_tls(struct conn *conn)
{
	bool want_write = false;
	ssize_t n = cam_grpc_tls_write(conn->ssl, conn->wbuf + conn->woff,
				       conn->wlen - conn->woff, &want_write);

	if (n < 0)
		return -1;
	if (n == 0) {
		/* A handshake waiting to read resumes from conn_read. */
		conn_set_pollout(conn, want_write);
		return 0;
	}
	conn->woff += (size_t)n;
	return 1;
}

static int write_plain(struct conn *conn)
{
	ssize_t n = send(conn->fd, conn->wbuf + conn->woff, conn->wlen - conn->woff,
			 MSG_NOSIGNAL);

	if (n < 0 && errno == EINTR)
		return 1;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		conn_set_pollout(conn, true);
		return 0;
	}
	if (n < 0)
		return -1;
	conn->woff += (size_t)n;
	return 1;
}

int cam_grpc__conn_flush(struct conn *conn)
{
	for (;;) {
		if (conn->woff < conn->wlen) {
			int rc = conn->ssl ? write_tls(conn) : write_plain(conn);

			if (rc <= 0)
				return rc;
			continue;
		}
		conn->woff = conn->wlen = 0;
		while (conn->wlen < WBUF_HIGH) {
			const uint8_t *p;
			ssize_t n = nghttp2_session_mem_send(conn->h2, &p);

			if (n < 0)
				return -1;
			if (n == 0)
				break;
			wbuf_append(conn, p, (size_t)n);
		}
		if (conn->wlen == 0)
			break;
		if (!conn->settings_sent)
			patch_first_settings(conn);
	}
	conn_set_pollout(conn, false);
	if (conn->close_when_written)
		return -1;
	if (conn->wcap > 4 * WBUF_HIGH) {
		free(conn->wbuf);
		conn->wbuf = NULL;
		conn->wcap = 0;
	}
	if (!nghttp2_session_want_read(conn->h2) && !nghttp2_session_want_write(conn->h2))
		return -1;
	return 0;
}

static bool feed_h2(struct conn *conn, const uint8_t *buf, size_t n)
{
	ssize_t rv = n ? nghttp2_session_mem_recv(conn->h2, buf, n) : 0;

	if (rv >= 0)
		return true;
	cam_grpc__count_perr(conn->srv, rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC ? PERR_BAD_PREFACE
									 : PERR_HTTP2);
	cam_log(CAM_LOG_DEBUG, COMPONENT, "closing %s: %s", conn->peer,
		nghttp2_strerror((int)rv));
	return false;
}

/*
 * Feeds bytes read to nghttp2; false when the connection must go. The
 * input is followed frame by frame (9-byte headers, payloads skipped) and
 * cut after each DATA frame header, so that the closed-stream check sees
 * the session with every earlier frame processed: nghttp2 drops DATA on a
 * closed stream without telling us.
 */
static bool conn_feed(struct conn *conn, const uint8_t *buf, size_t n)
{
	size_t i = 0, fed = 0;

	while (i < n) {
		if (conn->scan_skip) {
			size_t k = n - i < conn->scan_skip ? n - i : conn->scan_skip;

			i += k;
			conn->scan_skip -= (uint32_t)k;
			continue;
		}
		conn->scan_hdr[conn->scan_have++] = buf[i++];
		if (conn->scan_have < 9)
			continue;
		conn->scan_have = 0;
		conn->scan_skip = (uint32_t)conn->scan_hdr[0] << 16 |
				  (uint32_t)conn->scan_hdr[1] << 8 | conn->scan_hdr[2];
		if (conn->scan_hdr[3] != NGHTTP2_DATA)
			continue;
		if (!feed_h2(conn, buf + fed, i - fed))
			return false;
		fed = i;
		cam_grpc__closed_stream_frame(conn, NGHTTP2_DATA,
					      (int32_t)((uint32_t)(conn->scan_hdr[5] & 0x7f) << 24 |
							(uint32_t)conn->scan_hdr[6] << 16 |
							(uint32_t)conn->scan_hdr[7] << 8 |
							conn->scan_hdr[8]));
	}
	return feed_h2(conn, buf + fed, n - fed);
}

/* TLS: read until OpenSSL wants the socket again, since bytes it already
 * decrypted would never make epoll report the socket readable. */
static void conn_read_tls(struct conn *conn)
{
	uint8_t buf[READ_CHUNK];

	for (;;) {
		bool want_write = false;
		ssize_t n = cam_grpc_tls_read(conn->ssl, buf, sizeof(buf), &want_write);

		if (n < 0) {
			conn->dead = true;
			break;
		}
		if (n == 0) {
			if (want_write)
				conn_set_pollout(conn, true);
			break;
		}
		/* The handshake is done by the first bytes: who the client
		 * certificate names, once, before any call is made. */
		if (!conn->peer_checked && cam_grpc_tls_handshaken(conn->ssl)) {
			conn->peer_id = cam_grpc_tls_peer_id(conn->srv->tls, conn->ssl);
			conn->peer_checked = true;
		}
		if (!conn_feed(conn, buf, (size_t)n)) {
			conn->dead = true;
			break;
		}
	}
	cam_grpc__conn_mark_dirty(conn);
}

static void conn_read(struct conn *conn)
{
	uint8_t buf[READ_CHUNK];

	if (conn->ssl) {
		conn_read_tls(conn);
		return;
	}
	for (int i = 0; i < 8; i++) {
		ssize_t n = recv(conn->fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn->dead = true;
			break;
		}
		if (!conn_feed(conn, buf, (size_t)n)) {
			conn->dead = true;
			break;
		}
		if ((size_t)n < sizeof(buf))
			break;
	}
	cam_grpc__conn_mark_dirty(conn);
}

void cam_grpc__conn_event(struct conn *conn, uint32_t events)
{
	if (conn->dead)
		return;
	/* A TLS handshake may wait for the socket to be writable mid-read. */
	if ((events & EPOLLIN) || (conn->ssl && (events & EPOLLOUT)))
		conn_read(conn);
	else if (events & (EPOLLERR | EPOLLHUP))
		conn->dead = true;
	cam_grpc__conn_mark_dirty(conn);
}

void cam_grpc__conn_terminate(struct conn *conn, uint32_t code)
{
	if (conn->goaway || conn->dead)
		return;
	conn->goaway = true;
	/* Ends the session once the GOAWAY is written: conn_flush then closes. */
	if (nghttp2_session_terminate_session(conn->h2, code) != 0)
		conn->dead = true;
	cam_grpc__conn_closing(conn); /* closed in a second, read or not */
	cam_grpc__conn_mark_dirty(conn);
}

void cam_grpc__conn_close(struct conn *conn)
{
	cam_grpc_server *s = conn->srv;
	struct cam_grpc__loop *l = conn->loop;

	while (conn->calls) {
		struct cam_grpc_call *c = conn->calls;

		nghttp2_session_set_stream_user_data(conn->h2, c->stream_id, NULL);
		cam_grpc__call_detach(c);
	}
	cam_grpc__conn_unlist(conn);
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
	cam_grpc_tls_conn_free(conn->ssl);
	cam_grpc_peer_id_unref(conn->peer_id);
	close(conn->fd);
	nghttp2_session_del(conn->h2);
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		l->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	atomic_fetch_sub_explicit(&s->nconns, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&l->nconns, 1, memory_order_relaxed);
	cam_gauge_add(s->m_conns, -1);
	cam_log(CAM_LOG_DEBUG, COMPONENT, "connection from %s closed", conn->peer);
	free(conn->wbuf);
	free(conn);
}

static int conn_start_session(struct conn *conn)
{
	cam_grpc_server *s = conn->srv;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, SESSION_STREAM_LIMIT },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_METADATA_BYTES * 4 },
	};

	if (nghttp2_session_server_new3(&conn->h2, s->cbs, conn, s->h2opt, cam_grpc_h2_mem()) != 0)
		return CAM_ENOMEM;
	if (nghttp2_submit_settings(conn->h2, NGHTTP2_FLAG_NONE, iv,
				    sizeof(iv) / sizeof(iv[0])) != 0 ||
	    nghttp2_session_set_local_window_size(conn->h2, NGHTTP2_FLAG_NONE, 0,
						  CONN_WINDOW) != 0) {
		nghttp2_session_del(conn->h2);
		return CAM_ENOMEM;
	}
	return 0;
}

void cam_grpc__conn_open(struct cam_grpc__loop *l, int fd, const struct sockaddr *sa)
{
	cam_grpc_server *s = l->srv;
	struct conn *conn;
	struct epoll_event ev = { .events = EPOLLIN };
	int one = 1;

	if (!cam_grpc__limits_admit(l)) {
		close(fd);
		atomic_fetch_sub_explicit(&l->nconns, 1, memory_order_relaxed);
		return;
	}
	conn = cam_xcalloc(1, sizeof(*conn));
	ev.data.ptr = conn;
	conn->fd = fd;
	conn->srv = s;
	conn->loop = l;
	conn->scan_skip = NGHTTP2_CLIENT_MAGIC_LEN;
	cam_grpc_listen_peer_name(sa, conn->peer, sizeof(conn->peer));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (s->tls && !(conn->ssl = cam_grpc_tls_conn_new(s->tls, fd))) {
		close(fd);
		free(conn);
		atomic_fetch_sub_explicit(&l->nconns, 1, memory_order_relaxed);
		return;
	}
	if (conn_start_session(conn) != 0 ||
	    epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		cam_log(CAM_LOG_WARN, COMPONENT, "cannot serve connection from %s",
			conn->peer);
		if (conn->h2)
			nghttp2_session_del(conn->h2);
		cam_grpc_tls_conn_free(conn->ssl);
		close(fd);
		free(conn);
		atomic_fetch_sub_explicit(&l->nconns, 1, memory_order_relaxed);
		return;
	}
	conn->next = l->conns;
	if (l->conns)
		l->conns->prev = conn;
	l->conns = conn;
	conn->out_progress_ns = cam_mono_ns();
	cam_grpc__lifetime_open(conn);
	cam_grpc__conn_idle(conn);
	atomic_fetch_add_explicit(&s->nconns, 1, memory_order_relaxed);
	cam_gauge_add(s->m_conns, 1);
	cam_counter_inc(s->m_accepted);
	cam_grpc__conn_mark_dirty(conn);
}
