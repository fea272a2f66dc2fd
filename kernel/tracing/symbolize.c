/*
 * Address to name for this process (symbolize.h), with libdwfl: the
 * modules come from /proc/self/maps, their symbols from each ELF file's
 * .symtab (or .dynsym when stripped). One Dwfl per request: profiles are
 * symbolized rarely, and a fresh one sees libraries loaded since.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernel/tracing/symbolize.h"

#include <elfutils/libdwfl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/xmalloc.h"

/* The ELF files' own symbol tables are enough for function names; looking
 * for separate debug files could reach for debuginfod over the network. */
static int no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			Dwarf_Addr base, const char *file_name, const char *debuglink_file,
			GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	(void)mod, (void)userdata, (void)modname, (void)base, (void)file_name;
	(void)debuglink_file, (void)debuglink_crc, (void)debuginfo_file_name;
	return -1;
}

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = no_debuginfo,
};

struct text {
	char *buf;
	size_t len, cap;
};

static void text_add(struct text *t, uint64_t addr, const char *name)
{
	size_t need = strlen(name) + 24;

	if (t->len + need > t->cap) {
		t->cap = (t->len + need) * 2;
		t->buf = cam_xrealloc(t->buf, t->cap);
	}
	t->len += (size_t)snprintf(t->buf + t->len, t->cap - t->len, "0x%llx %s\n",
				   (unsigned long long)addr, name);
}

/* "0x" and 1-16 hex digits, exactly. */
static int parse_addr(const char *s, size_t len, uint64_t *addr)
{
	uint64_t v = 0;

	if (len < 3 || len > 18 || s[0] != '0' || (s[1] | 0x20) != 'x')
		return 0;
	for (size_t i = 2; i < len; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			   : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (unsigned)((c | 0x20) - 'a' + 10)
			   : 16;

		if (d == 16)
			return 0;
		v = v << 4 | d;
	}
	*addr = v;
	return 1;
}

static int is_sep(char c)
{
	return c == '+' || c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

int cam_symbolize(const char *in, size_t inlen, char **out, size_t *outlen, char *why,
		  size_t whylen)
{
	struct text t = { 0 };
	size_t i = 0, n = 0;
	Dwfl *dwfl = dwfl_begin(&callbacks);
	int rc = 0;

	if (!dwfl || dwfl_linux_proc_report(dwfl, getpid()) != 0 ||
	    dwfl_report_end(dwfl, NULL, NULL) != 0) {
		snprintf(why, whylen, "cannot read this process's modules: %s", dwfl_errmsg(-1));
		dwfl_end(dwfl);
		return CAM_EIO;
	}
	while (i < inlen) {
		size_t len = 0;
		uint64_t addr;
		Dwfl_Module *mod;
		const char *name;

		if (is_sep(in[i])) {
			i++;
			continue;
		}
		while (i + len < inlen && !is_sep(in[i + len]))
			len++;
		if (++n > CAM_SYMBOLIZE_MAX_ADDRS) {
			snprintf(why, whylen, "more than %d addresses", CAM_SYMBOLIZE_MAX_ADDRS);
			rc = CAM_EINVAL;
			break;
		}
		if (!parse_addr(in + i, len, &addr)) {
			snprintf(why, whylen, "'%.*s' is not a hex address like 0x4a5b6c",
				 (int)(len < 40 ? len : 40), in + i);
			rc = CAM_EINVAL;
			break;
		}
		i += len;
		mod = dwfl_addrmodule(dwfl, (Dwarf_Addr)addr);
		name = mod ? dwfl_module_addrname(mod, (GElf_Addr)addr) : NULL;
		if (name)
			text_add(&t, addr, name);
	}
	dwfl_end(dwfl);
	if (rc) {
		free(t.buf);
		return rc;
	}
	*out = t.buf ? t.buf : cam_xstrdup("");
	*outlen = t.len;
	return 0;
}
