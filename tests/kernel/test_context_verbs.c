/*
 * Unit tests of the context_* verbs (kernel/syscall/context_verbs.c) on the
 * in-memory store and on the durable one (whose changes answer from the
 * store's writer thread, after their commit), through the dispatcher:
 * what each verb answers, its payload checks, its metrics, its rows and
 * its health probes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tests/kernel/verb_harness.h"

#include <ftw.h>

#include "kernel/memctx/memctx.h"
#include "kernel/store/store.h"
#include "kernel/syscall/context_verbs.h"

static struct harness h;
static cam_memctx *store;
static cam_store *durable;
static char dir[64];
static cam_context_verbs *cv;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* state: NULL for the in-memory store, anything else for the durable one. */
static int setup(void **state)
{
	struct cam_memctx_opts o = {
		.limits = { .max_value_bytes = 64, .max_keys = 4, .max_total_bytes = 1 << 20,
			    .keep_versions = 3, .max_snapshots = 2 },
	};
	char why[CAM_STORE_WHY];

	if (*state) {
		snprintf(dir, sizeof(dir), "/tmp/cam-test-cv-XXXXXX");
		assert_non_null(mkdtemp(dir));
		assert_int_equal(cam_store_open(&(struct cam_store_opts){ dir, 16 << 20 }, &durable,
						why), 0);
		o.store = durable;
	}
	h_begin(&h, NULL);
	assert_int_equal(cam_memctx_new(&o, &store, why), 0);
	assert_int_equal(cam_context_verbs_new(&(struct cam_context_verbs_opts){
				     .verbs = h.verbs, .components = h.components, .store = store },
				     &cv),
			 0);
	h_ready(&h);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cam_context_verbs_free(cv);
	assert_int_equal(cam_verbs_count(h.verbs), 0);
	cam_memctx_free(store);
	if (durable) { /* its writer thread counted into the registry h_end resets */
		cam_store_close(durable);
		durable = NULL;
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	}
	h_end(&h);
	return 0;
}

static void test_rows(void **state)
{
	static const char *const names[] = { "context_write", "context_read", "context_versions",
					      "context_delete", "context_snapshot",
					      "context_restore" };

	(void)state;
	assert_int_equal(cam_verbs_count(h.verbs), 6);
	for (size_t i = 0; i < 6; i++) {
		const struct cam_verb *v = cam_verbs_find(h.verbs, names[i]);

		assert_non_null(v);
		/* In memory nothing waits; the durable store's changes wait on
		 * its writer, not on the handler. */
		assert_false(v->may_block);
		assert_string_equal(v->subsystem, "memory context");
		assert_ptr_equal(v->ctx, cv);
	}
	assert_int_equal(cam_verbs_find(h.verbs, "context_read")->scope, CAM_SCOPE_READ);
	assert_int_equal(cam_verbs_find(h.verbs, "context_write")->scope, CAM_SCOPE_WRITE);
	/* Made twice on one registry: the second is refused whole. */
	{
		cam_context_verbs *again = NULL;

		assert_int_equal(cam_context_verbs_new(&(struct cam_context_verbs_opts){
					     .verbs = h.verbs, .store = store }, &again),
				 CAM_EEXIST);
		assert_null(again);
		assert_int_equal(cam_context_verbs_new(&(struct cam_context_verbs_opts){
					     .verbs = h.verbs }, &again),
				 CAM_EINVAL);
	}
}

