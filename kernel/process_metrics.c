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
#include "common/metrics_table.h"
#include "common/xmalloc.h"

struct cam_process_metrics {
	cam_series *cpu, *rss, *vsize, *start, *fds, *max_fds;
};

enum { M_CPU, M_RSS, M_VSIZE, M_START, M_FDS, M_MAX_FDS, NMETRICS };
static const struct cam_family_desc metrics[NMETRICS] = {
	[M_CPU] = { .name = "process_cpu_seconds_total",
		    .help = "Total user and system CPU time spent in seconds.",
		    .type = CAM_COUNTER, .unit = "seconds" },
	[M_RSS] = { .name = "process_resident_memory_bytes",
		    .help = "Resident memory size in bytes.", .type = CAM_GAUGE, .unit = "bytes" },
	[M_VSIZE] = { .name = "process_virtual_memory_bytes",
		      .help = "Virtual memory size in bytes.", .type = CAM_GAUGE, .unit = "bytes" },
	[M_START] = { .name = "process_start_time_seconds",
		      .help = "Start time of the process since unix epoch in seconds.",
		      .type = CAM_GAUGE, .unit = "seconds" },
	[M_FDS] = { .name = "process_open_fds", .help = "Number of open file descriptors.",
		    .type = CAM_GAUGE },
	[M_MAX_FDS] = { .name = "process_max_fds",
			.help = "Maximum number of open file descriptors.", .type = CAM_GAUGE },
};

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
	cam_process_metrics *ps = arg;
	unsigned long utime, stime, vsize;
	unsigned long long starttime;
	long rss, ticks = sysconf(_SC_CLK_TCK);
	struct rlimit rl;

	if (read_stat(&utime, &stime, &starttime, &vsize, &rss) == 0 && ticks > 0) {
		cam_gauge_set(ps->cpu, (double)(utime + stime) / (double)ticks);
		cam_gauge_set(ps->rss, (double)rss * (double)sysconf(_SC_PAGESIZE));
		cam_gauge_set(ps->vsize, (double)vsize);
		cam_gauge_set(ps->start, boot_time() + (double)starttime / (double)ticks);
	}
	cam_gauge_set(ps->fds, count_fds());
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		cam_gauge_set(ps->max_fds, (double)rl.rlim_cur);
}

int cam_process_metrics_new(cam_process_metrics **out)
{
	cam_family *f[NMETRICS];
	cam_process_metrics *ps;
	char why[160];
	int rc = cam_metrics_table_register(metrics, NMETRICS, f, why, sizeof(why));

	if (rc)
		return rc;
	ps = cam_xcalloc(1, sizeof(*ps));
	ps->cpu = cam_series_get(f[M_CPU], NULL);
	ps->rss = cam_series_get(f[M_RSS], NULL);
	ps->vsize = cam_series_get(f[M_VSIZE], NULL);
	ps->start = cam_series_get(f[M_START], NULL);
	ps->fds = cam_series_get(f[M_FDS], NULL);
	ps->max_fds = cam_series_get(f[M_MAX_FDS], NULL);
	if ((rc = cam_metrics_add_collector(collect, ps))) {
		free(ps);
		return rc;
	}
	collect(ps);
	*out = ps;
	return 0;
}

void cam_process_metrics_free(cam_process_metrics *ps)
{
	if (!ps)
		return;
	cam_metrics_remove_collector(collect, ps);
	free(ps);
}
