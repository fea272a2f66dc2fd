/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of kernel/security/tpm.c and tpm_codec.c: the encodings, then
 * the TPM thread against a real swtpm this test starts on free loopback
 * ports and kills by PID: sign and verify (checked again with OpenSSL),
 * random, PCRs, calls from several threads, deadlines, a TPM killed and
 * restarted, and one that hangs (SIGSTOP). No swtpm: the tests fail, they
 * are not skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/error.h"
#include "kernel/security/tpm.h"

static struct {
	pid_t pid;
	int port;
	char dir[64];
	char tcti[96];
} sw;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t now_ns(void)
{
	return (int64_t)(now_s() * 1e9);
}

static int bind_port(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	getsockname(fd, (struct sockaddr *)&a, &len);
	return fd;
}

/* A free port whose next port is free too (swtpm's control channel). */
static int free_port_pair(void)
{
	for (;;) {
		struct sockaddr_in a;
		socklen_t len = sizeof(a);
		int fd = bind_port(0), fd2, port;

		getsockname(fd, (struct sockaddr *)&a, &len);
		port = ntohs(a.sin_port);
		fd2 = port < 65535 ? bind_port(port + 1) : -1;
		close(fd);
		if (fd2 >= 0) {
			close(fd2);
			return port;
		}
	}
}

