/*
 * Unit tests of kernel/tracing/symbolize.c: names for addresses of this
 * very test process (its own static and global functions, and libc's),
 * as pprof's remote symbolization asks for them, and refusals.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "kernel/tracing/symbolize.h"

/* noinline and used: it must exist at an address of its own. */
__attribute__((noinline, used)) static int a_static_function(int x)
{
	return x * 3 + 1;
}

__attribute__((noinline)) int cam_test_global_function(int x);
__attribute__((noinline)) int cam_test_global_function(int x)
{
	return a_static_function(x) + 2;
}

/* The line cam_symbolize gives for addr, or NULL (the caller frees out). */
static const char *name_of(const char *out, uintptr_t addr)
{
	char key[32];
	const char *p;

	snprintf(key, sizeof(key), "0x%llx ", (unsigned long long)addr);
	p = strstr(out, key);
	return p ? p + strlen(key) : NULL;
}

static void test_names_own_functions(void **state)
{
	int (*volatile fs)(int) = a_static_function;
	int (*volatile fg)(int) = cam_test_global_function;
	uintptr_t s = (uintptr_t)fs + 4, g = (uintptr_t)fg + 1, l = (uintptr_t)(void *)&printf;
	char in[128], why[160], *out = NULL;
	size_t outlen = 0;

	(void)state;
	assert_int_equal(fg(1), 6);
	/* An address inside a function is named after it, as pprof needs
	 * for the return addresses a profile holds. */
	snprintf(in, sizeof(in), "0x%llx+0x%llx+0x%llx", (unsigned long long)s,
		 (unsigned long long)g, (unsigned long long)l);
	assert_int_equal(cam_symbolize(in, strlen(in), &out, &outlen, why, sizeof(why)), 0);
	assert_int_equal(strlen(out), outlen);
	assert_non_null(name_of(out, s));
	assert_memory_equal(name_of(out, s), "a_static_function\n", 18);
	assert_non_null(name_of(out, g));
	assert_memory_equal(name_of(out, g), "cam_test_global_function\n", 25);
	/* libc: a dynamic symbol of another module, which is stripped (the
	 * name may be an alias such as _IO_printf). */
	assert_non_null(name_of(out, l));
	assert_non_null(strstr(name_of(out, l), "printf"));
	free(out);
}

static void test_separators_and_unknown_addresses(void **state)
{
	char why[160], *out = NULL;
	size_t outlen = 1;
	const char *in = " 0x10\n0X20\t+ +0x0 ";

	(void)state;
	/* Nothing is mapped there: no line, not an error. */
	assert_int_equal(cam_symbolize(in, strlen(in), &out, &outlen, why, sizeof(why)), 0);
	assert_int_equal(outlen, 0);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(cam_symbolize("", 0, &out, &outlen, why, sizeof(why)), 0);
	assert_int_equal(outlen, 0);
	free(out);
}

static void test_refuses_what_is_not_an_address(void **state)
{
	static const char *const bad[] = {
		"main", "0x", "0xg1", "12345", "0x10+zz", "0x11111111111111111", "-0x10",
		"0x10\x01", "0x+1",
	};
	char why[160], *out = NULL;
	size_t outlen = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		out = NULL;
		assert_int_equal(cam_symbolize(bad[i], strlen(bad[i]), &out, &outlen, why,
					       sizeof(why)), CAM_EINVAL);
		assert_null(out);
		assert_non_null(strstr(why, "is not a hex address"));
	}
}

static void test_refuses_too_many(void **state)
{
	size_t n = CAM_SYMBOLIZE_MAX_ADDRS + 1, len = n * 4;
	char *in = malloc(len), why[160], *out = NULL;
	size_t outlen = 0;

	(void)state;
	for (size_t i = 0; i < n; i++)
		memcpy(in + i * 4, "0x1+", 4);
	assert_int_equal(cam_symbolize(in, len, &out, &outlen, why, sizeof(why)), CAM_EINVAL);
	assert_null(out);
	assert_non_null(strstr(why, "more than"));
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_own_functions),
		cmocka_unit_test(test_separators_and_unknown_addresses),
		cmocka_unit_test(test_refuses_what_is_not_an_address),
		cmocka_unit_test(test_refuses_too_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
