/* TLS for the gRPC port: see tls.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "kernel/grpc/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/error.h"
#include "common/log.h"
#include "common/xmalloc.h"

struct cam_grpc_tls {
	SSL_CTX *ctx;
	bool clients;
	char trust_domain[128];
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

/* Asks for client certificates signed by the CA in ca_file. */
static int ask_clients(SSL_CTX *ctx, const struct cam_grpc_tls_clients *c, char *why,
		       size_t why_len)
{
	STACK_OF(X509_NAME) *names;

	if (SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL) != 1 ||
	    !(names = SSL_load_client_CA_file(c->ca_file))) {
		openssl_reason(why, why_len, "cannot load client CA", c->ca_file);
		return CAM_EINVAL;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (c->require ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
			   NULL);
	SSL_CTX_set_verify_depth(ctx, 4);
	return 0;
}

int cam_grpc_tls_new(const char *cert_file, const char *key_file,
		     const struct cam_grpc_tls_clients *clients, cam_grpc_tls **out, char *why,
		     size_t why_len)
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
	if (clients && clients->ca_file && ask_clients(ctx, clients, why, why_len))
		goto out_free;
	t = cam_xcalloc(1, sizeof(*t));
	t->ctx = ctx;
	t->clients = clients && clients->ca_file;
	snprintf(t->trust_domain, sizeof(t->trust_domain), "%s",
		 clients && clients->trust_domain && *clients->trust_domain ? clients->trust_domain
									   : "cam-os");
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

bool cam_grpc_tls_handshaken(SSL *ssl)
{
	return SSL_is_init_finished(ssl);
}

void cam_grpc_peer_id_ref(struct cam_grpc_peer_id *p)
{
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

void cam_grpc_peer_id_unref(struct cam_grpc_peer_id *p)
{
	if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
		free(p);
}

/* A caller name from a certificate: 1-127 bytes of [A-Za-z0-9_.@/-]. */
static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 127)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-' || c == '@' || c == '/'))
			return false;
	}
	return true;
}

/* The caller of a spiffe://<td>/agent/<caller> URI SAN: 1 found, 0 no
 * SPIFFE ID, -1 one that names nobody here (p->error says why). */
static int from_spiffe(const cam_grpc_tls *t, X509 *x, struct cam_grpc_peer_id *p)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int found = 0;

	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && found <= 0; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		const char *uri;
		size_t n, tdn = strlen(t->trust_domain);

		if (g->type != GEN_URI)
			continue;
		uri = (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
		n = (size_t)ASN1_STRING_length(g->d.uniformResourceIdentifier);
		if (n < 9 || strncmp(uri, "spiffe://", 9))
			continue;
		if (n > 9 + tdn + 7 && strncmp(uri + 9, t->trust_domain, tdn) == 0 &&
		    strncmp(uri + 9 + tdn, "/agent/", 7) == 0 &&
		    name_ok(uri + 16 + tdn, n - 16 - tdn)) {
			memcpy(p->caller, uri + 16 + tdn, n - 16 - tdn);
			p->caller[n - 16 - tdn] = '\0';
			found = 1;
		} else {
			snprintf(p->error, sizeof(p->error),
				 "client certificate's SPIFFE ID %.80s is not spiffe://%.40s/agent/<caller>",
				 uri, t->trust_domain);
			found = -1;
		}
	}
	GENERAL_NAMES_free(sans);
	return found;
}

struct cam_grpc_peer_id *cam_grpc_tls_peer_id(const cam_grpc_tls *t, SSL *ssl)
{
	struct cam_grpc_peer_id *p;
	X509 *x;
	char cn[128];
	int n;

	if (!t->clients || !(x = SSL_get1_peer_certificate(ssl)))
		return NULL;
	p = cam_xcalloc(1, sizeof(*p));
	atomic_init(&p->refs, 1);
	if (SSL_get_verify_result(ssl) != X509_V_OK)
		snprintf(p->error, sizeof(p->error), "client certificate not verified");
	else if (from_spiffe(t, x, p) == 0) {
		n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
					      sizeof(cn));
		if (n > 0 && name_ok(cn, (size_t)n))
			memcpy(p->caller, cn, (size_t)n + 1);
		else
			snprintf(p->error, sizeof(p->error), "client certificate names no caller "
				 "(no spiffe://%.40s/agent/<caller> URI SAN, no usable subject CN)",
				 t->trust_domain);
	}
	X509_free(x);
	return p;
}
