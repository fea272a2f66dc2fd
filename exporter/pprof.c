/*
 * The profiling channel client (pprof.h): one nng req socket per request,
 * dialled synchronously so an absent kernel is an immediate error rather
 * than a wait for the timeout.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/pprof.h"

#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "common/error.h"
#include "common/xmalloc.h"

int cam_pprof_request(const char *addr, const char *request, int timeout_ms,
		      struct cam_pprof_reply *r)
{
	nng_socket sock;
	nng_msg *m = NULL;
	int rv, rc;

	memset(r, 0, sizeof(*r));
	if (nng_req0_open(&sock) != 0)
		return CAM_ENOMEM;
	if ((rv = nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, timeout_ms)) ||
	    (rv = nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, 1000)) ||
	    /* A profile takes its seconds: never resend the request. */
	    (rv = nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) ||
	    (rv = nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, CAM_PPROF_MAX_BYTES + 1))) {
		rc = CAM_EINTERNAL;
		goto out_close;
	}
	if ((rv = nng_dial(sock, addr, NULL, 0))) {
		rc = rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? CAM_EINVAL : CAM_EUNAVAIL;
		goto out_close;
	}
	if ((rv = nng_send(sock, (void *)request, strlen(request), 0))) {
		rc = CAM_EUNAVAIL;
		goto out_close;
	}
	rv = nng_recvmsg(sock, &m, 0);
	if (rv) {
		rc = rv == NNG_ETIMEDOUT ? CAM_ETIMEDOUT : CAM_EUNAVAIL;
		goto out_close;
	}
	if (nng_msg_len(m) < 1) {
		rc = CAM_EPROTO;
		goto out_free_msg;
	}
	r->status = ((const uint8_t *)nng_msg_body(m))[0];
	r->len = nng_msg_len(m) - 1;
	r->data = cam_xmalloc(r->len + 1);
	memcpy(r->data, (const uint8_t *)nng_msg_body(m) + 1, r->len);
	r->data[r->len] = '\0';
	rc = 0;
out_free_msg:
	nng_msg_free(m);
out_close:
	nng_close(sock);
	return rc;
}
