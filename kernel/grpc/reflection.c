/*
 * Server reflection: one response per request on a bidirectional stream.
 * The work is a lookup in an immutable index, so it runs in the stream
 * callbacks on the I/O thread. v1 and v1alpha share one wire format, so
 * both are decoded with the v1 generated code.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/grpc/reflection.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "kernel/grpc/descset.h"
#include "proto/grpc/reflection/v1/reflection.pb-c.h"

#define MAX_FILES 64

typedef Grpc__Reflection__V1__ServerReflectionRequest refl_req;
typedef Grpc__Reflection__V1__ServerReflectionResponse refl_resp;

/* Built once, never changed, never freed: shared by every server. */
static cam_grpc_descset *index_;
static int index_rc;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void build_index(void)
{
	index_rc = cam_grpc_descset_new(cam_grpc_descriptor_set,
					cam_grpc_descriptor_set_len, &index_);
}

static void set_error(refl_resp *r, Grpc__Reflection__V1__ErrorResponse *e,
		      int code, const char *text)
{
	e->error_code = code;
	e->error_message = (char *)text;
	r->message_response_case =
		GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
	r->error_response = e;
}

/* Scratch space for one response: everything it points to. */
struct answer {
	refl_resp resp;
	Grpc__Reflection__V1__ErrorResponse err;
	Grpc__Reflection__V1__FileDescriptorResponse files;
	ProtobufCBinaryData blobs[MAX_FILES];
	Grpc__Reflection__V1__ListServiceResponse list;
	Grpc__Reflection__V1__ServiceResponse svc[MAX_FILES];
	Grpc__Reflection__V1__ServiceResponse *svcp[MAX_FILES];
	Grpc__Reflection__V1__ExtensionNumberResponse ext;
};

static void answer_files(struct answer *a, int file, const char *what)
{
	size_t idx[MAX_FILES], n;

	if (file < 0) {
		set_error(&a->resp, &a->err, CAM_GRPC_NOT_FOUND, what);
		return;
	}
	n = cam_grpc_descset_closure(index_, (size_t)file, idx, MAX_FILES);
	for (size_t i = 0; i < n; i++) {
		const struct cam_grpc_descset_file *f = cam_grpc_descset_file(index_, idx[i]);

		a->blobs[i].data = (uint8_t *)f->data;
		a->blobs[i].len = f->len;
	}
	a->files.n_file_descriptor_proto = n;
	a->files.file_descriptor_proto = a->blobs;
	a->resp.message_response_case =
		GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
	a->resp.file_descriptor_response = &a->files;
}

static void answer_list(struct answer *a)
{
	size_t n = cam_grpc_descset_nservices(index_);

	if (n > MAX_FILES)
		n = MAX_FILES;
	for (size_t i = 0; i < n; i++) {
		grpc__reflection__v1__service_response__init(&a->svc[i]);
		a->svc[i].name = (char *)cam_grpc_descset_service(index_, i);
		a->svcp[i] = &a->svc[i];
	}
	a->list.n_service = n;
	a->list.service = a->svcp;
	a->resp.message_response_case =
		GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
	a->resp.list_services_response = &a->list;
}

static void answer(struct answer *a, refl_req *req)
{
	switch (req->message_request_case) {
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
		answer_list(a);
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
		answer_files(a, cam_grpc_descset_find_file(index_, req->file_by_filename),
			     "file not found");
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
		answer_files(a, cam_grpc_descset_find_symbol(index_,
							     req->file_containing_symbol),
			     "symbol not found");
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
		set_error(&a->resp, &a->err, CAM_GRPC_NOT_FOUND, "extension not found");
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
		if (!cam_grpc_descset_is_message(index_, req->all_extension_numbers_of_type)) {
			set_error(&a->resp, &a->err, CAM_GRPC_NOT_FOUND, "type not found");
			break;
		}
		a->ext.base_type_name = req->all_extension_numbers_of_type;
		a->resp.message_response_case =
			GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
		a->resp.all_extension_numbers_response = &a->ext;
		break;
	default:
		set_error(&a->resp, &a->err, CAM_GRPC_UNIMPLEMENTED,
			  "request type not supported");
		break;
	}
}

static void on_message(void *arg, struct cam_grpc_call *c, const uint8_t *msg,
		       size_t len)
{
	struct answer *a;
	refl_req *req;
	uint8_t *out;
	size_t n;

	(void)arg;
	req = grpc__reflection__v1__server_reflection_request__unpack(NULL, len, msg);
	if (!req) {
		cam_grpc_call_end(c, CAM_GRPC_INVALID_ARGUMENT,
				  "malformed ServerReflectionRequest");
		return;
	}
	a = cam_xcalloc(1, sizeof(*a));
	grpc__reflection__v1__server_reflection_response__init(&a->resp);
	grpc__reflection__v1__error_response__init(&a->err);
	grpc__reflection__v1__file_descriptor_response__init(&a->files);
	grpc__reflection__v1__list_service_response__init(&a->list);
	grpc__reflection__v1__extension_number_response__init(&a->ext);
	a->resp.valid_host = req->host;
	a->resp.original_request = req;
	answer(a, req);
	n = grpc__reflection__v1__server_reflection_response__get_packed_size(&a->resp);
	out = cam_xmalloc(n);
	grpc__reflection__v1__server_reflection_response__pack(&a->resp, out);
	cam_grpc_call_send(c, out, n);
	free(out);
	free(a);
	grpc__reflection__v1__server_reflection_request__free_unpacked(req, NULL);
}

static void on_half_close(void *arg, struct cam_grpc_call *c)
{
	(void)arg;
	cam_grpc_call_end(c, CAM_GRPC_OK, NULL);
}

static const struct cam_grpc_stream_ops reflection_ops = {
	.on_message = on_message,
	.on_half_close = on_half_close,
};

int cam_grpc_reflection_register(cam_grpc_server *s)
{
	int rc;

	pthread_once(&index_once, build_index);
	if (index_rc) {
		cam_log(CAM_LOG_ERROR, "grpc", "embedded descriptor set unreadable");
		return index_rc;
	}
	rc = cam_grpc_server_add_stream_method(
		s, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
		&reflection_ops, NULL);
	if (rc)
		return rc;
	return cam_grpc_server_add_stream_method(
		s, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
		&reflection_ops, NULL);
}
