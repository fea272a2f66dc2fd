/*
 * The profiling channel's kernel side (profiler.h). One request at a time:
 * a CPU profile holds the thread for its seconds, in 100 ms slices so a
 * stop is quick. gperftools writes the CPU profile to a file; it is read
 * back, sent and removed.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/tracing/profiler.h"

#include <dlfcn.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "common/error.h"
#include "common/log.h"
#include "common/pprof_channel.h"
#include "common/xmalloc.h"
#include "kernel/tracing/symbolize.h"

#define COMPONENT "profiler"
#define RECV_TIMEOUT_MS 200

struct cam_profiler {
	nng_socket sock;
	pthread_t thread;
	atomic_bool stopping;
	char heap_dir[64]; /* where the heap profiler may dump; "" = none */
	/* gperftools entry points, found at run time; the profiler thread
	 * alone uses them after cam_profiler_new. */
	int (*cpu_start)(const char *fname);
	void (*cpu_stop)(void);
	void (*heap_start)(const char *prefix);
	void (*heap_stop)(void);
	int (*heap_running)(void);
	char *(*heap_get)(void);
};

static bool load_cpu_profiler(cam_profiler *p)
{
	void *h;

	if (p->cpu_start)
		return true;
	h = dlopen("libprofiler.so.0", RTLD_NOW | RTLD_GLOBAL);
	if (!h)
		return false;
	p->cpu_stop = (void (*)(void))dlsym(h, "ProfilerStop");
	p->cpu_start = (int (*)(const char *))dlsym(h, "ProfilerStart");
	return p->cpu_start && p->cpu_stop;
}

/*
 * Finds the heap profiler, there only when tcmalloc is this process's
 * allocator, and a folder for the dumps it makes on its own.
 */
static void find_heap_profiler(cam_profiler *p)
{
	p->heap_start = (void (*)(const char *))dlsym(RTLD_DEFAULT, "HeapProfilerStart");
	p->heap_stop = (void (*)(void))dlsym(RTLD_DEFAULT, "HeapProfilerStop");
	p->heap_running = (int (*)(void))dlsym(RTLD_DEFAULT, "IsHeapProfilerRunning");
	p->heap_get = (char *(*)(void))dlsym(RTLD_DEFAULT, "GetHeapProfile");
	snprintf(p->heap_dir, sizeof(p->heap_dir), "/tmp/cam-kernel-heap-XXXXXX");
	if (!p->heap_start || !p->heap_stop || !p->heap_running || !p->heap_get ||
	    !mkdtemp(p->heap_dir)) {
		p->heap_dir[0] = '\0';
		p->heap_get = NULL;
	}
}

/* Removes the periodic dumps the heap profiler may have left. */
static void clean_heap_dir(const cam_profiler *p, bool remove_dir)
{
	char cmd[128];

	if (!p->heap_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "%s/kernel", p->heap_dir);
	for (int i = 1; i < 10000; i++) {
		char f[160];
		snprintf(f, sizeof(f), "%s.%04d.heap", cmd, i);
		if (unlink(f) != 0 && i > 16)
			break;
	}
	if (remove_dir)
		rmdir(p->heap_dir);
}

static void reply(cam_profiler *p, int status, const void *data, size_t len)
{
	nng_msg *m;

	if (nng_msg_alloc(&m, 0) != 0)
		return;
	if (nng_msg_append(m, &(uint8_t){ (uint8_t)status }, 1) != 0 ||
	    (len && nng_msg_append(m, data, len) != 0) || nng_sendmsg(p->sock, m, 0) != 0)
		nng_msg_free(m);
}

static void reply_text(cam_profiler *p, int status, const char *text)
{
	reply(p, status, text, strlen(text));
}

/* Reads a whole file into a malloc'd buffer; NULL on failure. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    (size_t)n <= CAM_PPROF_MAX_BYTES && fseek(f, 0, SEEK_SET) == 0) {
		buf = cam_xmalloc((size_t)n + 1);
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static void sleep_slices(cam_profiler *p, long seconds)
{
	struct timespec slice = { 0, 100 * 1000000L };

	for (long i = 0; i < seconds * 10 && !atomic_load(&p->stopping); i++)
		nanosleep(&slice, NULL);
}

/*
 * gperftools' ProfilerStop prints "PROFILE: interrupts/evictions/bytes =
 * ..." with fprintf(stderr), which would put a line that is not JSON in
 * the kernel's log stream. While it runs, stdio's stderr (the FILE, not
 * fd 2: the logger writes fd 2 directly) is a memory stream, and what it
 * said becomes a log line of ours.
 */
