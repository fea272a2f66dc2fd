/*
 * An index over a serialized google.protobuf.FileDescriptorSet: files by
 * name, the file declaring a fully-qualified symbol, and the services, so
 * server reflection can answer from the set embedded at build time.
 *
 * A small hand-written reader of the protobuf wire format: protobuf-c does
 * not ship descriptor.proto's generated code, and only names are needed.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_GRPC_DESCSET_H
#define CAM_GRPC_DESCSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct cam_grpc_descset cam_grpc_descset;

struct cam_grpc_descset_file {
	char *name;           /* "cam.proto" */
	const uint8_t *data;  /* the serialized FileDescriptorProto (in the set) */
	size_t len;
	char **deps;          /* names of the files it imports */
	size_t ndeps;
};

/*
 * Indexes set (which must outlive the index). Returns 0, CAM_EPROTO for a
 * malformed set, CAM_ENOMEM.
 */
int cam_grpc_descset_new(const uint8_t *set, size_t len, cam_grpc_descset **out);
void cam_grpc_descset_free(cam_grpc_descset *d);

size_t cam_grpc_descset_nfiles(const cam_grpc_descset *d);
const struct cam_grpc_descset_file *cam_grpc_descset_file(const cam_grpc_descset *d,
							   size_t i);
/* Index of the file, or -1. */
int cam_grpc_descset_find_file(const cam_grpc_descset *d, const char *name);
/* Index of the file declaring a message, enum, service, method or
 * extension by full name ("cam.SyscallRequest"), or -1. A leading '.' is
 * allowed. */
int cam_grpc_descset_find_symbol(const cam_grpc_descset *d, const char *symbol);
/* True if symbol names a message type. */
int cam_grpc_descset_is_message(const cam_grpc_descset *d, const char *symbol);
/* Full service names, in file order. */
size_t cam_grpc_descset_nservices(const cam_grpc_descset *d);
const char *cam_grpc_descset_service(const cam_grpc_descset *d, size_t i);
/*
 * Writes into idx (cap entries) the file i followed by everything it
 * imports, transitively, each once. Returns the count.
 */
size_t cam_grpc_descset_closure(const cam_grpc_descset *d, size_t i, size_t *idx,
				size_t cap);

#endif
