/*
 * The kernel's side of the profiling channel (common/pprof_channel.h): a
 * thread answering the exporter's requests for profiles of this process.
 *
 * CPU profiles come from gperftools' libprofiler, loaded with dlopen when
 * the first one is asked for, so the kernel neither links it nor pays for
 * it until then. Heap profiles come from gperftools' heap profiler, which
 * needs tcmalloc as the process's allocator (LD_PRELOAD=libtcmalloc.so.4,
 * see README): without it, a heap request says so.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_TRACING_PROFILER_H
#define CAM_TRACING_PROFILER_H

typedef struct cam_profiler cam_profiler;

/*
 * Listens on addr and starts the thread; starts the heap profiler when
 * tcmalloc is present. Returns 0 or a CAM_E* code (nothing left running).
 */
int cam_profiler_new(const char *addr, cam_profiler **out);
/* Stops (a CPU profile in progress ends early) and frees; NULL is a no-op. */
void cam_profiler_free(cam_profiler *p);

/*
 * Heap profiles need tcmalloc as the allocator, which costs memory, so the
 * kernel only takes it when profiling is on: this re-executes the program
 * with tcmalloc preloaded when it is installed and not loaded yet. Returns
 * only when nothing was done (tcmalloc already there, not installed, or
 * the exec failed); call it before any thread starts.
 */
void cam_profiler_reexec_with_tcmalloc(char **argv);

#endif
