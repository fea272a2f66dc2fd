/*
 * gRPC wire helpers that know nothing of sockets or HTTP/2: the grpc-timeout
 * header, the percent-encoding of grpc-message, the 5-byte length-prefixed
 * message framing and gzip decompression of a message.
 *
 * Pure functions over caller buffers, so the unit tests drive them with
 * arbitrary inputs and chunk splits.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_GRPC_WIRE_H
#define CAM_GRPC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default and hard limits of one message, in bytes. */
#define CAM_GRPC_WIRE_DEFAULT_MAX (4u * 1024 * 1024)
#define CAM_GRPC_WIRE_HEADER 5

/*
 * Parses a grpc-timeout value ("1-8 digits" then one of H M S m u n) into
 * nanoseconds in *ns, saturating at INT64_MAX. Returns 0, or CAM_EINVAL for
 * anything else (empty, 9+ digits, unknown unit, trailing bytes).
 */
int cam_grpc_wire_timeout_parse(const char *s, size_t len, int64_t *ns);

/*
 * Writes src percent-encoded as grpc-message wants (bytes outside 0x20-0x7e
 * and '%' become %XX) into dst, always NUL-terminated, never cutting an
 * escape in half. Returns the length written (< cap). cap must be >= 1.
 */
size_t cam_grpc_wire_percent_encode(char *dst, size_t cap, const char *src);

/*
 * Called once per complete message. flags is the compressed-flag byte; msg
 * comes from common/tcache.h (NULL when len is 0: free it with
 * cam_tcache_free, so a warm thread allocates nothing per message) and now
 * belongs to the callee, even when it returns an error. A negative return
 * stops the feed and is passed on.
 */
typedef int (*cam_grpc_wire_message_fn)(void *arg, uint8_t flags,
					uint8_t *msg, size_t len);

/* Reassembles length-prefixed messages from chunks of any size. */
struct cam_grpc_wire_framer {
	uint8_t hdr[CAM_GRPC_WIRE_HEADER];
	uint8_t hdr_len;    /* header bytes gathered so far */
	uint32_t msg_len;   /* length announced by the current header */
	uint8_t *buf;       /* body being gathered; NULL between messages */
	size_t have;        /* body bytes gathered */
	size_t cap;         /* bytes allocated at buf: grows with what arrives */
	size_t max;         /* largest message accepted */
};

void cam_grpc_wire_framer_init(struct cam_grpc_wire_framer *f, size_t max);
/* Frees a partial message; the framer may be reused after init. */
void cam_grpc_wire_framer_free(struct cam_grpc_wire_framer *f);
/*
 * Feeds len bytes. Returns 0; CAM_ELIMIT as soon as a header announces more
 * than max (nothing of that message is buffered); CAM_ENOMEM; or the
 * callback's error. After an error the framer must only be freed. Memory
 * follows the bytes that arrived, not the length a header announces.
 */
int cam_grpc_wire_framer_feed(struct cam_grpc_wire_framer *f,
			      const uint8_t *data, size_t len,
			      cam_grpc_wire_message_fn fn, void *arg);
/* True when no message is half-received. */
bool cam_grpc_wire_framer_idle(const struct cam_grpc_wire_framer *f);
/* At most how many bytes feeding len more would allocate (so a caller
 * can refuse before memory is taken). */
size_t cam_grpc_wire_framer_growth(const struct cam_grpc_wire_framer *f, size_t len);

/* Writes the 5-byte prefix of an uncompressed message of len bytes. */
void cam_grpc_wire_put_header(uint8_t out[CAM_GRPC_WIRE_HEADER], size_t len);

/*
 * Inflates a gzip message into a new buffer (*out, from common/tcache.h like
 * the framer's messages; *out_len). Returns 0; CAM_ELIMIT when the result
 * would pass max; CAM_EPROTO for bad data; CAM_ENOMEM.
 */
int cam_grpc_wire_gunzip(const uint8_t *in, size_t len, size_t max,
			 uint8_t **out, size_t *out_len);

#endif
