/*
 * The string fields of a protobuf message, read as the wire has them.
 *
 * protobuf-c hands string fields over as C strings, so a NUL byte inside
 * one silently cuts it short, and it never checks UTF-8. proto3 says a
 * string is valid UTF-8 (strict clients refuse to decode anything else,
 * and we would echo it back in results); binary belongs in bytes fields.
 * So before a request is unpacked, its string fields are checked here,
 * straight from the bytes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_WIRE_STRINGS_H
#define CAM_SYSCALL_WIRE_STRINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The number of the first field among fields[0..n) (the message's string
 * fields) whose value is not valid UTF-8 or holds a NUL byte; 0 when all
 * are text, or when the message does not parse (unpacking then says so).
 */
uint32_t cam_wire_bad_string(const uint8_t *msg, size_t len, const uint32_t *fields, size_t n);
/* The value of length-delimited field `field` (the last one, as proto3
 * reads it) in *val / *vlen; false when it is not there or the message
 * does not parse. Allocates nothing: for the I/O thread's classifier. */
bool cam_wire_field(const uint8_t *msg, size_t len, uint32_t field, const uint8_t **val,
		    size_t *vlen);

/* What the Execute classifier reads of a SyscallRequest in one walk:
 * verb (1), payload (2), caller_id (3), priority (5, a varint). */
struct cam_wire_request {
	const uint8_t *verb, *payload, *caller_id;
	size_t verb_len, payload_len, caller_id_len;
	bool has_priority;
	uint64_t priority;
	uint32_t bad_string; /* the first of fields 1-3 that is not UTF-8 text; 0: none */
};
/* False when the message does not parse; fields not there stay NULL. */
bool cam_wire_request_peek(const uint8_t *msg, size_t len, struct cam_wire_request *out);

#endif
