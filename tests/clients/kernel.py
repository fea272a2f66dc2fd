# SPDX-License-Identifier: Apache-2.0
"""Test harness of the Python client tests: real cam-kernels (and swtpm)
on free loopback ports, each with its own data folders, stopped by PID at
exit, on failure, and if the test process dies (setpriv --pdeathsig).

Start kernels from the main thread only: the death signal is tied to the
thread that started the process.

Environment: BUILD (build folder under the checkout, default build),
CAM_TEST_TMP (scratch folder; default a new one), CAM_TEST_PIDFILE (every
PID started is appended there, for the runner's own cleanup).
"""
import atexit
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
KERNEL_BIN = os.path.join(BUILD, "cam-kernel")
TMP = os.environ.get("CAM_TEST_TMP") or tempfile.mkdtemp(prefix="cam-clients-")
_OWN_TMP = not os.environ.get("CAM_TEST_TMP")  # made here: removed at exit
_procs = []
_serial = [0]


def _note_pid(pid):
    path = os.environ.get("CAM_TEST_PIDFILE")
    if path:
        with open(path, "a") as f:
            f.write("%d\n" % pid)


def _spawn(argv, log, env=None):
    """argv in the background, killed with this process; output to log."""
    out = open(log, "ab")
    proc = subprocess.Popen(["setpriv", "--pdeathsig", "KILL"] + argv, stdout=out,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, start_new_session=True)
    out.close()
    _procs.append(proc)
    _note_pid(proc.pid)
    return proc


def _stop_all():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if _OWN_TMP:
        shutil.rmtree(TMP, ignore_errors=True)


atexit.register(_stop_all)


def next_serial():
    """A name suffix unique in the shared scratch folder (several test
    processes use it: the pid, then a count)."""
    _serial[0] += 1
    return "%d-%d" % (os.getpid(), _serial[0])


def free_port(width=1):
    """A free loopback port whose next width-1 ports are free too."""
    while True:
        socks = []
        try:
            a = socket.socket()
            socks.append(a)
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            for k in range(1, width):
                b = socket.socket()
                socks.append(b)
                b.bind(("127.0.0.1", port + k))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()