static void cpu_stop_quietly(cam_profiler *p)
{
	FILE *real = stderr, *mem;
	char *said = NULL;
	size_t len = 0;

	mem = open_memstream(&said, &len);
	if (!mem) {
		p->cpu_stop();
		return;
	}
	stderr = mem;
	p->cpu_stop();
	stderr = real;
	fclose(mem);
	while (len && (said[len - 1] == '\n' || said[len - 1] == ' '))
		said[--len] = '\0';
	if (len)
		cam_log(CAM_LOG_INFO, COMPONENT, "CPU profile taken (%.200s)", said);
	free(said);
}

static void cpu_profile(cam_profiler *p, long seconds)
{
	char path[] = "/tmp/cam-kernel-cpu-XXXXXX";
	size_t len = 0;
	char *data;
	int fd;

	if (!load_cpu_profiler(p)) {
		reply_text(p, CAM_PPROF_UNAVAILABLE,
			   "CPU profiling needs gperftools' libprofiler.so.0 "
			   "(Debian: libgoogle-perftools4)");
		return;
	}
	fd = mkstemp(path);
	if (fd < 0) {
		reply_text(p, CAM_PPROF_FAILED, "cannot create a temporary file");
		return;
	}
	close(fd);
	if (!p->cpu_start(path)) {
		unlink(path);
		reply_text(p, CAM_PPROF_BUSY, "a CPU profile is already being taken");
		return;
	}
	cam_log(CAM_LOG_INFO, COMPONENT, "taking a %ld s CPU profile", seconds);
	sleep_slices(p, seconds);
	cpu_stop_quietly(p);
	data = slurp(path, &len);
	unlink(path);
	if (!data) {
		reply_text(p, CAM_PPROF_FAILED, "the CPU profile could not be read back");
		return;
	}
	reply(p, CAM_PPROF_OK, data, len);
	free(data);
}

/*
 * Records allocations for the given seconds (the heap profiler makes every
 * allocation slower, so it runs only while asked) and answers with what it
 * saw: what those seconds allocated, and what of it is still in use. When
 * HEAPPROFILE started it for the whole run, the profile covers the run.
 */
static void heap_profile(cam_profiler *p, long seconds)
{
	char prefix[96];
	bool ours = false;
	char *text;

	if (!p->heap_get) {
		reply_text(p, CAM_PPROF_UNAVAILABLE,
			   "heap profiles need tcmalloc as cam-kernel's allocator: install "
			   "libgoogle-perftools4 (the kernel then preloads it when profiling is on), "
			   "or start it with LD_PRELOAD=libtcmalloc.so.4");
		return;
	}
	if (!p->heap_running()) {
		snprintf(prefix, sizeof(prefix), "%s/kernel", p->heap_dir);
		p->heap_start(prefix);
		ours = true;
		cam_log(CAM_LOG_INFO, COMPONENT, "recording allocations for %ld s", seconds);
		sleep_slices(p, seconds);
	}
	text = p->heap_get();
	if (ours)
		p->heap_stop();
	clean_heap_dir(p, false);
	if (!text) {
		reply_text(p, CAM_PPROF_FAILED, "the heap profiler returned nothing");
		return;
	}
	reply(p, CAM_PPROF_OK, text, strlen(text));
	free(text);
}

/* pprof's remote symbolization: names for the addresses of a profile. */
static void symbolize(cam_profiler *p, const char *addrs, size_t len)
{
	char why[160], *out;
	size_t outlen;
	int rc = cam_symbolize(addrs, len, &out, &outlen, why, sizeof(why));

	if (rc) {
		reply_text(p, rc == CAM_EINVAL ? CAM_PPROF_BAD_REQUEST : CAM_PPROF_FAILED, why);
		return;
	}
	reply(p, CAM_PPROF_OK, out, outlen);
	free(out);
}

static void handle(cam_profiler *p, const char *req, size_t len)
{
	char text[64];
	char *end;
	long seconds;

	snprintf(text, sizeof(text), "%.*s", (int)(len < 63 ? len : 63), req);
	if (strncmp(text, "symbol ", 7) == 0) {
		symbolize(p, req + 7, len - 7);
	} else if (strncmp(text, "profile ", 8) == 0) {
		seconds = strtol(text + 8, &end, 10);
		if (*end || seconds < 1 || seconds > CAM_PPROF_MAX_SECONDS)
			reply_text(p, CAM_PPROF_BAD_REQUEST, "seconds must be 1-300");
		else
			cpu_profile(p, seconds);
	} else if (strncmp(text, "heap ", 5) == 0) {
		seconds = strtol(text + 5, &end, 10);
		if (*end || seconds < 1 || seconds > CAM_PPROF_MAX_SECONDS)
			reply_text(p, CAM_PPROF_BAD_REQUEST, "seconds must be 1-300");
		else
			heap_profile(p, seconds);
	} else {
		reply_text(p, CAM_PPROF_BAD_REQUEST, "unknown profile request");
	}
}

