/*
 * TLS for the gRPC port, with OpenSSL: a server context from a certificate
 * chain and key file, ALPN that insists on "h2", TLS 1.2 or later, and
 * non-blocking read/write helpers the I/O thread uses in place of
 * recv/send. The handshake needs no step of its own: the first read or
 * write on a new connection drives it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_GRPC_TLS_H
#define CAM_GRPC_TLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct cam_grpc_tls cam_grpc_tls;
typedef struct ssl_st SSL;

/* Client certificates: verified against a CA; the caller a certificate
 * names is its URI SAN spiffe://<trust_domain>/agent/<caller>, else its
 * subject CN. */
struct cam_grpc_tls_clients {
	const char *ca_file;      /* PEM CA certificate(s) */
	bool require;             /* no certificate: the handshake fails */
	const char *trust_domain; /* NULL or "": "cam-os" */
};

/* Loads cert (PEM chain) and key; with clients, asks for client
 * certificates. CAM_EINVAL with the reason in why. */
int cam_grpc_tls_new(const char *cert_file, const char *key_file,
		     const struct cam_grpc_tls_clients *clients, cam_grpc_tls **out, char *why,
		     size_t why_len);

/*
 * Who a connection's verified client certificate names, shared by the
 * connection and its calls (refcounted). caller is "" when the
 * certificate names nobody acceptable, and error says why (a SPIFFE ID in
 * another trust domain, no CN).
 */
struct cam_grpc_peer_id {
	atomic_int refs;
	char caller[128];
	char error[200];
};
/* The identity of ssl's peer once its handshake is done: NULL without a
 * client certificate (or without client certificates asked for). */
struct cam_grpc_peer_id *cam_grpc_tls_peer_id(const cam_grpc_tls *t, SSL *ssl);
void cam_grpc_peer_id_ref(struct cam_grpc_peer_id *p);
/* NULL is a no-op. */
void cam_grpc_peer_id_unref(struct cam_grpc_peer_id *p);
/* Whether ssl's handshake is done. */
bool cam_grpc_tls_handshaken(SSL *ssl);
/* NULL is a no-op. */
void cam_grpc_tls_free(cam_grpc_tls *t);
/* A server-side TLS object on fd; NULL when out of memory. Free with
 * cam_grpc_tls_conn_free. */
SSL *cam_grpc_tls_conn_new(cam_grpc_tls *t, int fd);
void cam_grpc_tls_conn_free(SSL *ssl);

/*
 * Both return bytes moved (> 0), 0 when the socket has to become readable
 * (*want_write false) or writable (*want_write true) first, or -1 when the
 * connection is finished (closed by the peer, handshake refused, error).
 */
ssize_t cam_grpc_tls_read(SSL *ssl, void *buf, size_t len, bool *want_write);
ssize_t cam_grpc_tls_write(SSL *ssl, const void *buf, size_t len, bool *want_write);

#endif
