/*
 * What the store's files (store.c, writer.c, copy.c) share, and nobody
 * else sees.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_KERNEL_STORE_INT_H
#define CAM_KERNEL_STORE_INT_H

#include <limits.h>
#include <pthread.h>

#include "kernel/store/store.h"

struct cam_store {
	MDB_env *env;
	char dir[PATH_MAX];
	char file[PATH_MAX + 16];      /* dir/data.mdb */
	/* Each thread's read transaction, reused (store.c). */
	pthread_key_t reader_key;
	pthread_mutex_t readers_lock;
	struct store_reader *readers;
	/* The writer and the syncer (writer.c). */
	pthread_t writer, syncer;
	bool writer_started, syncer_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct cam_store_job *head, **tail;
	bool stopping;
	/* Groups the writer committed, waiting for the syncer, under lock. */
	pthread_cond_t sync_cond;
	struct store_group *sync_head, **sync_tail;
	bool writer_done;
	/* Its figures, under stats_lock. */
	pthread_mutex_t stats_lock;
	struct cam_store_stats st;
};

/* Starts and stops the writer thread (writer.c). */
int cam_store__writer_start(cam_store *s);
void cam_store__writer_stop(cam_store *s);

/*
 * Checks that dir holds a store this kernel can read, opening it read-only
 * without its lock file: 0 (also when there is no store yet, *is_new set),
 * or CAM_EDATALOSS with why naming the path. Nothing is written.
 */
int cam_store__validate(const char *dir, bool *is_new, char *why);
/* Creates and opens an environment on dir with flags. */
int cam_store__env_open(const char *dir, uint64_t map_bytes, unsigned flags, MDB_env **out,
			char *why);

/* Writes a message into why (CAM_STORE_WHY bytes, cut to fit). */
void cam_store__say(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
