/* Strict UTF-8 checks shared by the metrics core, the logger and the codec. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CAM_UTF8_H
#define CAM_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is invalid
 * (overlong, surrogate, past U+10FFFF, truncated). p[0] must not be NUL. */
size_t cam_utf8_seq(const unsigned char *p);
/* True when the NUL-terminated s is valid UTF-8; *len gets strlen(s). */
bool cam_utf8_valid(const char *s, size_t *len);
/* True when the len bytes at p are valid UTF-8 text: no NUL byte among
 * them (text fields end at one in C), nothing read past p + len. */
bool cam_utf8_text(const void *p, size_t len);
/* A copy of the NUL-terminated s (malloc'd, the caller frees it) with
 * every invalid sequence replaced by U+FFFD, so it can go out in a
 * protobuf string; NULL when out of memory. */
char *cam_utf8_repair(const char *s);

#endif