class Kernel:
    """build/cam-kernel with extra flags and environment."""

    def __init__(self, *args, env=None, port=0):
        n = next_serial()
        self.args = list(args)
        self.name = "kernel-%s" % n
        self.dir = os.path.join(TMP, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.env = dict(os.environ, CAM_DATA_DIR=os.path.join(self.dir, "data"),
                        XDG_STATE_HOME=os.path.join(self.dir, "state"), **(env or {}))
        self.log = os.path.join(self.dir, "kernel.log")
        self.port = port
        self.proc = None
        self.starts = 0

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=15.0):
        self.starts += 1
        bus = "ipc://%s/bus-%d.ipc" % (self.dir, self.starts)
        argv = [KERNEL_BIN, "--grpc-listen", "127.0.0.1:%d" % self.port, "--bus-addr", bus,
                "--publish-interval-ms", "1000"] + self.args
        mark = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        self.proc = _spawn(argv, self.log, self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(self.log, "rb") as f:
                f.seek(mark)
                m = re.search(rb'"grpc_port":(\d+)', f.read())
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("%s did not start:\n%s" % (self.name, self.tail()))

    def stop(self, sig=signal.SIGKILL):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def tail(self, n=30):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"


def swtpm():
    """A software TPM on free ports; returns the kernel's TCTI string."""
    port = free_port(2)
    state = os.path.join(TMP, "swtpm-%s" % next_serial())
    os.makedirs(state)
    _spawn(["swtpm", "socket", "--tpm2",
            "--server", "type=tcp,port=%d,bindaddr=127.0.0.1" % port,
            "--ctrl", "type=tcp,port=%d,bindaddr=127.0.0.1" % (port + 1),
            "--tpmstate", "dir=" + state, "--flags", "not-need-init,startup-clear"],
           state + ".log")
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return "swtpm:host=127.0.0.1,port=%d" % port


def drivers_dir():
    """A drivers folder with the examples and the badabi test driver."""
    d = os.path.join(TMP, "drivers-%s" % next_serial())
    os.makedirs(d)
    for src in ("drivers/text_transform", "drivers/kv_cache", "drivers-test/badabi"):
        os.symlink(os.path.join(BUILD, src), os.path.join(d, os.path.basename(src)))
    return d


def tokens_file(entries):
    """A tokens file; entries: (token, caller, scopes[, rate, burst])."""
    path = os.path.join(TMP, "tokens-%s" % next_serial())
    with open(path, "w") as f:
        for token, caller, scopes, *limits in entries:
            f.write("%s %s %s %s\n" % (hashlib.sha256(token.encode()).hexdigest(), caller,
                                      scopes, " ".join(str(x) for x in limits)))
    return path


def _openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


class Pki:
    """A CA of the test's own, a server certificate for DNS:cam.test and a
    client certificate for spiffe://cam.test/agent/agent-cert (CN agent-cert),
    and a second CA that signed nothing the kernel knows."""

    TRUST_DOMAIN = "cam.test"
    SERVER_NAME = "cam.test"
    CLIENT = "agent-cert"

    def __init__(self):
        d = self.dir = os.path.join(TMP, "pki-%s" % next_serial())
        os.makedirs(d)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        for ca in ("ca", "other-ca"):
            _openssl("req", "-x509", *ec, "-days", "2", "-keyout", self.path(ca + "-key.pem"),
                     "-out", self.path(ca + ".pem"), "-subj", "/CN=" + ca)
        self._issue("server", "/CN=" + self.SERVER_NAME, "subjectAltName=DNS:" + self.SERVER_NAME)
        self._issue("client", "/CN=" + self.CLIENT,
                    "subjectAltName=URI:spiffe://%s/agent/%s" % (self.TRUST_DOMAIN, self.CLIENT))

    def path(self, name):
        return os.path.join(self.dir, name)

    def _issue(self, name, subject, ext):
        with open(self.path(name + ".ext"), "w") as f:
            f.write(ext + "\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", self.path(name + "-key.pem"), "-out", self.path(name + ".csr"),
                 "-subj", subject)
        _openssl("x509", "-req", "-in", self.path(name + ".csr"), "-CA", self.path("ca.pem"),
                 "-CAkey", self.path("ca-key.pem"), "-CAcreateserial", "-days", "2",
                 "-extfile", self.path(name + ".ext"), "-out", self.path(name + ".pem"))


_shared = {}


def shared(name, make):
    """One kernel (or other fixture) per name for the whole test run."""
    if name not in _shared:
        _shared[name] = make()
    return _shared[name]


def main_kernel():
    """Drivers (text_transform loaded), a software TPM, 16 workers."""
    return shared("main", lambda: Kernel(
        "--drivers-dir", drivers_dir(), "--drivers-autoload", "text_transform",
        "--tpm-tcti", swtpm(), "--grpc-workers", "16").start())


ADMIN_TOKEN = "admin-token-0123456789"
READER_TOKEN = "reader-token-0123456789"
SLOW_TOKEN = "slow-token-0123456789"


def auth_kernel():
    """Bearer tokens: admin (admin), reader (read only), slow (1 call/s)."""
    return shared("auth", lambda: Kernel("--auth-tokens-file", tokens_file([
        (ADMIN_TOKEN, "admin-1", "admin"), (READER_TOKEN, "reader-1", "read"),
        (SLOW_TOKEN, "slow-1", "read,write", 1, 1)])).start())


def pki():
    return shared("pki", Pki)


def tls_kernel():
    """TLS with the test CA's server certificate, bearer tokens as in
    auth_kernel, and client certificates of the test CA taken when offered
    (CAM_TLS_CLIENT_AUTH=optional)."""
    p = pki()
    return shared("tls", lambda: Kernel(
        "--tls-cert-file", p.path("server.pem"), "--tls-key-file", p.path("server-key.pem"),
        "--auth-tokens-file", tokens_file([(ADMIN_TOKEN, "admin-1", "admin")]),
        *_client_certs(p, "optional")).start())


def mtls_kernel():
    """TLS that requires a client certificate of the test CA, no tokens."""
    p = pki()
    return shared("mtls", lambda: Kernel(
        "--tls-cert-file", p.path("server.pem"), "--tls-key-file", p.path("server-key.pem"),
        *_client_certs(p, "require")).start())


def _client_certs(p, auth):
    return ["--tls-client-ca-file", p.path("ca.pem"), "--tls-client-auth", auth,
            "--tls-trust-domain", Pki.TRUST_DOMAIN]
