#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Replays the Dockerfile in debootstrap chroots, for machines with no
container engine, then runs the image's two programs as its USER.

usage: sudo scripts/replay-dockerfile.py [WORKDIR]   (default /tmp/cam-os-replay)

Not part of `make test`: it needs root and downloads Debian 12 (about 300 MB
of packages, a few minutes). Each FROM debian:12* stage starts from a copy of
one `debootstrap --variant=minbase bookworm` tree (kept in WORKDIR/base);
ENV, WORKDIR, COPY (from the build context less .dockerignore, or
--from=stage) and RUN (in a chroot, with /proc mounted) are carried out as
written; USER and CMD are used by the smoke test at the end: cam-kernel and
cam-exporter as that user, sharing the bus folder, must serve /readyz 200
with cam_os_kernel_up 1 and exit 0 on SIGTERM. Differences from a real
build: no layer cache, no isolation of the network or the process tree,
and debian:12-slim is the same minbase tree as debian:12.
"""
import fnmatch
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIRROR = "http://deb.debian.org/debian"


def instructions(path):
    """(KEYWORD, argument text) of each instruction, continuations joined."""
    out, cur = [], ""
    with open(path) as f:
        for line in f:
            s = line.rstrip("\n")
            if not cur and (not s.strip() or s.lstrip().startswith("#")):
                continue
            if s.endswith("\\"):
                cur += s[:-1] + " "
                continue
            cur += s
            kw, _, arg = cur.strip().partition(" ")
            out.append((kw.upper(), arg.strip()))
            cur = ""
    return out


def ignored(rel, patterns):
    for p in patterns:
        p = p.rstrip("/")
        if p.startswith("**/"):
            if any(fnmatch.fnmatch(part, p[3:]) for part in rel.split("/")) or fnmatch.fnmatch(rel, p[3:]):
                return True
        elif rel == p or rel.startswith(p + "/") or fnmatch.fnmatch(rel, p):
            return True
    return False


def context_files():
    with open(os.path.join(ROOT, ".dockerignore")) as f:
        pats = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    files = []
    for d, dirs, names in os.walk(ROOT):
        reld = os.path.relpath(d, ROOT)
        dirs[:] = [x for x in dirs if not ignored(os.path.normpath(os.path.join(reld, x)), pats)]
        for n in names:
            rel = os.path.normpath(os.path.join(reld, n))
            if not ignored(rel, pats):
                files.append(rel)
    return files


def copy_into(src, dst):
    os.makedirs(os.path.dirname(dst.rstrip("/")) or "/", exist_ok=True)
    if os.path.isdir(src) and not os.path.islink(src):
        shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst, follow_symlinks=False)


def chroot_run(rootfs, cmd, env, cwd):
    subprocess.run(["mount", "-t", "proc", "proc", f"{rootfs}/proc"], check=True)
    try:
        full = "cd {} && {}".format(shlex.quote(cwd), cmd)
        args = ["chroot", rootfs, "/usr/bin/env", "-i"] + [f"{k}={v}" for k, v in env.items()] + ["/bin/sh", "-c", full]
        print(f"+ RUN {cmd[:120]}", flush=True)
        subprocess.run(args, check=True)
    finally:
        subprocess.run(["umount", f"{rootfs}/proc"], check=False)


def replay(work):
    base = os.path.join(work, "base")
    if not os.path.isdir(base):
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", base, MIRROR], check=True)
    stages, env, cwd, rootfs, user, cmd = {}, {}, "/", None, "0", None
    for kw, arg in instructions(os.path.join(ROOT, "Dockerfile")):
        if kw == "FROM":
            parts = arg.split()
            if not parts[0].startswith("debian:12"):
                raise SystemExit(f"replay knows only debian:12 images, not {parts[0]}")
            name = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else f"stage{len(stages)}"
            rootfs = os.path.join(work, name)
            shutil.rmtree(rootfs, ignore_errors=True)
            subprocess.run(["cp", "-a", base, rootfs], check=True)
            shutil.copy2("/etc/resolv.conf", f"{rootfs}/etc/resolv.conf")
            stages[name] = rootfs
            env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
            cwd, user, cmd = "/", "0", None
        elif kw == "ENV":
            k, _, v = arg.partition("=")
            env[k] = v
        elif kw == "WORKDIR":
            cwd = os.path.join(cwd, arg)
            os.makedirs(rootfs + cwd, exist_ok=True)
        elif kw == "COPY":
            words = arg.split()
            frm = None
            if words[0].startswith("--from="):
                frm, words = words[0].split("=", 1)[1], words[1:]
            *srcs, dest = words
            dest = dest if dest.startswith("/") else os.path.join(cwd, dest)
            for s in srcs:
                if frm:
                    copy_into(stages[frm] + s, rootfs + dest)
                elif s == ".":
                    for rel in context_files():
                        copy_into(os.path.join(ROOT, rel), os.path.join(rootfs + dest, rel))
                else:
                    target = rootfs + dest
                    if dest.endswith("/"):
                        target = os.path.join(target, os.path.basename(s))
                    copy_into(os.path.join(ROOT, s), target)
            print(f"+ COPY {arg}", flush=True)
        elif kw == "RUN":
            chroot_run(rootfs, arg, env, cwd)
        elif kw == "USER":
            user = arg
        elif kw == "CMD":
            cmd = arg
        # EXPOSE, LABEL and the like change nothing here.
    return rootfs, env, user, cmd, cwd


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def smoke(rootfs, env, user, cmd, cwd):
    gport, hport = free_port(), free_port()
    print(f"+ smoke test as {user} (image CMD {cmd})", flush=True)
    os.makedirs(rootfs + "/tmp", exist_ok=True)
    os.chmod(rootfs + "/tmp", 0o1777)
    subprocess.run(["mount", "-t", "proc", "proc", f"{rootfs}/proc"], check=True)
    procs = []
    try:
        def start(prog, extra):
            e = dict(env, **extra)
            args = ["chroot", f"--userspec={user}", rootfs, "/usr/bin/env", "-i"] + \
                [f"{k}={v}" for k, v in e.items()] + ["/bin/sh", "-c", f"cd {shlex.quote(cwd)} && exec {prog}"]
            p = subprocess.Popen(args, cwd="/")
            procs.append(p)
        start("/usr/local/bin/cam-kernel", {"CAM_GRPC_LISTEN": f"0.0.0.0:{gport}",
                                           "CAM_ALLOW_ANONYMOUS": "true", "CAM_PUBLISH_INTERVAL_MS": "200"})
        start("/usr/local/bin/cam-exporter", {"CAM_EXPORTER_LISTEN": f"127.0.0.1:{hport}",
                                             "CAM_PUBLISH_INTERVAL_MS": "200"})
        ok, body = False, ""
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{hport}/readyz", timeout=1) as r:
                    ok = r.status == 200
                with urllib.request.urlopen(f"http://127.0.0.1:{hport}/metrics", timeout=2) as r:
                    body = r.read().decode()
                if ok:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        up = any(line.split() == ["cam_os_kernel_up", "1"] for line in body.splitlines())
        for p in procs:
            p.terminate()
        codes = [p.wait(timeout=20) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        subprocess.run(["umount", f"{rootfs}/proc"], check=False)
    print(f"readyz 200: {ok}, cam_os_kernel_up 1: {up}, exit codes on SIGTERM: {codes}")
    return ok and up and codes == [0, 0]


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else "/tmp/cam-os-replay"
    os.makedirs(work, exist_ok=True)
    rootfs, env, user, cmd, cwd = replay(work)
    good = smoke(rootfs, env, user, cmd, cwd)
    print("replay-dockerfile: " + ("image works" if good else "FAILED"))
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
