/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kernel/security/audit.c: records from many threads all
 * written, chained and numbered; a trail reopened goes on where it stood
 * (a torn last line cut off and said so); rotation keeps the chain; a
 * trail that cannot be written refuses durable records and counts. */
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/audit_chain.h"
#include "common/error.h"
#include "common/metrics.h"
#include "kernel/security/audit.h"

static char dir[64], path[128];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	cam_metrics_reset();
	snprintf(dir, sizeof(dir), "/tmp/cam-test-audit-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static cam_audit *open_at(const char *p, uint64_t max_bytes)
{
	struct cam_audit_opts o = { .path = p, .events = CAM_AUDIT_DENY | CAM_AUDIT_ADMIN,
				    .max_bytes = max_bytes };
	char why[200];
	cam_audit *a;

	if (cam_audit_new(&o, &a, why, sizeof(why)))
		fail_msg("audit: %s", why);
	return a;
}

static int put(cam_audit *a, const char *who, bool durable)
{
	char why[200];

	return cam_audit_write(a, &(struct cam_audit_record){ .event = "deny", .verb = "ping",
							      .principal = who, .authorized = 0,
							      .version = -1, .size = -1 },
			       durable, why, sizeof(why));
}

/* Checks the chain of one file from prev0 (NULL: the genesis); returns
 * its lines and leaves the last hash in last. */
static size_t check_chain(const char *p, const uint8_t *prev0, uint8_t last[32], uint64_t *seq)
{
	FILE *f = fopen(p, "r");
	char line[8192], hex[65];
	uint8_t h[32];
	size_t n = 0;

	assert_non_null(f);
	if (prev0)
		memcpy(h, prev0, 32);
	else
		cam_audit_genesis(h);
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		char *pv = strstr(line, "\"prev\":\"");
		char *sq = strstr(line, "\"seq\":");

		assert_true(len > 1 && line[len - 1] == '\n');
		assert_non_null(pv);
		assert_non_null(sq);
		cam_audit_hex(h, hex);
		assert_memory_equal(pv + 8, hex, 64);
		assert_int_equal(strtoull(sq + 6, NULL, 10), ++*seq);
		cam_audit_line_hash(line, len - 1, h);
		n++;
	}
	fclose(f);
	memcpy(last, h, 32);
	return n;
}

struct arg {
	cam_audit *a;
	int id;
};

static void *producer(void *p)
{
	struct arg *x = p;
	char who[32];

	for (int i = 0; i < 500; i++) {
		snprintf(who, sizeof(who), "agent-%d", x->id);
		if (put(x->a, who, i % 100 == 0))
			return (void *)1;
	}
	return NULL;
}

static void test_threads_chain_reopen(void **state)
{
	struct arg args[4];
	pthread_t t[4];
	uint8_t last[32];
	uint64_t seq = 0;
	cam_audit *a = open_at(path, 0);
	int fd;

	(void)state;
	for (int i = 0; i < 4; i++) {
		args[i] = (struct arg){ a, i };
		pthread_create(&t[i], NULL, producer, &args[i]);
	}
	for (int i = 0; i < 4; i++) {
		void *rc;
		pthread_join(t[i], &rc);
		assert_null(rc);
	}
	cam_audit_free(a);
	assert_int_equal(check_chain(path, NULL, last, &seq), 2000);

	/* A torn last line (a crash mid-write): cut off, said, chain goes on. */
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "{\"timestamp\":\"2026", 18), 18);
	close(fd);
	a = open_at(path, 0);
	assert_int_equal(put(a, "after", true), 0);
	cam_audit_free(a);
	seq = 0;
	assert_int_equal(check_chain(path, NULL, last, &seq), 2002);
}

static void test_rotation(void **state)
{
	cam_audit *a = open_at(path, 2000);
	char rotated[256] = "";
	uint8_t last[32];
	uint64_t seq = 0;
	size_t n;
	FILE *ls;

	(void)state;
	for (int i = 0; i < 60; i++)
		assert_int_equal(put(a, "r", true), 0);
	cam_audit_free(a);
	/* the first rotated file, then the current one: one chain */
	snprintf(rotated, sizeof(rotated), "ls %s/audit.log.* | head -1", dir);
	ls = popen(rotated, "r");
	assert_non_null(fgets(rotated, sizeof(rotated), ls));
	pclose(ls);
	rotated[strcspn(rotated, "\n")] = '\0';
	n = check_chain(rotated, NULL, last, &seq);
	assert_true(n > 0 && n < 60);
}

static void test_unwritable(void **state)
{
	cam_audit *a = open_at("/dev/full", 0);
	char msg[256];

	(void)state;
	assert_int_equal(put(a, "x", true), CAM_EUNAVAIL);
	assert_true(cam_audit_failing(a));
	assert_int_equal(put(a, "y", false), CAM_EUNAVAIL);
	assert_int_equal(cam_audit_health(a, msg, sizeof(msg)), CAM_COMPONENT_DEGRADED);
	assert_non_null(strstr(msg, "/dev/full"));
	cam_audit_free(a);
}

/* A trail that could not be written goes on by itself once it can, and
 * says it has a gap: the file's size limit (RLIMIT_FSIZE) stands in for a
 * full disk. */
static void test_recovers(void **state)
{
	struct rlimit old, small;
	cam_audit *a = open_at(path, 0);
	int rc = 0, n = 0;
	FILE *f;
	char line[4096];
	bool gap = false;

	(void)state;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 4096;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	while (n < 200 && !(rc = put(a, "filler", true)))
		n++;
	assert_int_equal(rc, CAM_EUNAVAIL);
	assert_true(cam_audit_failing(a));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	/* the writer's probe, within its retry period */
	for (int i = 0; i < 40 && cam_audit_failing(a); i++)
		usleep(100 * 1000);
	assert_false(cam_audit_failing(a));
	assert_int_equal(put(a, "after", true), 0);
	cam_audit_free(a);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		gap |= strstr(line, "\"event\":\"gap\"") != NULL;
	fclose(f);
	assert_true(gap);
}

static void test_events(void **state)
{
	unsigned e;

	(void)state;
	assert_int_equal(cam_audit_parse_events("deny,admin,auth", &e), 0);
	assert_int_equal(e, CAM_AUDIT_DENY | CAM_AUDIT_ADMIN | CAM_AUDIT_AUTH);
	assert_int_equal(cam_audit_parse_events("all", &e), 0);
	assert_true(e & CAM_AUDIT_ALL && e & CAM_AUDIT_WRITE);
	assert_int_equal(cam_audit_parse_events("none", &e), 0);
	assert_int_equal(e, 0);
	assert_int_equal(cam_audit_parse_events("deny,everything", &e), CAM_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_threads_chain_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovers, setup, teardown),
		cmocka_unit_test(test_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