static void *profiler_main(void *arg)
{
	cam_profiler *p = arg;
	nng_msg *m;
	int rv;

	while (!atomic_load(&p->stopping)) {
		rv = nng_recvmsg(p->sock, &m, 0);
		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv != 0)
			break;
		handle(p, nng_msg_body(m), nng_msg_len(m));
		nng_msg_free(m);
	}
	return NULL;
}

int cam_profiler_new(const char *addr, cam_profiler **out)
{
	cam_profiler *p = cam_xcalloc(1, sizeof(*p));
	int rv;

	atomic_init(&p->stopping, false);
	if ((rv = nng_rep0_open(&p->sock)))
		goto out_free;
	if ((rv = nng_socket_set_ms(p->sock, NNG_OPT_RECVTIMEO, RECV_TIMEOUT_MS)) ||
	    (rv = nng_socket_set_size(p->sock, NNG_OPT_RECVMAXSZ, CAM_PPROF_MAX_REQUEST)))
		goto out_close;
	if (strncmp(addr, "ipc://", 6) == 0)
		unlink(addr + 6); /* a socket file left by a kernel that died */
	if ((rv = nng_listen(p->sock, addr, NULL, 0))) {
		cam_log(CAM_LOG_ERROR, COMPONENT, "cannot listen on %s: %s", addr,
			nng_strerror(rv));
		goto out_close;
	}
	find_heap_profiler(p);
	if (pthread_create(&p->thread, NULL, profiler_main, p) != 0) {
		rv = NNG_ENOMEM;
		goto out_close;
	}
	cam_log(CAM_LOG_INFO, COMPONENT, "profiling channel on %s (heap profiles %s)", addr,
		p->heap_get ? "on" : "off: tcmalloc is not the allocator");
	*out = p;
	return 0;
out_close:
	nng_close(p->sock);
out_free:
	free(p);
	return rv == NNG_EADDRINUSE ? CAM_EEXIST : CAM_EIO;
}

void cam_profiler_free(cam_profiler *p)
{
	if (!p)
		return;
	atomic_store(&p->stopping, true);
	pthread_join(p->thread, NULL);
	nng_close(p->sock);
	clean_heap_dir(p, true);
	free(p);
}

void cam_profiler_reexec_with_tcmalloc(char **argv)
{
	static const char *const dirs[] = { "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
					    "/usr/lib64", "/usr/lib", "/usr/local/lib" };
	char lib[PATH_MAX], preload[PATH_MAX + 512];
	const char *old = getenv("LD_PRELOAD");

	if (dlsym(RTLD_DEFAULT, "HeapProfilerStart")) {
		/* The re-exec worked: children (driver hosts) get the
		 * environment as it was. */
		if (getenv("CAM_TCMALLOC_REEXEC")) {
			const char *was = getenv("CAM_TCMALLOC_OLD_PRELOAD");
			if (was && *was)
				setenv("LD_PRELOAD", was, 1);
			else
				unsetenv("LD_PRELOAD");
			unsetenv("CAM_TCMALLOC_OLD_PRELOAD");
			unsetenv("CAM_TCMALLOC_REEXEC");
		}
		return;
	}
	if (getenv("CAM_TCMALLOC_REEXEC"))
		return; /* preloading did not take: carry on without heap profiles */
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(lib, sizeof(lib), "%s/libtcmalloc.so.4", dirs[i]);
		if (access(lib, R_OK) != 0)
			continue;
		snprintf(preload, sizeof(preload), "%s%s%s", lib, old && *old ? " " : "",
			 old ? old : "");
		setenv("CAM_TCMALLOC_OLD_PRELOAD", old ? old : "", 1);
		/* gperftools' own stderr lines would break the JSON log. */
		setenv("PERFTOOLS_VERBOSE", "-1", 0);
		setenv("LD_PRELOAD", preload, 1);
		setenv("CAM_TCMALLOC_REEXEC", "1", 1);
		execv("/proc/self/exe", argv);
		return; /* exec failed: carry on without heap profiles */
	}
}
