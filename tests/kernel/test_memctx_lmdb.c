/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kernel/memctx/ with the durable LMDB backend: the contract
 * suite (memctx_contract.h), the owner quota, and what only a durable
 * store has: everything, version counters included, survives closing and
 * opening the store again; a change is answered only once committed. */
#include <ftw.h>
#include <unistd.h>

#include "tests/kernel/memctx_contract.h"
#include "kernel/store/store.h"

static char dir[64];
static cam_store *store;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void close_store(void)
{
	cam_store_close(store);
	store = NULL;
	if (dir[0])
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
}

static cam_memctx *open_memctx(const struct cam_memctx_limits *l)
{
	struct cam_memctx_opts o = { .limits = *l, .store = store };
	char why[CAM_MEMCTX_WHY];
	cam_memctx *m;

	if (cam_memctx_new(&o, &m, why))
		fail_msg("cam_memctx_new: %s", why);
	assert_string_equal(cam_memctx_backend(m), "lmdb");
	return m;
}

static void open_store(void)
{
	struct cam_store_opts so = { .dir = dir, .map_bytes = 64 << 20 };
	char why[CAM_STORE_WHY];

	if (cam_store_open(&so, &store, why))
		fail_msg("cam_store_open: %s", why);
}

/* A new store in a new directory. */
static cam_memctx *contract_store(const struct cam_memctx_limits *l)
{
	close_store();
	snprintf(dir, sizeof(dir), "/tmp/cam-test-lmdb-XXXXXX");
	assert_non_null(mkdtemp(dir));
	open_store();
	return open_memctx(l);
}

static void contract_reset(void)
{
}

/* Values, versions, deletions and snapshots survive closing the store;
 * versions go on from where they were, never handed out twice. */
static void test_survives_reopen(void **state)
{
	cam_memctx *m = contract_store(&default_limits);
	char why[CAM_MEMCTX_WHY], id[CAM_MEMCTX_ID_LEN + 1], ns[CAM_MEMCTX_MAX_NAME + 1];
	size_t removed, keys;
	uint64_t v2;

	(void)state;
	put(m, "agent-1", "goal", "find food");
	v2 = put(m, "agent-1", "goal", "find water");
	put(m, "agent-1", "gone", "x");
	assert_int_equal(cam_memctx_delete(m, CAM_MEMCTX_NO_DEADLINE, "agent-1", "gone", &removed, why), 0);
	assert_int_equal(cam_memctx_snapshot(m, CAM_MEMCTX_NO_DEADLINE, "agent-1", id, &keys, why), 0);
	cam_memctx_free(m);
	cam_store_close(store);

	open_store();
	m = open_memctx(&default_limits);
	assert_value(m, "agent-1", "goal", 0, "find water");
	assert_value(m, "agent-1", "goal", v2 - 1, "find food");
	assert_int_equal(read_rc(m, "agent-1", "gone", 0), CAM_ENOENT);
	assert_int_equal(put(m, "agent-1", "goal", "rest"), v2 + 2); /* "gone" had v2 + 1 */
	assert_int_equal(cam_memctx_snapshot_ns(m, CAM_MEMCTX_NO_DEADLINE, id, ns, why), 0);
	assert_string_equal(ns, "agent-1");
	assert_int_equal(cam_memctx_restore(m, CAM_MEMCTX_NO_DEADLINE, id, ns, &keys, why), 0);
	assert_value(m, "agent-1", "goal", 0, "find water");
	/* 9 + 10 (kept versions) + 9 + 10 (the snapshot's copy) */
	assert_int_equal(cam_memctx_size_bytes(m), 38);
	cam_memctx_free(m);
	close_store();
}

/* Every commit is counted, with how many changes it made durable; an
 * idle store answers one change with one commit. */
static void test_commits_counted(void **state)
{
	cam_memctx *m = contract_store(&default_limits);
	struct cam_store_stats st;
	char msg[512];

	(void)state;
	cam_store_stats(store, &st);
	assert_int_equal(st.commits, 0);
	put(m, "c", "k", "v");
	cam_store_stats(store, &st);
	assert_int_equal(st.commits, 1);
	assert_int_equal(st.changes, 1);
	assert_int_equal(st.last_commit_changes, 1);
	assert_false(st.failing);
	assert_true(st.file_bytes > 0);
	assert_int_equal(cam_memctx_health(m, msg, sizeof(msg)), CAM_COMPONENT_HEALTHY);
	assert_non_null(strstr(msg, "data.mdb"));
	assert_ptr_equal(cam_memctx_store(m), store);
	cam_memctx_free(m);
	close_store();
}

/* A change whose deadline passed while it waited for the writer is not
 * made. */
static void test_deadline_passed(void **state)
{
	cam_memctx *m = contract_store(&default_limits);
	struct cam_memctx_version v;
	char why[CAM_MEMCTX_WHY];

	(void)state;
	assert_int_equal(cam_memctx_write(m, 1, "d", "k", "v", 1, CAM_MEMCTX_ANY, &v, NULL, why),
			 CAM_ETIMEDOUT);
	assert_int_equal(read_rc(m, "d", "k", 0), CAM_ENOENT);
	cam_memctx_free(m);
	close_store();
}

/* Backends that need the store, or Redis, are refused clearly when
 * misconfigured. */
static void test_backend_choice(void **state)
{
	struct cam_memctx_opts o = { .limits = default_limits, .backend = "lmdb" };
	char why[CAM_MEMCTX_WHY];
	cam_memctx *m;

	(void)state;
	assert_int_equal(cam_memctx_new(&o, &m, why), CAM_EINVAL);
	assert_non_null(strstr(why, "store"));
	o.backend = "redis";
	assert_int_equal(cam_memctx_new(&o, &m, why), CAM_EINVAL);
	o.backend = "disk";
	assert_int_equal(cam_memctx_new(&o, &m, why), CAM_EINVAL);
	o.backend = "memory";
	o.redis_url = "redis://127.0.0.1:1";
	assert_int_equal(cam_memctx_new(&o, &m, why), CAM_EINVAL);
}

static int teardown(void **state)
{
	(void)state;
	close_store();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CONTRACT_TESTS,
		CONTRACT_QUOTA_TESTS,
		cmocka_unit_test(test_survives_reopen),
		cmocka_unit_test(test_commits_counted),
		cmocka_unit_test(test_deadline_passed),
		cmocka_unit_test(test_backend_choice),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
