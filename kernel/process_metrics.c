/*
 * process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_start_time_seconds,
 * process_open_fds and process_max_fds, read from /proc.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/process_metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/metrics.h"

struct process_series {
	cam_series *cpu, *rss, *vsize, *start, *fds, *max_fds;
};

static struct process_series ps;

/* Fields of /proc/self/stat after the command name (which may hold
 * spaces and parentheses, so parse from the last ')'). */
static int read_stat(unsigned long *utime, unsigned long *stime,
		     unsigned long long *starttime, unsigned long *vsize, long *rss)
{
	char buf[1024], *p;
	size_t n;
	FILE *f = fopen("/proc/self/stat", "r");

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* state(3) ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24) */
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
		   "%*d %*d %llu %lu %ld",
		   utime, stime, starttime, vsize, rss) != 5)
		return -1;
	return 0;
}

static double boot_time(void)
{
	char line[256];
	double btime = 0;
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lf", &btime) == 1)
			break;
	fclose(f);
	return btime;
}

static double count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	double n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}

static void collect(void *arg)
{
	unsigned long utime, stime, vsize;
	unsigned long long starttime;
	long rss, ticks = sysconf(_SC_CLK_TCK);
	struct rlimit rl;

	(void)arg;
	if (read_stat(&utime, &stime, &starttime, &vsize, &rss) == 0 && ticks > 0) {
		cam_gauge_set(ps.cpu, (double)(utime + stime) / (double)ticks);
		cam_gauge_set(ps.rss, (double)rss * (double)sysconf(_SC_PAGESIZE));
		cam_gauge_set(ps.vsize, (double)vsize);
		cam_gauge_set(ps.start, boot_time() + (double)starttime / (double)ticks);
	}
	cam_gauge_set(ps.fds, count_fds());
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		cam_gauge_set(ps.max_fds, (double)rl.rlim_cur);
}

static cam_series *one(const char *name, const char *help,
		       enum cam_metric_type type, const char *unit)
{
	cam_family *f;

	if (cam_family_register(&(struct cam_family_desc){ .name = name,
							   .help = help,
							   .type = type,
							   .unit = unit },
				&f, NULL))
		return NULL;
	return cam_series_get(f, NULL);
}

int cam_process_metrics_register(void)
{
	ps.cpu = one("process_cpu_seconds_total",
		     "Total user and system CPU time spent in seconds.", CAM_COUNTER,
		     "seconds");
	ps.rss = one("process_resident_memory_bytes", "Resident memory size in bytes.",
		     CAM_GAUGE, "bytes");
	ps.vsize = one("process_virtual_memory_bytes", "Virtual memory size in bytes.",
		       CAM_GAUGE, "bytes");
	ps.start = one("process_start_time_seconds",
		       "Start time of the process since unix epoch in seconds.", CAM_GAUGE,
		       "seconds");
	ps.fds = one("process_open_fds", "Number of open file descriptors.", CAM_GAUGE,
		     NULL);
	ps.max_fds = one("process_max_fds", "Maximum number of open file descriptors.",
			 CAM_GAUGE, NULL);
	cam_metrics_add_collector(collect, NULL);
	collect(NULL);
	return 0;
}
