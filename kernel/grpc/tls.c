/* TLS for the gRPC port: see tls.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "kernel/grpc/tls.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/error.h"
#include "common/log.h"
#include "common/xmalloc.h"

struct cam_grpc_tls {
	SSL_CTX *ctx;
};

/* gRPC runs over HTTP/2 only: a client that does not offer h2 is refused
 * during the handshake rather than spoken to in a protocol it expects. */
static int select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		     const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (unsigned int i = 0; i + 1 <= inlen;) {
		unsigned int n = in[i];
		if (i + 1 + n > inlen)
			break;
		if (n == 2 && memcmp(in + i + 1, "h2", 2) == 0) {
			*out = in + i + 1;
			*outlen = 2;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static void openssl_reason(char *why, size_t why_len, const char *what, const char *file)
{
	char err[200];

	ERR_error_string_n(ERR_get_error(), err, sizeof(err));
	snprintf(why, why_len, "%s %s: %s", what, file, err);
}

int cam_grpc_tls_new(const char *cert_file, const char *key_file, cam_grpc_tls **out,
		     char *why, size_t why_len)
{
	cam_grpc_tls *t;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		snprintf(why, why_len, "cannot create a TLS context");
		return CAM_ENOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* HTTP/2 (RFC 9113 9.2) forbids renegotiation and compression. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		openssl_reason(why, why_len, "cannot load certificate", cert_file);
		goto out_free;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		openssl_reason(why, why_len, "cannot load key", key_file);
		goto out_free;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(why, why_len, "key %s does not match certificate %s", key_file, cert_file);
		goto out_free;
	}
	SSL_CTX_set_alpn_select_cb(ctx, select_h2, NULL);
	t = cam_xcalloc(1, sizeof(*t));
	t->ctx = ctx;
	*out = t;
	return 0;
out_free:
	SSL_CTX_free(ctx);
	return CAM_EINVAL;
}

void cam_grpc_tls_free(cam_grpc_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

SSL *cam_grpc_tls_conn_new(cam_grpc_tls *t, int fd)
{
	SSL *ssl = SSL_new(t->ctx);

	if (!ssl)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

void cam_grpc_tls_conn_free(SSL *ssl)
{
	SSL_free(ssl);
}

/* Maps an OpenSSL result to the contract of tls.h. */
static ssize_t outcome(SSL *ssl, int n, bool *want_write)
{
	int err;

	if (n > 0)
		return n;
	err = SSL_get_error(ssl, n);
	*want_write = err == SSL_ERROR_WANT_WRITE;
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
		return 0;
	if (err != SSL_ERROR_ZERO_RETURN && err != SSL_ERROR_SYSCALL) {
		char msg[200];
		ERR_error_string_n(ERR_peek_last_error(), msg, sizeof(msg));
		cam_log(CAM_LOG_DEBUG, "grpc", "TLS connection failed: %s", msg);
	}
	ERR_clear_error();
	return -1;
}

ssize_t cam_grpc_tls_read(SSL *ssl, void *buf, size_t len, bool *want_write)
{
	int n = SSL_read(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);

	return outcome(ssl, n, want_write);
}

ssize_t cam_grpc_tls_write(SSL *ssl, const void *buf, size_t len, bool *want_write)
{
	int n = SSL_write(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);

	return outcome(ssl, n, want_write);
}
