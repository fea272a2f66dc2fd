/*
 * libcurl, loaded when span export is first configured.
 *
 * Only the span shipper (traces.c) needs libcurl, and libcurl brings some
 * thirty shared libraries with it (GnuTLS, Kerberos, LDAP, libssh2...):
 * linked at start, they were two thirds of the exporter's resident memory
 * in a pod that exports no spans. So the exporter dlopen()s libcurl.so.4
 * the first time a trace endpoint is set and reaches it through this
 * table. The header still gives the types and constants.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_CURL_LIB_H
#define CAM_EXPORTER_CURL_LIB_H

#include <curl/curl.h>
#include <stddef.h>

struct cam_curl_lib {
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *curl);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *curl);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
};

/*
 * The table, loading libcurl.so.4 on the first call (thread-safe; the
 * library stays loaded for the life of the process). NULL when it cannot
 * be loaded, with why in err.
 */
const struct cam_curl_lib *cam_curl_lib(char *err, size_t errlen);

#endif
