/*
 * cam-audit: checks a CAM-OS audit trail (../shared/DESIGN.md, "Audit log";
 * common/audit_chain.h).
 *
 *   cam-audit verify FILE... [--tpm-public-key PEM]
 *
 * The files are read in the order given (rotated ones first, oldest
 * first: `cam-audit verify audit.log.* audit.log`) as one trail: every line
 * must be whole JSON, carry the next "seq", and its "prev" must be the
 * chain hash of the line before it, across files. Every seal must name
 * the chain hash of the line it seals, its TPM clock must not go back,
 * and with --tpm-public-key (the PEM tpm_public_key gives) its signature
 * must verify. Exit 0 when everything holds; 1, naming the first line
 * that breaks it (edited, removed, reordered, cut short, a bad seal); 2
 * for a usage error or a file that cannot be read.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <yajl/yajl_tree.h>

#include "common/audit_chain.h"

struct trail {
	EVP_PKEY *key;            /* NULL: seals' signatures not checked */
	bool started;
	uint8_t last[CAM_AUDIT_HASH];
	uint64_t seq, first_seq;
	uint8_t (*hashes)[CAM_AUDIT_HASH]; /* by seq - first_seq */
	size_t cap;
	uint64_t seals, last_sealed;
	bool ends_sealed;          /* the last line read is a seal */
	uint64_t clock, reset, restart;
	bool have_clock;
	const char *file;
	size_t lineno;
};