static int connectable(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static int swtpm_start(void)
{
	char server[64], ctrl[64], state[96];
	double until = now_s() + 10;

	snprintf(server, sizeof(server), "type=tcp,port=%d,bindaddr=127.0.0.1", sw.port);
	snprintf(ctrl, sizeof(ctrl), "type=tcp,port=%d,bindaddr=127.0.0.1", sw.port + 1);
	snprintf(state, sizeof(state), "dir=%s", sw.dir);
	sw.pid = fork();
	if (sw.pid == 0) {
		execlp("swtpm", "swtpm", "socket", "--tpm2", "--server", server, "--ctrl", ctrl,
		       "--tpmstate", state, "--flags", "not-need-init,startup-clear", (char *)NULL);
		_exit(127);
	}
	/* Probing the control port does not take the one client slot of the
	 * command port. */
	while (now_s() < until) {
		if (connectable(sw.port + 1))
			return 0;
		if (waitpid(sw.pid, NULL, WNOHANG) == sw.pid) {
			sw.pid = 0;
			return -1;
		}
		usleep(20000);
	}
	return -1;
}

static void swtpm_kill(void)
{
	if (sw.pid > 0) {
		kill(sw.pid, SIGCONT);
		kill(sw.pid, SIGKILL);
		waitpid(sw.pid, NULL, 0);
	}
	sw.pid = 0;
}

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	setenv("TSS2_LOG", "all+none", 1);
	snprintf(sw.dir, sizeof(sw.dir), "/tmp/cam-tpm-XXXXXX");
	if (!mkdtemp(sw.dir))
		return -1;
	sw.port = free_port_pair();
	snprintf(sw.tcti, sizeof(sw.tcti), "swtpm:host=127.0.0.1,port=%d", sw.port);
	if (swtpm_start()) {
		fprintf(stderr, "cannot start swtpm (is it installed? deps/debian.txt)\n");
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	swtpm_kill();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sw.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static cam_tpm *open_tpm(unsigned timeout_ms)
{
	struct cam_tpm_opts o = { .tcti = sw.tcti, .timeout_ms = timeout_ms, .retry_ms = 100,
				  .ping_ms = 100 };
	cam_tpm *t = NULL;

	assert_int_equal(cam_tpm_new(&o, &t), 0);
	assert_non_null(t);
	return t;
}

static void wait_ready(cam_tpm *t, double seconds)
{
	double until = now_s() + seconds;
	char msg[256];

	while (cam_tpm_state(t, msg, sizeof(msg)) != CAM_TPM_READY && now_s() < until)
		usleep(20000);
	assert_int_equal(cam_tpm_state(t, msg, sizeof(msg)), CAM_TPM_READY);
}

/* ---- encodings ---- */

static void test_sig_der(void **state)
{
	uint8_t r[32], s[32], r2[32], s2[32], der[CAM_TPM_SIG_MAX_DER];
	size_t n;

	(void)state;
	memset(r, 0x80, 32); /* high bit: needs a 0x00 pad */
	memset(s, 0, 32);
	s[30] = 0x01;
	s[31] = 0x02; /* leading zeros: stripped */
	n = cam_tpm_sig_to_der(r, 32, s, 32, der);
	assert_int_equal(n, 2 + 2 + 33 + 2 + 2);
	assert_int_equal(der[0], 0x30);
	assert_int_equal(der[3], 33);
	assert_int_equal(der[4], 0x00);
	assert_int_equal(cam_tpm_sig_from_der(der, n, r2, s2), 0);
	assert_memory_equal(r, r2, 32);
	assert_memory_equal(s, s2, 32);
	/* Short inputs (as a TPM may return) pad to 32 bytes. */
	n = cam_tpm_sig_to_der((const uint8_t *)"\x7f", 1, (const uint8_t *)"\x01\x00", 2, der);
	assert_int_equal(cam_tpm_sig_from_der(der, n, r2, s2), 0);
	assert_int_equal(r2[31], 0x7f);
	assert_int_equal(s2[30], 0x01);
	/* Malformed: trailing byte, wrong tag, negative, not minimal, short. */
	n = cam_tpm_sig_to_der(r, 32, s, 32, der);
	assert_int_equal(cam_tpm_sig_from_der(der, n - 1, r2, s2), CAM_EINVAL);
	der[0] = 0x31;
	assert_int_equal(cam_tpm_sig_from_der(der, n, r2, s2), CAM_EINVAL);
	assert_int_equal(cam_tpm_sig_from_der((const uint8_t *)"\x30\x06\x02\x01\x81\x02\x01\x01",
					      8, r2, s2),
			 CAM_EINVAL);
	assert_int_equal(cam_tpm_sig_from_der((const uint8_t *)"\x30\x07\x02\x02\x00\x01\x02\x01\x01",
					      9, r2, s2),
			 CAM_EINVAL);
	assert_int_equal(cam_tpm_sig_from_der((const uint8_t *)"\x30\x00", 2, r2, s2), CAM_EINVAL);
	assert_int_equal(cam_tpm_sig_from_der((const uint8_t *)"\x30\x06\x02\x01\x01\x02\x01\x01",
					      8, r2, s2),
			 0);
}

static void test_pem(void **state)
{
	static const char want[] =
		"-----BEGIN PUBLIC KEY-----\n"
		"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAQIDBAUGBwgJCgsMDQ4PEBESExQV\n"
		"FhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QA==\n"
		"-----END PUBLIC KEY-----\n";
	uint8_t x[32], y[32];
	char pem[CAM_TPM_PEM_MAX];

	(void)state;
	for (int i = 0; i < 32; i++) {
		x[i] = (uint8_t)(i + 1);
		y[i] = (uint8_t)(i + 33);
	}
	assert_int_equal(cam_tpm_pem_p256(x, y, pem), strlen(want));
	assert_string_equal(pem, want);
}

static void test_parse_pcrs(void **state)
{
	static const char *const bad[] = { "", "24", "1-", "3-1", "a", "1,,2", "007", "1,", "-1",
					   "0-24", NULL };
	uint32_t m = 0;

	(void)state;
	assert_int_equal(cam_tpm_parse_pcrs("0,1,7", &m), 0);
	assert_int_equal(m, 0x83);
	assert_int_equal(cam_tpm_parse_pcrs("0-7,10", &m), 0);
	assert_int_equal(m, 0x4ff);
	assert_int_equal(cam_tpm_parse_pcrs("all", &m), 0);
	assert_int_equal(m, 0xffffff);
	assert_int_equal(cam_tpm_parse_pcrs("23", &m), 0);
	assert_int_equal(m, 1u << 23);
	for (size_t i = 0; bad[i]; i++)
		assert_int_equal(cam_tpm_parse_pcrs(bad[i], &m), CAM_EINVAL);
	assert_int_equal(cam_tpm_parse_pcrs(NULL, &m), CAM_EINVAL);
}

/* ---- the TPM thread ---- */

static void test_open_needs_tcti(void **state)
{
	struct cam_tpm_opts o = { .tcti = "" };
	cam_tpm *t = (cam_tpm *)&o;

	(void)state;
	assert_int_equal(cam_tpm_new(&o, &t), CAM_EINVAL);
	assert_null(t);
	cam_tpm_free(NULL);
}

/* Nothing listens: the open succeeds, calls answer CAM_EUNAVAIL at once. */
static void test_unreachable(void **state)
{
	char tcti[96], err[256], msg[256];
	struct cam_tpm_opts o = { .tcti = tcti, .retry_ms = 100 };
	uint8_t buf[8];
	cam_tpm *t;
	double t0;

	(void)state;
	snprintf(tcti, sizeof(tcti), "swtpm:host=127.0.0.1,port=%d", free_port_pair());
	assert_int_equal(cam_tpm_new(&o, &t), 0);
	assert_int_equal(cam_tpm_state(t, msg, sizeof(msg)), CAM_TPM_DOWN);
	assert_non_null(strstr(msg, "cannot reach the TPM"));
	t0 = now_s();
	assert_int_equal(cam_tpm_random(t, buf, sizeof(buf), 0, err, sizeof(err)), CAM_EUNAVAIL);
	assert_true(now_s() - t0 < 0.5);
	assert_non_null(strstr(err, "TPM unavailable"));
	cam_tpm_free(t);
}

/* Checks sig (DER) over digest with OpenSSL and the PEM key. */
static int openssl_verifies(const char *pem, const uint8_t digest[32], const uint8_t *sig,
			    size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	EVP_PKEY_CTX *ctx = key ? EVP_PKEY_CTX_new(key, NULL) : NULL;
	int ok = ctx && EVP_PKEY_verify_init(ctx) == 1 &&
		 EVP_PKEY_verify(ctx, sig, len, digest, 32) == 1;

	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	BIO_free(bio);
	return ok;
}

static void test_sign_verify(void **state)
{
	uint8_t digest[32], der[CAM_TPM_SIG_MAX_DER];
	char pem[CAM_TPM_PEM_MAX], err[256];
	uint32_t handle = 0;
	size_t len = 0;
	bool valid = false;
	cam_tpm *t = open_tpm(2000);

	(void)state;
	wait_ready(t, 5);
	memset(digest, 0xab, sizeof(digest));
	assert_int_equal(cam_tpm_sign(t, digest, 0, der, &len, err, sizeof(err)), 0);
	assert_true(len >= 8 && len <= CAM_TPM_SIG_MAX_DER);
	assert_int_equal(cam_tpm_public_key(t, 0, pem, &handle, err, sizeof(err)), 0);
	assert_int_equal(handle, CAM_TPM_DEFAULT_KEY_HANDLE);
	assert_true(openssl_verifies(pem, digest, der, len));
	assert_int_equal(cam_tpm_verify(t, digest, der, len, 0, &valid, err, sizeof(err)), 0);
	assert_true(valid);
	digest[0] ^= 1;
	assert_false(openssl_verifies(pem, digest, der, len));
	assert_int_equal(cam_tpm_verify(t, digest, der, len, 0, &valid, err, sizeof(err)), 0);
	assert_false(valid);
	assert_int_equal(cam_tpm_verify(t, digest, der, len - 1, 0, &valid, err, sizeof(err)),
			 CAM_EINVAL);
	cam_tpm_free(t);
}

static void test_random_and_pcrs(void **state)
{
	static uint8_t a[CAM_TPM_RANDOM_MAX], b[CAM_TPM_RANDOM_MAX];
	uint8_t pcrs[CAM_TPM_NPCRS][CAM_TPM_DIGEST_LEN], ones[CAM_TPM_DIGEST_LEN];
	char err[256];
	cam_tpm *t = open_tpm(2000);

	(void)state;
	wait_ready(t, 5);
	assert_int_equal(cam_tpm_random(t, a, 1, 0, err, sizeof(err)), 0);
	assert_int_equal(cam_tpm_random(t, a, 33, 0, err, sizeof(err)), 0);
	assert_int_equal(cam_tpm_random(t, a, sizeof(a), 0, err, sizeof(err)), 0);
	assert_int_equal(cam_tpm_random(t, b, sizeof(b), 0, err, sizeof(err)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(cam_tpm_random(t, a, 0, 0, err, sizeof(err)), CAM_EINVAL);
	assert_int_equal(cam_tpm_random(t, a, sizeof(a) + 1, 0, err, sizeof(err)), CAM_EINVAL);
	memset(pcrs, 0x55, sizeof(pcrs));
	assert_int_equal(cam_tpm_pcr_read(t, 0xffffff, 0, pcrs, err, sizeof(err)), 0);
	memset(ones, 0xff, sizeof(ones));
	/* After startup PCRs 0-16 and 23 are zero, 17-22 all ones. */
	assert_memory_equal(pcrs[17], ones, sizeof(ones));
	for (size_t i = 0; i < CAM_TPM_DIGEST_LEN; i++)
		assert_int_equal(pcrs[0][i], 0);
	assert_int_equal(cam_tpm_pcr_read(t, 0, 0, pcrs, err, sizeof(err)), CAM_EINVAL);
	cam_tpm_free(t);
}

struct signer {
	cam_tpm *t;
	const char *pem;
	int ok;
};

static void *sign_many(void *arg)
{
	struct signer *s = arg;

	for (int i = 0; i < 10; i++) {
		uint8_t digest[32], der[CAM_TPM_SIG_MAX_DER];
		char err[256];
		size_t len;

		memset(digest, i, sizeof(digest));
		digest[0] = (uint8_t)(uintptr_t)s;
		if (cam_tpm_sign(s->t, digest, 0, der, &len, err, sizeof(err)) == 0 &&
		    openssl_verifies(s->pem, digest, der, len))
			s->ok++;
	}
	return NULL;
}

/* Four worker threads at once: one TPM thread serves them all in turn. */
static void test_concurrent_calls(void **state)
{
	char pem[CAM_TPM_PEM_MAX], err[256];
	struct signer s[4];
	pthread_t th[4];
	uint32_t handle;
	cam_tpm *t = open_tpm(5000);

	(void)state;
	wait_ready(t, 5);
	assert_int_equal(cam_tpm_public_key(t, 0, pem, &handle, err, sizeof(err)), 0);
	for (int i = 0; i < 4; i++) {
		s[i] = (struct signer){ t, pem, 0 };
		pthread_create(&th[i], NULL, sign_many, &s[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(s[i].ok, 10);
	}
	cam_tpm_free(t);
}

/* A deadline already passed: the job leaves the queue, CAM_ETIMEDOUT. */
static void test_deadline(void **state)
{
	uint8_t buf[16];
	char err[256];
	cam_tpm *t = open_tpm(2000);

	(void)state;
	wait_ready(t, 5);
	assert_int_equal(cam_tpm_random(t, buf, sizeof(buf), now_ns() - 1, err, sizeof(err)),
			 CAM_ETIMEDOUT);
	assert_int_equal(cam_tpm_random(t, buf, sizeof(buf), now_ns() + 2000000000LL, err,
					sizeof(err)),
			 0);
	cam_tpm_free(t);
}

/* kill -9, then back: CAM_EUNAVAIL while gone, the same key after. */
static void test_killed_and_restarted(void **state)
{
	char pem[CAM_TPM_PEM_MAX], pem2[CAM_TPM_PEM_MAX], err[256], msg[256];
	uint8_t buf[8];
	uint32_t handle;
	cam_tpm *t = open_tpm(2000);
	double until;
	int rc;

	(void)state;
	wait_ready(t, 5);
	assert_int_equal(cam_tpm_public_key(t, 0, pem, &handle, err, sizeof(err)), 0);
	swtpm_kill();
	rc = cam_tpm_random(t, buf, sizeof(buf), 0, err, sizeof(err));
	assert_int_equal(rc, CAM_EUNAVAIL);
	assert_int_equal(cam_tpm_state(t, msg, sizeof(msg)), CAM_TPM_DOWN);
	assert_int_equal(swtpm_start(), 0);
	until = now_s() + 5;
	while (cam_tpm_random(t, buf, sizeof(buf), 0, err, sizeof(err)) && now_s() < until)
		usleep(50000);
	assert_int_equal(cam_tpm_random(t, buf, sizeof(buf), 0, err, sizeof(err)), 0);
	assert_int_equal(cam_tpm_public_key(t, 0, pem2, &handle, err, sizeof(err)), 0);
	assert_string_equal(pem, pem2);
	cam_tpm_free(t);
}

struct caller {
	cam_tpm *t;
	int rc;
	double took;
};

static void *random_call(void *arg)
{
	struct caller *c = arg;
	uint8_t buf[8];
	char err[256];
	double t0 = now_s();

	c->rc = cam_tpm_random(c->t, buf, sizeof(buf), 0, err, sizeof(err));
	c->took = now_s() - t0;
	return NULL;
}

/* SIGSTOP: a call times out, one queued behind it leaves the queue at its
 * deadline, the state turns down and calls fail fast; after SIGCONT it
 * works again. */
static void test_hung(void **state)
{
	uint8_t buf[8];
	char err[256], msg[256];
	cam_tpm *t = open_tpm(1000);
	struct caller first = { t, 0, 0 };
	pthread_t th;
	double t0, until;

	(void)state;
	wait_ready(t, 5);
	kill(sw.pid, SIGSTOP);
	pthread_create(&th, NULL, random_call, &first);
	usleep(50000);
	t0 = now_s();
	assert_int_equal(cam_tpm_random(t, buf, sizeof(buf), now_ns() + 100000000, err,
					sizeof(err)),
			 CAM_ETIMEDOUT);
	assert_true(now_s() - t0 < 0.6);
	pthread_join(th, NULL);
	assert_int_equal(first.rc, CAM_ETIMEDOUT);
	assert_true(first.took > 0.9 && first.took < 2.5);
	usleep(100000);
	assert_int_equal(cam_tpm_state(t, msg, sizeof(msg)), CAM_TPM_DOWN);
	assert_non_null(strstr(msg, "has not answered"));
	t0 = now_s();
	assert_int_equal(cam_tpm_random(t, buf, sizeof(buf), 0, err, sizeof(err)), CAM_EUNAVAIL);
	assert_true(now_s() - t0 < 0.5); /* at once, not after the 1 s timeout */
	kill(sw.pid, SIGCONT);
	until = now_s() + 5;
	while (cam_tpm_random(t, buf, sizeof(buf), 0, err, sizeof(err)) && now_s() < until)
		usleep(50000);
	assert_int_equal(cam_tpm_random(t, buf, sizeof(buf), 0, err, sizeof(err)), 0);
	cam_tpm_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sig_der),
		cmocka_unit_test(test_pem),
		cmocka_unit_test(test_parse_pcrs),
		cmocka_unit_test(test_open_needs_tcti),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_random_and_pcrs),
		cmocka_unit_test(test_concurrent_calls),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_killed_and_restarted),
		cmocka_unit_test(test_hung),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
