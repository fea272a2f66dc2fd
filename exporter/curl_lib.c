/*
 * libcurl through dlopen(): see curl_lib.h for why.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/curl_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define CURL_SONAME "libcurl.so.4"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct cam_curl_lib lib;
static const struct cam_curl_lib *loaded;
static char why[256];

/* dlsym() returns void *; a function pointer is copied out of it bytewise,
 * which ISO C allows where a cast would not. */
static int bind_sym(void *h, const char *name, void *slot, size_t size)
{
	void *sym = dlsym(h, name);

	if (!sym) {
		snprintf(why, sizeof(why), "%s has no %s", CURL_SONAME, name);
		return -1;
	}
	memcpy(slot, &sym, size);
	return 0;
}

#define BIND(h, field, name) bind_sym(h, name, &lib.field, sizeof(lib.field))

static void load(void)
{
	void *h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *e;

	if (!h) {
		e = dlerror();
		snprintf(why, sizeof(why), "span export needs %s (Debian: libcurl4): %s",
			 CURL_SONAME, e ? e : "not found");
		return;
	}
	if (BIND(h, global_init, "curl_global_init") ||
	    BIND(h, global_cleanup, "curl_global_cleanup") ||
	    BIND(h, easy_init, "curl_easy_init") ||
	    BIND(h, easy_setopt, "curl_easy_setopt") ||
	    BIND(h, easy_perform, "curl_easy_perform") ||
	    BIND(h, easy_getinfo, "curl_easy_getinfo") ||
	    BIND(h, easy_cleanup, "curl_easy_cleanup") ||
	    BIND(h, easy_strerror, "curl_easy_strerror") ||
	    BIND(h, slist_append, "curl_slist_append") ||
	    BIND(h, slist_free_all, "curl_slist_free_all")) {
		dlclose(h);
		return;
	}
	loaded = &lib;
}

const struct cam_curl_lib *cam_curl_lib(char *err, size_t errlen)
{
	pthread_once(&once, load);
	if (!loaded && err && errlen)
		snprintf(err, errlen, "%s", why);
	return loaded;
}
