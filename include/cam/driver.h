/*
 * The CAM-OS driver ABI, version 1: what a driver shared object exports.
 *
 * A driver is a shared object plus a JSON manifest (see README, "Drivers").
 * cam-kernel never loads a driver into itself: each driver runs in its own
 * helper process (cam-driver-host), which dlopens the object, checks the
 * symbols below and calls them one at a time, from one thread. A driver
 * therefore needs no locking of its own, and a crash, a hang or a leak ends
 * only its helper process (the kernel recycles it).
 *
 * Exported symbols (all required; a missing one refuses the load):
 *
 *   const uint32_t cam_driver_abi_version;   use CAM_DRIVER_DEFINE_ABI
 *   int  cam_driver_init(const char *config, void **state);
 *   int  cam_driver_invoke(void *state, const char *operation,
 *                          const char *input, size_t input_len,
 *                          struct cam_driver_buf *out);
 *   int  cam_driver_health(void *state, char *msg, size_t msglen);
 *   void cam_driver_shutdown(void *state);
 *
 * C++ drivers include this header as it is: the declarations below give
 * the definitions C linkage.
 *
 * This header is the only supported interface; anything else in the
 * CAM-OS tree may change without notice. A change that breaks drivers
 * bumps CAM_DRIVER_ABI_VERSION, and the kernel refuses a driver whose
 * manifest or object declares another version.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_DRIVER_H
#define CAM_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CAM_DRIVER_ABI_VERSION 1

/* Largest input and output of one invoke, in bytes. */
#define CAM_DRIVER_MAX_INPUT (64 * 1024)
#define CAM_DRIVER_MAX_OUTPUT (64 * 1024 - 64)

#define CAM_DRIVER_EXPORT __attribute__((visibility("default")))

/* Put once in the driver's source file. (In C++ the declaration below
 * gives it C linkage and visibility; repeating the attribute on the
 * definition is refused there.) */
#ifdef __cplusplus
#define CAM_DRIVER_DEFINE_ABI const uint32_t cam_driver_abi_version = CAM_DRIVER_ABI_VERSION
#else
#define CAM_DRIVER_DEFINE_ABI \
	CAM_DRIVER_EXPORT const uint32_t cam_driver_abi_version = CAM_DRIVER_ABI_VERSION
#endif

/*
 * What init, invoke and health return: 0 for success, a negative code for
 * failure. The caller sees each as a gRPC status (in brackets).
 */
enum cam_driver_status {
	CAM_DRIVER_OK = 0,
	CAM_DRIVER_EINVAL = -1,    /* bad input or configuration (INVALID_ARGUMENT) */
	CAM_DRIVER_ENOTFOUND = -2, /* the thing asked for does not exist (NOT_FOUND) */
	CAM_DRIVER_ENOTSUP = -3,   /* unknown operation (UNIMPLEMENTED) */
	CAM_DRIVER_ELIMIT = -4,    /* out of room: output, entries... (RESOURCE_EXHAUSTED) */
	CAM_DRIVER_EUNAVAIL = -5,  /* a backend is down, try later (UNAVAILABLE) */
	CAM_DRIVER_EFAIL = -6,     /* anything else (INTERNAL) */
};

/* cam_driver_health's answer (it returns one of these, never an error). */
enum cam_driver_health {
	CAM_DRIVER_HEALTHY = 0,
	CAM_DRIVER_DEGRADED = 1,
	CAM_DRIVER_UNHEALTHY = 2,
};

/*
 * The output of one invoke: cap bytes at data, len used so far. The host
 * owns the memory; a driver appends with cam_driver_buf_append or writes
 * data[len..cap) itself and updates len. On success the output is the
 * result; on failure it is the error message the caller sees.
 */
struct cam_driver_buf {
	char *data;
	size_t cap;
	size_t len;
};

/* Appends n bytes; CAM_DRIVER_ELIMIT (and nothing appended) when full. */
static inline int cam_driver_buf_append(struct cam_driver_buf *b, const char *s, size_t n)
{
	if (n > b->cap - b->len)
		return CAM_DRIVER_ELIMIT;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	return CAM_DRIVER_OK;
}

static inline int cam_driver_buf_puts(struct cam_driver_buf *b, const char *s)
{
	return cam_driver_buf_append(b, s, strlen(s));
}

/*
 * init: called once per helper process, before any other call, with the
 * configuration string (the manifest's "config", or driver_load's config
 * key; "" when none). Sets *state for the other calls. A non-zero return
 * refuses the load (or the restart); shutdown is then not called.
 *
 * invoke: runs one operation (one of the manifest's capabilities) on input
 * (input_len bytes, NUL-terminated as a convenience). May take as long as it
 * needs: the kernel enforces the caller's deadline by killing the helper.
 *
 * health: fills msg (msglen bytes, NUL-terminated) with a short status and
 * returns a cam_driver_health value. Must be quick.
 *
 * shutdown: releases state. Called on driver_unload and kernel stop; a
 * driver killed for a crash or a hang gets no shutdown call.
 */
/* Declared here so that CAM_DRIVER_DEFINE_ABI defines it with C linkage
 * in C++ too (a const object would otherwise be local to its file). */
CAM_DRIVER_EXPORT extern const uint32_t cam_driver_abi_version;

CAM_DRIVER_EXPORT int cam_driver_init(const char *config, void **state);
CAM_DRIVER_EXPORT int cam_driver_invoke(void *state, const char *operation,
					const char *input, size_t input_len,
					struct cam_driver_buf *out);
CAM_DRIVER_EXPORT int cam_driver_health(void *state, char *msg, size_t msglen);
CAM_DRIVER_EXPORT void cam_driver_shutdown(void *state);

#ifdef __cplusplus
}
#endif

#endif
