/*
 * A Redis Cluster on loopback for the unit tests: six real redis-server
 * processes (--cluster-enabled yes) on free ports, joined by
 * `redis-cli --cluster create --cluster-replicas 1` into three masters with
 * a replica each, every process stopped by PID (also the ones a test
 * killed or stopped). Helpers ask any node a command.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_TESTS_REDIS_CLUSTER_FIXTURE_H
#define CAM_TESTS_REDIS_CLUSTER_FIXTURE_H

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/kernel/free_port.h"

#define RC_NODES 6

struct rc_fixture {
	pid_t pid[RC_NODES];
	int port[RC_NODES];
	char dir[64];
	char seeds[RC_NODES * 24];  /* every node, for CAM_REDIS_CLUSTER */
	int node_timeout_ms;
};

static double rc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A reply to the command on 127.0.0.1:port (caller frees), or NULL. */
static redisReply *rc_ask(int port, const char *fmt, ...)
{
	struct timeval tv = { 2, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *r = NULL;
	va_list ap;

	if (c && !c->err) {
		redisSetTimeout(c, tv);
		va_start(ap, fmt);
		r = redisvCommand(c, fmt, ap);
		va_end(ap);
	}
	if (c)
		redisFree(c);
	return r;
}

/* A reply to cmd, its words split at spaces (caller frees), or NULL. */
static redisReply *rc_words(int port, const char *cmd)
{
	char buf[256], *save = NULL, *w;
	const char *argv[16];
	int argc = 0;
	struct timeval tv = { 2, 0 };
	redisContext *c;
	redisReply *r = NULL;

	snprintf(buf, sizeof(buf), "%s", cmd);
	for (w = strtok_r(buf, " ", &save); w && argc < 16; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	c = redisConnectWithTimeout("127.0.0.1", port, tv);
	if (c && !c->err) {
		redisSetTimeout(c, tv);
		r = redisCommandArgv(c, argc, argv, NULL);
	}
	if (c)
		redisFree(c);
	return r;
}

/* Whether the node's reply to cmd contains want. */
static int rc_says(int port, const char *cmd, const char *want)
{
	redisReply *r = rc_words(port, cmd);
	int yes = r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
		  strstr(r->str, want);

	if (r)
		freeReplyObject(r);
	return yes;
}

static pid_t rc_spawn(char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Starts node i (again, keeping its nodes.conf: it rejoins). */
static void rc_node_start(struct rc_fixture *f, int i)
{
	char port[16], conf[96], rdb[96], timeout[16], log[128];

	snprintf(port, sizeof(port), "%d", f->port[i]);
	snprintf(conf, sizeof(conf), "nodes-%d.conf", f->port[i]);
	snprintf(rdb, sizeof(rdb), "dump-%d.rdb", f->port[i]);
	snprintf(log, sizeof(log), "%s/log-%d", f->dir, f->port[i]);
	snprintf(timeout, sizeof(timeout), "%d", f->node_timeout_ms);
	f->pid[i] = rc_spawn((char *[]){ "redis-server", "--port", port, "--bind", "127.0.0.1",
					 "--cluster-enabled", "yes", "--cluster-config-file", conf,
					 "--cluster-node-timeout", timeout, "--dir", f->dir,
					 "--dbfilename", rdb, "--save", "", "--appendonly", "no",
					 "--repl-diskless-sync-delay", "0", "--loglevel", "notice",
					 "--logfile", log, NULL });
}

static void rc_node_kill(struct rc_fixture *f, int i)
{
	if (f->pid[i] > 0) {
		kill(f->pid[i], SIGCONT);
		kill(f->pid[i], SIGKILL);
		waitpid(f->pid[i], NULL, 0);
	}
	f->pid[i] = 0;
}

static int rc_all_ok(const struct rc_fixture *f)
{
	for (int i = 0; i < RC_NODES; i++)
		if (f->pid[i] > 0 && !rc_says(f->port[i], "CLUSTER INFO", "cluster_state:ok"))
			return 0;
	return 1;
}

/* cluster_state:ok everywhere, and every replica in sync with its master
 * (else a replica could not take over). */
static int rc_wait_ok(const struct rc_fixture *f, double secs)
{
	double until = rc_now() + secs;

	while (rc_now() < until) {
		int synced = 1;

		for (int i = 0; i < RC_NODES && synced; i++)
			if (f->pid[i] > 0 && rc_says(f->port[i], "INFO replication", "role:slave"))
				synced = rc_says(f->port[i], "INFO replication",
						 "master_link_status:up");
		if (synced && rc_all_ok(f))
			return 0;
		usleep(100000);
	}
	return -1;
}

/* Index of the node that is master of slot, or -1. */
static int rc_master_of(const struct rc_fixture *f, unsigned slot)
{
	redisReply *r = NULL;
	int found = -1;

	for (int i = 0; i < RC_NODES && !r; i++)
		if (f->pid[i] > 0)
			r = rc_ask(f->port[i], "CLUSTER SLOTS");
	for (size_t k = 0; r && r->type == REDIS_REPLY_ARRAY && k < r->elements; k++) {
		redisReply *e = r->element[k];

		if ((unsigned long long)e->element[0]->integer <= slot &&
		    slot <= (unsigned long long)e->element[1]->integer)
			for (int i = 0; i < RC_NODES; i++)
				if (f->port[i] == e->element[2]->element[1]->integer)
					found = i;
	}
	if (r)
		freeReplyObject(r);
	return found;
}

/* A node's id (CLUSTER MYID) into id (41 bytes). */
static int rc_id(const struct rc_fixture *f, int i, char *id)
{
	redisReply *r = rc_ask(f->port[i], "CLUSTER MYID");
	int ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;

	if (ok)
		memcpy(id, r->str, 41);
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

/* A free port whose cluster bus port (port + 10000) is free too. */
static int rc_free_port(void)
{
	for (;;) {
		int p = free_port(), fd = socket(AF_INET, SOCK_STREAM, 0), ok;
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		if (p + 10000 > 65535) {
			close(fd);
			continue;
		}
		a.sin_port = htons((uint16_t)(p + 10000));
		ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			return p;
	}
}

/* Starts the six nodes and makes them a cluster. 0 or -1. */
static int rc_start(struct rc_fixture *f, int node_timeout_ms)
{
	char *argv[RC_NODES + 8], addr[RC_NODES][24];
	int n = 0, status;
	pid_t cli;

	memset(f, 0, sizeof(*f));
	f->node_timeout_ms = node_timeout_ms;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cam-cluster-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	for (int i = 0; i < RC_NODES; i++) {
		f->port[i] = rc_free_port();
		rc_node_start(f, i);
	}
	for (int i = 0; i < RC_NODES; i++) {
		double until = rc_now() + 10;

		while (!rc_says(f->port[i], "PING", "PONG"))
			if (rc_now() > until)
				return -1;
			else
				usleep(20000);
	}
	argv[n++] = "redis-cli";
	argv[n++] = "--cluster";
	argv[n++] = "create";
	for (int i = 0; i < RC_NODES; i++) {
		snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", f->port[i]);
		argv[n++] = addr[i];
		snprintf(f->seeds + strlen(f->seeds), sizeof(f->seeds) - strlen(f->seeds), "%s%s",
			 i ? "," : "", addr[i]);
	}
	argv[n++] = "--cluster-replicas";
	argv[n++] = "1";
	argv[n++] = "--cluster-yes";
	argv[n] = NULL;
	cli = rc_spawn(argv);
	if (waitpid(cli, &status, 0) != cli || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return rc_wait_ok(f, 30);
}

static void rc_stop(struct rc_fixture *f)
{
	char cmd[128];

	for (int i = 0; i < RC_NODES; i++)
		rc_node_kill(f, i);
	if (f->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", f->dir);
	}
}

#endif