static int broken(const struct trail *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int broken(const struct trail *t, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL: %s:%zu: ", t->file, t->lineno);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return 1;
}

static const char *str_of(yajl_val root, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val v = yajl_tree_get(root, path, yajl_t_string);

	return v ? YAJL_GET_STRING(v) : NULL;
}

/* An unsigned integer field; false when absent or not one. */
static bool num_of(yajl_val root, const char *key, uint64_t *out)
{
	const char *path[] = { key, NULL };
	yajl_val v = yajl_tree_get(root, path, yajl_t_number);

	if (!v || !YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0)
		return false;
	*out = (uint64_t)YAJL_GET_INTEGER(v);
	return true;
}

static void remember(struct trail *t, const uint8_t h[CAM_AUDIT_HASH])
{
	size_t i = (size_t)(t->seq - t->first_seq);

	if (i >= t->cap) {
		t->cap = t->cap ? t->cap * 2 : 4096;
		t->hashes = realloc(t->hashes, t->cap * sizeof(*t->hashes));
		if (!t->hashes) {
			perror("cam-audit");
			exit(2);
		}
	}
	memcpy(t->hashes[i], h, CAM_AUDIT_HASH);
}

/* A DER signature of digest by t->key. */
static bool signature_ok(const struct trail *t, const char *hex, const uint8_t digest[32])
{
	uint8_t der[80];
	size_t n = strlen(hex) / 2;
	EVP_PKEY_CTX *ctx;
	bool ok;

	if (strlen(hex) % 2 || n > sizeof(der))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return false;
		der[i] = (uint8_t)v;
	}
	ctx = EVP_PKEY_CTX_new(t->key, NULL);
	ok = ctx && EVP_PKEY_verify_init(ctx) == 1 &&
	     EVP_PKEY_verify(ctx, der, n, digest, 32) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static int check_seal(struct trail *t, yajl_val root)
{
	const char *sealed = str_of(root, "sealed"), *sig = str_of(root, "signature");
	uint64_t lines, clock, reset, restart;
	uint8_t want[CAM_AUDIT_HASH], d[CAM_AUDIT_HASH], signed_d[CAM_AUDIT_HASH];

	if (!sealed || !sig || !num_of(root, "lines", &lines) || !num_of(root, "tpm_clock", &clock) ||
	    !num_of(root, "tpm_reset_count", &reset) || !num_of(root, "tpm_restart_count", &restart) ||
	    cam_audit_unhex(sealed, want))
		return broken(t, "a seal without sealed, lines, tpm_clock, tpm_reset_count, "
			      "tpm_restart_count and signature");
	if (lines >= t->first_seq && lines < t->seq &&
	    memcmp(t->hashes[lines - t->first_seq], want, CAM_AUDIT_HASH))
		return broken(t, "the seal of line %" PRIu64 " names a hash that is not that "
			      "line's (a sealed line was edited, or the seal was)", lines);
	if (lines >= t->seq)
		return broken(t, "a seal of line %" PRIu64 ", which comes after it", lines);
	if (t->have_clock && reset == t->reset && restart == t->restart && clock < t->clock)
		return broken(t, "the seal's TPM clock %" PRIu64 " is before the last seal's %" PRIu64
			      " (resealed later, or out of order)", clock, t->clock);
	if (t->have_clock && (reset < t->reset || (reset == t->reset && restart < t->restart)))
		return broken(t, "the seal's TPM reset/restart counts go back");
	if (t->key) {
		cam_audit_seal_digest(sealed, lines, d);
		cam_audit_clocked_digest(d, clock, (uint32_t)reset, (uint32_t)restart, signed_d);
		if (!signature_ok(t, sig, signed_d))
			return broken(t, "the seal's signature does not verify with the TPM public key "
				      "(signed by another key, or its fields were changed)");
	}
	t->have_clock = true;
	t->clock = clock;
	t->reset = reset;
	t->restart = restart;
	t->seals++;
	t->last_sealed = lines;
	return 0;
}

/* One line (len bytes, no newline). */
static int check_line(struct trail *t, char *line, size_t len)
{
	char err[200];
	uint8_t prev[CAM_AUDIT_HASH], genesis[CAM_AUDIT_HASH], h[CAM_AUDIT_HASH];
	const char *prev_hex, *event;
	uint64_t seq;
	yajl_val root;
	int rc = 0;

	line[len] = '\0';
	root = yajl_tree_parse(line, err, sizeof(err));
	if (!root || !YAJL_IS_OBJECT(root)) {
		yajl_tree_free(root);
		return broken(t, "not a JSON object (an edited line)");
	}
	prev_hex = str_of(root, "prev");
	if (!prev_hex || cam_audit_unhex(prev_hex, prev) || !num_of(root, "seq", &seq)) {
		rc = broken(t, "no prev and seq: not an audit line");
		goto out;
	}
	if (!t->started) {
		cam_audit_genesis(genesis);
		printf("the trail %s at seq %" PRIu64 "\n",
		       memcmp(prev, genesis, sizeof(prev)) ? "continues from an earlier file"
							   : "begins", seq);
		t->started = true;
		t->first_seq = seq;
	} else {
		if (memcmp(prev, t->last, sizeof(prev))) {
			rc = broken(t, "prev is not the hash of the line before it (a line was "
				    "edited, removed or moved)");
			goto out;
		}
		if (seq != t->seq + 1) {
			rc = broken(t, "seq %" PRIu64 " where %" PRIu64 " comes next (a line was "
				    "removed or moved)", seq, t->seq + 1);
			goto out;
		}
	}
	cam_audit_line_hash(line, len, h);
	t->seq = seq;
	remember(t, h);
	memcpy(t->last, h, sizeof(h));
	event = str_of(root, "event");
	if (!event)
		event = str_of(root, "event.action");
	t->ends_sealed = event && !strcmp(event, "seal");
	if (t->ends_sealed)
		rc = check_seal(t, root);
out:
	yajl_tree_free(root);
	return rc;
}

static int check_file(struct trail *t, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	if (!f) {
		fprintf(stderr, "cam-audit: cannot read %s: %s\n", path, strerror(errno));
		return 2;
	}
	t->file = path;
	t->lineno = 0;
	while (!rc && (n = getline(&line, &cap, f)) > 0) {
		t->lineno++;
		if (line[n - 1] != '\n') {
			rc = broken(t, "the last line is cut short (the file was truncated in the "
				    "middle of a line)");
			break;
		}
		rc = check_line(t, line, (size_t)n - 1);
	}
	free(line);
	fclose(f);
	return rc;
}

static EVP_PKEY *load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (!f) {
		fprintf(stderr, "cam-audit: cannot read %s: %s\n", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (!k)
		fprintf(stderr, "cam-audit: %s holds no PEM public key\n", path);
	return k;
}

static int usage(void)
{
	fprintf(stderr, "usage: cam-audit verify FILE... [--tpm-public-key PEM]\n"
			"  checks the chain of every line and every seal, across the files in the\n"
			"  order given (oldest first); exit 0 when all hold, 1 naming the first\n"
			"  line that breaks them\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct trail t = { 0 };
	const char *files[4096];
	size_t nfiles = 0;
	int rc = 0;

	if (argc < 3 || strcmp(argv[1], "verify"))
		return usage();
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--tpm-public-key")) {
			if (i + 1 >= argc || !(t.key = load_key(argv[++i])))
				return 2;
		} else if (!strcmp(argv[i], "--help")) {
			return usage(), 0;
		} else if (nfiles < sizeof(files) / sizeof(files[0])) {
			files[nfiles++] = argv[i];
		}
	}
	if (!nfiles)
		return usage();
	for (size_t i = 0; i < nfiles && !rc; i++)
		rc = check_file(&t, files[i]);
	if (!rc) {
		printf("OK: %" PRIu64 " lines in %zu file%s, the chain holds, %" PRIu64 " seal%s %s",
		       t.started ? t.seq - t.first_seq + 1 : 0, nfiles, nfiles == 1 ? "" : "s",
		       t.seals, t.seals == 1 ? "" : "s",
		       t.key ? "verified with the TPM public key" : "checked (signatures not: no --tpm-public-key)");
		printf("\n");
		if (t.started && !t.ends_sealed)
			printf("note: lines after seq %" PRIu64 " (to %" PRIu64 ") are not sealed yet%s\n",
			       t.last_sealed, t.seq,
			       t.seals ? "" : " (no seal: a kernel without a TPM chains its lines only)");
	}
	free(t.hashes);
	EVP_PKEY_free(t.key);
	return rc;
}