static void test_write_read_versions(void **state)
{
	struct answer a;
	const struct answer *r;

	(void)state;
	assert_answer(h_ex(&h, "context_write", "namespace:agents,key:a1,value:hello"), CAM_GRPC_OK,
		      "namespace:agents,key:a1,version:1,size:5");
	assert_answer(h_ex(&h, "context_write", "namespace:agents,key:a1,value:again"), CAM_GRPC_OK,
		      "version:2");
	r = h_ex(&h, "context_read", "namespace:agents,key:a1");
	assert_answer(r, CAM_GRPC_OK, "value:again");
	assert_int_equal(r->data_len, 5);
	assert_memory_equal(r->data, "again", 5);
	assert_answer(h_ex(&h, "context_read", "namespace:agents,key:a1,version:1"), CAM_GRPC_OK,
		      "value:hello");
	r = h_ex(&h, "context_versions", "namespace:agents,key:a1");
	assert_answer(r, CAM_GRPC_OK, "count:2,latest:2");
	assert_non_null(h_field(r->result, "versions"));
	/* Binary data goes in the request's data and comes back in the reply's. */
	h_call(&h, &(struct req){ .verb = "context_write", .payload = "namespace:agents,key:bin",
				  .data = "a\0,b", .data_len = 4 }, &a);
	assert_answer(&a, CAM_GRPC_OK, "size:4");
	r = h_ex(&h, "context_read", "namespace:agents,key:bin");
	assert_answer(r, CAM_GRPC_OK, "value_in:data");
	assert_int_equal(r->data_len, 4);
	assert_memory_equal(r->data, "a\0,b", 4);
	/* Compare-and-set: 0 means "must not exist"; a stale version loses.
	 * Versions count per namespace: bin took 3. */
	assert_answer(h_ex(&h, "context_write", "namespace:agents,key:a1,value:x,expected_version:0"),
		      CAM_GRPC_ABORTED, NULL);
	assert_answer(h_ex(&h, "context_write", "namespace:agents,key:a1,value:x,expected_version:1"),
		      CAM_GRPC_ABORTED, NULL);
	assert_answer(h_ex(&h, "context_write", "namespace:agents,key:a1,value:x,expected_version:2"),
		      CAM_GRPC_OK, "version:4");
	assert_true(h_metric("cam_os_memory_context_versions_total", NULL) == 4);
	assert_true(h_metric("cam_os_memory_context_operations_total",
			     (const char *[]){ "write", "ok", NULL }) == 4);
	assert_true(h_metric("cam_os_memory_context_operations_total",
			     (const char *[]){ "write", "ABORTED", NULL }) == 2);
	assert_true(h_metric("cam_os_memory_context_operation_duration_seconds",
			     (const char *[]){ "read", NULL }) == 3);
}

static void test_delete_snapshot_restore(void **state)
{
	const struct answer *r;
	char id[4096], cmd[4200];

	(void)state;
	assert_answer(h_ex(&h, "context_write", "namespace:ns,key:k,value:one"), CAM_GRPC_OK, NULL);
	r = h_ex(&h, "context_snapshot", "namespace:ns");
	assert_answer(r, CAM_GRPC_OK, "namespace:ns,keys:1");
	snprintf(id, sizeof(id), "%s", h_field(r->result, "snapshot_id"));
	assert_int_equal(strlen(id), CAM_MEMCTX_ID_LEN);
	assert_answer(h_ex(&h, "context_delete", "namespace:ns,key:k"), CAM_GRPC_OK,
		      "removed_versions:1");
	assert_answer(h_ex(&h, "context_read", "namespace:ns,key:k"), CAM_GRPC_NOT_FOUND, NULL);
	snprintf(cmd, sizeof(cmd), "snapshot_id:%s", id);
	assert_answer(h_ex(&h, "context_restore", cmd), CAM_GRPC_OK, "namespace:ns,keys:1");
	assert_answer(h_ex(&h, "context_read", "namespace:ns,key:k"), CAM_GRPC_OK, "value:one");
	assert_answer(h_ex(&h, "context_delete", cmd), CAM_GRPC_OK, id);
	assert_answer(h_ex(&h, "context_restore", cmd), CAM_GRPC_NOT_FOUND, NULL);
}

