/*
 * Fuzzes the UTF-8 checks of common/utf8.c (the metrics core, the logger
 * and the bus codec trust them with client strings) and the JSON logger of
 * common/log.c that writes such strings out: cam_json_escape and a whole
 * line built with cam_log_begin/cam_log_str/cam_log_end.
 *
 * Input: up to four strings separated by NUL bytes (component, message,
 * key, value); the first is also the text the UTF-8 checks see.
 *
 * Checks, besides no crash, leak or UB:
 *  - cam_utf8_seq and cam_utf8_valid agree at every offset with an
 *    independent decoder written from Unicode Table 3-7;
 *  - cam_json_escape with a large buffer: valid UTF-8, no raw control byte
 *    or DEL, and read back as JSON string content it is the input with each
 *    invalid byte replaced by U+FFFD; with any smaller buffer: fewer than
 *    cap bytes, NUL-terminated, a prefix of the large output that stops on
 *    a piece boundary, and only when the next piece does not fit;
 *  - a log line (cam_log_end's real output, caught from stderr) is one
 *    line holding exactly one valid JSON object, at most CAM_LOG_LINE_MAX
 *    bytes, truncated or not.
 *
 * Objects: common/utf8.o common/log.o common/log_journal.o common/metrics_table.o common/metrics.o common/native_hist.o common/xmalloc.o common/error.o
 * Libs: libsystemd yajl -lpthread -lm
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_utf8(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s), len = (size_t)-1;
	bool ok = cam_utf8_valid(s, &len);

	FUZZ_CHECK(ok == fuzz_utf8_ok(p, n));
	if (ok)
		FUZZ_CHECK(len == n);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(cam_utf8_seq(p + i) == fuzz_utf8_seq(p + i, n - i));
}

/* Length of the escaped piece at q (the output of cam_json_escape). */
static size_t piece_len(const char *q)
{
	if (q[0] == '\\')
		return q[1] == 'u' ? 6 : 2;
	return fuzz_utf8_seq((const uint8_t *)q, strlen(q));
}

/* Reads escaped JSON string content back into out; returns its length. */
static size_t unescape(const char *q, size_t n, uint8_t *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		if (q[i] != '\\') {
			out[o++] = (uint8_t)q[i++];
			continue;
		}
		FUZZ_CHECK(i + 1 < n);
		switch (q[i + 1]) {
		case '"': out[o++] = '"'; break;
		case '\\': out[o++] = '\\'; break;
		case 'n': out[o++] = '\n'; break;
		case 't': out[o++] = '\t'; break;
		case 'r': out[o++] = '\r'; break;
		case 'u': {
			unsigned v = 0;

			FUZZ_CHECK(i + 5 < n);
			for (int k = 2; k < 6; k++) {
				char c = q[i + k];
				FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
				v = v << 4 | (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
			}
			if (v == 0xfffd) {
				memcpy(out + o, "\xef\xbf\xbd", 3);
				o += 3;
			} else {
				FUZZ_CHECK(v < 0x20 || v == 0x7f);
				out[o++] = (uint8_t)v;
			}
			i += 6;
			continue;
		}
		default:
			fprintf(stderr, "unknown escape \\%c\n", q[i + 1]);
			abort();
		}
		i += 2;
	}
	return o;
}

static void check_escape(const char *s, size_t small_seed)
{
	size_t n = strlen(s), cap = 6 * n + 1, m, o = 0;
	char *full = malloc(cap), *part = malloc(cap + 8);
	uint8_t *back = malloc(3 * n + 1), *want = malloc(3 * n + 1);

	m = cam_json_escape(full, cap, s);
	FUZZ_CHECK(m < cap && full[m] == '\0' && strlen(full) == m);
	FUZZ_CHECK(fuzz_utf8_ok((const uint8_t *)full, m));
	for (size_t i = 0; i < m; i++)
		FUZZ_CHECK((uint8_t)full[i] >= 0x20 && full[i] != 0x7f);
	/* The input with invalid bytes as U+FFFD, one per byte. */
	for (size_t i = 0; i < n;) {
		size_t k = fuzz_utf8_seq((const uint8_t *)s + i, n - i);

		if (!k) {
			memcpy(want + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(want + o, s + i, k);
			o += k;
			i += k;
		}
	}
	FUZZ_CHECK(unescape(full, m, back) == o && memcmp(back, want, o) == 0);

	/* Smaller buffers: 1, a few from the input, and one short of m + 1. */
	size_t caps[] = { 1, 2 + small_seed % 7, 1 + small_seed % (m + 1), m };
	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		size_t pc = caps[c] ? caps[c] : 1, pm;

		memset(part, 'Z', pc);
		pm = cam_json_escape(part, pc, s);
		FUZZ_CHECK(pm < pc && part[pm] == '\0');
		FUZZ_CHECK(pm <= m && memcmp(part, full, pm) == 0);
		if (pm < m) {
			size_t pl = piece_len(full + pm);
			FUZZ_CHECK(pl > 0 && pm + pl >= pc);
		}
		/* No piece cut in half, escape or UTF-8 sequence. */
		FUZZ_CHECK(fuzz_utf8_ok((const uint8_t *)part, pm));
		unescape(part, pm, back);
	}
	FUZZ_CHECK(cam_json_escape(part, 0, s) == 0);
	free(want);
	free(back);
	free(part);
	free(full);
}

/* stderr while cam_log_end writes the line, kept in a memfd. */
static int memfd = -1, saved_stderr = -1;

static void check_log_line(const char *comp, const char *msg, const char *key,
			   const char *val)
{
	struct cam_log_line l;
	char line[CAM_LOG_LINE_MAX + 64];
	ssize_t got;

	if (memfd < 0) {
		memfd = memfd_create("fuzz-log", 0);
		saved_stderr = dup(2);
		FUZZ_CHECK(memfd >= 0 && saved_stderr >= 0);
	}
	FUZZ_CHECK(cam_log_begin(&l, CAM_LOG_ERROR, comp, msg));
	cam_log_str(&l, key, val);
	cam_log_int(&l, "n", (int64_t)strlen(val));
	FUZZ_CHECK(l.len < CAM_LOG_LINE_MAX);

	FUZZ_CHECK(ftruncate(memfd, 0) == 0 && lseek(memfd, 0, SEEK_SET) == 0);
	FUZZ_CHECK(dup2(memfd, 2) == 2);
	cam_log_end(&l);
	FUZZ_CHECK(dup2(saved_stderr, 2) == 2);
	got = pread(memfd, line, sizeof(line), 0);
	FUZZ_CHECK(got > 0 && (size_t)got <= CAM_LOG_LINE_MAX);
	FUZZ_CHECK(line[got - 1] == '\n' && memchr(line, '\n', (size_t)got) == line + got - 1);
	if (!fuzz_json_ok(line, (size_t)got))
		fprintf(stderr, "log line is not JSON: %.*s", (int)got, line);
	FUZZ_CHECK(line[0] == '{' && fuzz_json_ok(line, (size_t)got));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 4);
	const char *part[4];
	size_t k = 0;

	/* Four NUL-terminated strings, the missing ones empty. */
	memcpy(copy, data, size);
	memset(copy + size, 0, 4);
	part[k++] = copy;
	for (size_t i = 0; i < size && k < 4; i++)
		if (copy[i] == '\0')
			part[k++] = copy + i + 1;
	while (k < 4)
		part[k++] = copy + size;

	check_utf8(part[0]);
	for (k = 0; k < 4; k++)
		check_escape(part[k], size + k);
	check_log_line(part[0], part[1], part[2], part[3]);
	free(copy);
	return 0;
}
