/*
 * Driver manifests: the JSON file beside each driver object, parsed with
 * yajl and checked field by field before anything is loaded.
 *
 * {
 *   "name": "kv_cache",                  [a-z][a-z0-9_]{0,47}; the folder name
 *   "version": "1.0.0", "author": "...", "license": "MIT",
 *   "description": "...",                optional
 *   "abi_version": 1,                    CAM_DRIVER_ABI_VERSION
 *   "library": "kv_cache.so",            a file in the manifest's folder
 *   "sha256": "64 hex digits",           of the library, checked before loading
 *   "price_micro_usd": 20,               price per successful invoke, in
 *                                        micro-dollars (USD 1e-6), integer >= 0
 *   "capabilities": ["get", "set"],      the operations driver_invoke accepts
 *   "timeout_ms": 2000,                  optional: invoke deadline (default 5000)
 *   "memory_limit_mb": 256,              optional: helper address-space cap
 *   "instances": 1,                      optional: helper processes (1-8)
 *   "config": "..."                      optional: string given to init (< 4 KiB)
 * }
 * Unknown keys are refused, so a misspelt field is an error, not a default.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_DRIVERS_MANIFEST_H
#define CAM_DRIVERS_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define CAM_MANIFEST_MAX_BYTES (64 * 1024)
#define CAM_MANIFEST_MAX_NAME 48
#define CAM_MANIFEST_MAX_CAPS 32
#define CAM_MANIFEST_MAX_INSTANCES 8

struct cam_manifest {
	char name[CAM_MANIFEST_MAX_NAME + 1];
	char version[33];
	char author[129];
	char license[65];
	char description[257];
	char library[129];
	char sha256[65];          /* lower-case hex */
	unsigned abi_version;
	uint64_t price_micro_usd;
	size_t ncaps;
	char caps[CAM_MANIFEST_MAX_CAPS][49];
	unsigned timeout_ms;
	unsigned memory_limit_mb;
	unsigned instances;
	char *config;             /* owned; "" when absent */
};

/*
 * Parses and checks len bytes of JSON into m. 0, or CAM_EINVAL with a
 * message naming the field in why (whylen bytes); m then holds nothing to
 * free. Free a parsed manifest with cam_manifest_free.
 */
int cam_manifest_parse(const char *json, size_t len, struct cam_manifest *m,
		       char *why, size_t whylen);
void cam_manifest_free(struct cam_manifest *m);
/* True when op is one of the manifest's capabilities. */
int cam_manifest_has_cap(const struct cam_manifest *m, const char *op);
/* True for a valid driver or operation name: [a-z][a-z0-9_]*, 1 to max
 * bytes (a driver name is also a result key in driver_list). */
int cam_manifest_name_valid(const char *s, size_t max);

#endif