static void test_payload_checks(void **state)
{
	static const struct {
		const char *verb, *payload;
		int status;
		const char *says;
	} cases[] = {
		{ "context_write", "key:k,value:v", CAM_GRPC_INVALID_ARGUMENT, "'namespace' is missing" },
		{ "context_write", "namespace:n,value:v", CAM_GRPC_INVALID_ARGUMENT, "'key' is missing" },
		{ "context_write", "namespace:n,key:k", CAM_GRPC_INVALID_ARGUMENT, "'value' (or binary data) is missing" },
		{ "context_write", "namespace:n,key:k,value:v,expected_version:x", CAM_GRPC_INVALID_ARGUMENT,
		  "expected_version must be a whole number" },
		{ "context_write", "namespace:bad ns,key:k,value:v", CAM_GRPC_INVALID_ARGUMENT, "namespace must be" },
		{ "context_write", "namespace:n,key:k,value:0123456789012345678901234567890123456789012345678901234567890123456789",
		  CAM_GRPC_INVALID_ARGUMENT, "over the limit of 64" },
		{ "context_write", "namespace:n,key:k,value:v,colour:red", CAM_GRPC_INVALID_ARGUMENT, "colour" },
		{ "context_read", "namespace:n,key:k,version:0", CAM_GRPC_INVALID_ARGUMENT, "version must be a whole number >= 1" },
		{ "context_read", "namespace:n,key:nothere", CAM_GRPC_NOT_FOUND, NULL },
		{ "context_delete", "key:k", CAM_GRPC_INVALID_ARGUMENT, "'namespace' (or 'snapshot_id') is missing" },
		{ "context_delete", "namespace:n,snapshot_id:abc", CAM_GRPC_INVALID_ARGUMENT, "either snapshot_id or namespace" },
		{ "context_restore", "snapshot_id:xyz", CAM_GRPC_INVALID_ARGUMENT, "snapshot id must be 24 hex digits" },
		{ "context_snapshot", "namespace:empty", CAM_GRPC_NOT_FOUND, NULL },
	};
	struct answer a;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_answer(h_ex(&h, cases[i].verb, cases[i].payload), cases[i].status, cases[i].says);
	/* A value both in the payload and as data: which one? Refused. */
	h_call(&h, &(struct req){ .verb = "context_write", .payload = "namespace:n,key:k,value:v",
				  .data = "x", .data_len = 1 }, &a);
	assert_answer(&a, CAM_GRPC_INVALID_ARGUMENT, "not both");
	/* Limits: 4 keys per namespace. */
	for (int i = 0; i < 4; i++) {
		char p[64];

		snprintf(p, sizeof(p), "namespace:full,key:k%d,value:v", i);
		assert_answer(h_ex(&h, "context_write", p), CAM_GRPC_OK, NULL);
	}
	assert_answer(h_ex(&h, "context_write", "namespace:full,key:k4,value:v"),
		      CAM_GRPC_RESOURCE_EXHAUSTED, NULL);
	assert_true(h_metric("cam_os_memory_context_operations_total",
			     (const char *[]){ "write", "RESOURCE_EXHAUSTED", NULL }) == 1);
}

static void test_probe_and_size(void **state)
{
	char msg[256];
	double ms;

	(void)state;
	/* Without Redis the Redis component is not in use; the store's own
	 * component says which store it is. */
	assert_int_equal(cam_components_probe(h.components, 0, msg, sizeof(msg), &ms),
			 CAM_COMPONENT_DISABLED);
	assert_non_null(strstr(msg, "Redis not in use"));
	assert_int_equal(cam_components_probe(h.components, 4, msg, sizeof(msg), &ms),
			 CAM_COMPONENT_HEALTHY);
	assert_non_null(strstr(msg, durable ? "data.mdb" : "volatile"));
	assert_answer(h_ex(&h, "context_write", "namespace:s,key:k,value:12345"), CAM_GRPC_OK, NULL);
	/* The collector sets the size gauge before each snapshot. */
	assert_true(h_metric("cam_os_memory_context_size_bytes",
			     (const char *[]){ durable ? "lmdb" : "memory", NULL }) >= 5);
	if (durable) {
		assert_true(h_metric("cam_os_memory_context_commits_total", NULL) >= 1);
		assert_true(h_metric("cam_os_memory_context_committed_changes_total", NULL) >= 1);
		assert_true(h_metric("cam_os_memory_context_store_free_bytes", NULL) > 0);
	}
	/* Freed: the probes are gone (a second set would fail otherwise). */
	cam_context_verbs_free(cv);
	cv = NULL;
	assert_int_equal(cam_components_probe(h.components, 4, msg, sizeof(msg), &ms),
			 CAM_COMPONENT_DISABLED);
	assert_non_null(strstr(msg, "not configured"));
}

int main(void)
{
	static int durable_store = 1;
#define BOTH(t)                                                                            \
	cmocka_unit_test_setup_teardown(t, setup, teardown),                               \
	{ #t " (durable)", t, setup, teardown, &durable_store }
	const struct CMUnitTest tests[] = {
		BOTH(test_rows),
		BOTH(test_write_read_versions),
		BOTH(test_delete_snapshot_restore),
		BOTH(test_payload_checks),
		BOTH(test_probe_and_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
