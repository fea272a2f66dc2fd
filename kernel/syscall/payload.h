/*
 * The payload grammar of every syscall: `key:value` pairs separated by
 * commas.
 *
 * The first ':' of a token splits key from value; a token with no ':'
 * continues the previous value, comma included, so
 * "metric_name:c,value:1,labels:app=myapp,env=prod" gives
 * labels = "app=myapp,env=prod". Keys match [a-z_][a-z0-9_]*; empty keys,
 * duplicate keys, a first token with no key and oversized payloads are
 * refused. Results are written in the same grammar.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_PAYLOAD_H
#define CAM_SYSCALL_PAYLOAD_H

#include <stddef.h>

#define CAM_PAYLOAD_MAX_BYTES (64 * 1024)
#define CAM_PAYLOAD_MAX_PAIRS 32
#define CAM_PAYLOAD_MAX_KEY 64

struct cam_payload_pair {
	const char *key;
	const char *value;
	size_t klen, vlen; /* their lengths, so readers need no strlen */
};

struct cam_payload {
	size_t n;
	char *buf; /* owns the strings below: small_buf, or malloc'd */
	/* Last, so a zeroed payload need not zero them (n and buf make it
	 * empty): pairs up to n, the strings they point to. */
	struct cam_payload_pair pairs[CAM_PAYLOAD_MAX_PAIRS];
	char small_buf[192]; /* most payloads fit: no allocation (do not copy the struct) */
};

/*
 * Parses len bytes of s into p. On error returns CAM_EINVAL and writes a
 * message naming the bad key or token into err; p is then empty. Free a
 * parsed payload with cam_payload_free (also fine on an empty one).
 */
int cam_payload_parse(const char *s, size_t len, struct cam_payload *p,
		      char *err, size_t errlen);
void cam_payload_free(struct cam_payload *p);
/* The value of key, or NULL. */
const char *cam_payload_get(const struct cam_payload *p, const char *key);

/* A result being written: "k:v,k2:v2". Grows as needed; never fails. */
/* A result being built. Zero-initialised is empty; it starts in
 * small_buf and moves to the heap when it outgrows it (do not copy the
 * struct). */
struct cam_result {
	char *buf;
	size_t len, cap;
	char small_buf[160];
};
void cam_result_add(struct cam_result *r, const char *key, const char *value);
/* The same with the lengths known (key and value need no NUL). */
void cam_result_addn(struct cam_result *r, const char *key, size_t klen, const char *value,
		     size_t vlen);
void cam_result_addf(struct cam_result *r, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The text so far ("" when empty); owned by r. */
const char *cam_result_str(const struct cam_result *r);
void cam_result_free(struct cam_result *r);

#endif
