#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Issue 26's independent client (Debian's python3-grpcio): agents kept apart.

Messages come from proto/cam.proto through Debian's grpc_tools.protoc (no
CAM-OS code). A target is an address with, optionally, a CA to trust (TLS),
a client certificate and key, and a bearer token.

usage:
  isolation_client.py call [--addr A] [--ca F] [--cert F --key F] [--token T]
                           [--caller C] [--data-file F | --data TEXT]
                           [--data-out F] [--timeout S] VERB [PAYLOAD]
      one call; prints "CODE result" or "CODE details" on one line (exit 0)
  isolation_client.py matrix SPEC.json RUN
      the cases of SPEC (isolation_matrix.py makes it); "  ok   ..." and
      "  FAIL ..." lines, then "python matrix: N passed, N failed"
  isolation_client.py load ADDR TOKEN SECONDS THREADS VERB PAYLOAD [RATE]
      calls VERB from THREADS threads (each at most RATE calls/s, 0: as fast
      as it can) for SECONDS; prints {"CODE": count, ...} as JSON
  isolation_client.py reload ADDR ADMIN_TOKEN PID UPDATE.json N CALLER VERB RESOURCE
      N times, alternately: policy_update with UPDATE.json (its answer must be
      the next version), and SIGHUP to PID (the kernel reads CAM_POLICY_FILE
      again); after each, policy_query (as admin about CALLER doing VERB on
      RESOURCE) must name a rule of the policy just put in force ("-by-update"
      or "-by-file" in its name) with a higher version; prints a JSON summary
  isolation_client.py register ADDR ADMIN_TOKEN N PREFIX SCOPES OUT [THREADS]
      registers agents PREFIX00000.. with agent_register (THREADS calls in
      flight; over TLS with $ISO_CA); writes "name token" lines to OUT; prints
      how many and how long
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import grpc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


def stubs():
    """cam_pb2 from proto/cam.proto: generated into $ISO_STUBS_DIR once (the
    tests set it to a folder of their own), else into a new folder."""
    out = os.environ.get("ISO_STUBS_DIR")
    if not out:
        import atexit
        import shutil
        out = tempfile.mkdtemp(prefix="camiso-")
        atexit.register(shutil.rmtree, out, True)
    if not os.path.exists(os.path.join(out, "cam_pb2.py")):
        os.makedirs(out, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix="gen-", dir=out)
        subprocess.check_call([sys.executable, "-m", "grpc_tools.protoc",
                               "-I" + os.path.join(ROOT, "proto"), "--python_out=" + tmp,
                               "cam.proto"])
        os.replace(os.path.join(tmp, "cam_pb2.py"), os.path.join(out, "cam_pb2.py"))
    sys.path.insert(0, out)
    import cam_pb2  # noqa: E402
    return cam_pb2


pb = stubs()


def parse(result):
    """The payload grammar: a token without ':' continues the last value."""
    out, last = {}, None
    for tok in result.split(",") if result else []:
        if ":" in tok:
            last, v = tok.split(":", 1)
            out[last] = v
        elif last is not None:
            out[last] += "," + tok
    return out


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Target:
    """A channel to the kernel as one identity."""

    def __init__(self, addr, ca=None, cert=None, key=None, token=None):
        self.addr, self.token = addr, token
        opts = [("grpc.max_receive_message_length", 64 << 20),
                ("grpc.enable_retries", 0)]
        if ca:
            creds = grpc.ssl_channel_credentials(
                root_certificates=read(ca),
                private_key=read(key) if key else None,
                certificate_chain=read(cert) if cert else None)
            self.ch = grpc.secure_channel(addr, creds, options=opts)
        else:
            self.ch = grpc.insecure_channel(addr, options=opts)
        self.execute = self.ch.unary_unary(
            "/cam.SyscallService/Execute",
            request_serializer=lambda x: x.SerializeToString(),
            response_deserializer=pb.SyscallResponse.FromString)

    def call(self, verb, payload="", data=b"", caller="", timeout=10):
        """(code name, raw result, data bytes, details)."""
        md = [("authorization", "Bearer " + self.token)] if self.token else None
        try:
            r = self.execute(pb.SyscallRequest(verb=verb, payload=payload, data=data,
                                               caller_id=caller),
                             timeout=timeout, metadata=md)
        except grpc.RpcError as e:
            return e.code().name, "", b"", e.details() or ""
        return "OK", r.result, r.data, ""

    def close(self):
        self.ch.close()


def target_of(spec):
    return Target(spec["addr"], spec.get("ca"), spec.get("cert"), spec.get("key"),
                  spec.get("token"))


def cmd_call(args):
    kw = {"addr": "127.0.0.1:50051"}
    data, data_out, caller, timeout = b"", None, "", 10.0
    rest = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--addr", "--ca", "--cert", "--key", "--token"):
            kw[a[2:]] = args[i + 1]
            i += 2
        elif a == "--data-file":
            data = read(args[i + 1])
            i += 2
        elif a == "--data":
            data = args[i + 1].encode()
            i += 2
        elif a == "--data-out":
            data_out = args[i + 1]
            i += 2
        elif a == "--caller":
            caller = args[i + 1]
            i += 2
        elif a == "--timeout":
            timeout = float(args[i + 1])
            i += 2
        else:
            rest.append(a)
            i += 1
    t = Target(kw["addr"], kw.get("ca"), kw.get("cert"), kw.get("key"), kw.get("token"))
    code, result, out, details = t.call(rest[0], rest[1] if len(rest) > 1 else "", data,
                                        caller, timeout)
    if data_out is not None:
        with open(data_out, "wb") as f:
            f.write(out)
    print(code, result if code == "OK" else details)
    t.close()
    return 0


def subst(s, run, saved):
    s = s.replace("${run}", run)
    for k, v in saved.items():
        s = s.replace("${" + k + "}", v)
    return s


def cmd_matrix(args):
    spec = json.load(open(args[0]))
    run = args[1]
    targets = {name: target_of(t) for name, t in spec["targets"].items()}
    saved, passed, failed = {}, 0, 0
    for case in spec["cases"]:
        payload = subst(case.get("payload", ""), run, saved)
        data = subst(case["data"], run, saved).encode() if "data" in case else b""
        if "token" in case:  # a token handed out during the run (agent_register)
            base = dict(spec["targets"]["root"], token=subst(case["token"], run, saved))
            t = target_of(base)
        else:
            t = targets[case["as"]]
        code, result, out, details = t.call(case["verb"], payload, data)
        if "token" in case:
            t.close()
        text = result if code == "OK" else details
        want = case["code"]
        good = code == want and all(subst(h, run, saved) in text for h in case.get("has", []))
        good = good and not any(subst(h, run, saved) in text for h in case.get("lacks", []))
        for var, key in case.get("save", {}).items():
            saved[var] = parse(result).get(key, "") if code == "OK" else ""
        if case.get("save_data"):
            saved[case["save_data"]] = out.decode(errors="replace")
        name = " ".join(("%s: %s %s -> %s" % (case["as"], case["verb"], payload[:80], want)).split())
        if case.get("note"):
            name += " (" + case["note"] + ")"
        if good:
            passed += 1
            print("  ok   py " + name)
        else:
            failed += 1
            print("  FAIL py %s\n       got %s %s" % (name, code, text[:300]))
        sys.stdout.flush()
    for t in targets.values():
        t.close()
    print("python matrix: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


def cmd_load(args):
    addr, token, seconds, threads, verb, payload = args[:6]
    rate = float(args[6]) if len(args) > 6 else 0.0
    seconds, threads = float(seconds), int(threads)
    counts, lock = {}, threading.Lock()
    details = {}
    end = time.monotonic() + seconds

    def worker():
        t = Target(addr, token=token or None)
        mine, gap, nxt = {}, (1.0 / rate if rate > 0 else 0), time.monotonic()
        while time.monotonic() < end:
            code, _, _, d = t.call(verb, payload, timeout=10)
            mine[code] = mine.get(code, 0) + 1
            if code != "OK" and code not in details:
                details[code] = d
            if gap:
                nxt += gap
                pause = nxt - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
        t.close()
        with lock:
            for k, v in mine.items():
                counts[k] = counts.get(k, 0) + v

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    counts["_details"] = details
    print(json.dumps(counts))
    return 0


def cmd_reload(args):
    import signal
    addr, admin, pid, update, n, caller, verb, resource = args[:8]
    pid, n = int(pid), int(n)
    pace = float(args[8]) if len(args) > 8 else 0.0
    update = read(update)
    t = Target(addr, token=admin)
    query = "verb:%s,resource:%s,caller:%s" % (verb, resource, caller)
    errors, switch_ms, version = [], [], None

    def ask():
        code, result, _, details = t.call("policy_query", query)
        if code != "OK":
            errors.append("policy_query: %s %s" % (code, details))
            return "", -1
        r = parse(result)
        return r.get("rule", ""), int(r.get("policy_version", "-1"))

    _, version = ask()
    for i in range(n):
        t0 = time.monotonic()
        if i % 2 == 0:
            code, result, _, details = t.call("policy_update", "", update)
            if code != "OK":
                errors.append("policy_update %d: %s %s" % (i, code, details))
                continue
            got = int(parse(result).get("policy_version", "-1"))
            if got != version + 1:
                errors.append("policy_update %d: version %d after %d" % (i, got, version))
            want = "-by-update"
        else:
            os.kill(pid, signal.SIGHUP)
            want = "-by-file"
        while True:
            rule, v = ask()
            if want in rule and v > version:
                version = v
                break
            if time.monotonic() - t0 > 5:
                errors.append("step %d: after 5 s the rule is %r (version %d), not *%s" %
                              (i, rule, v, want))
                break
            time.sleep(0.002)
        switch_ms.append((time.monotonic() - t0) * 1000)
        if pace > 0:
            time.sleep(max(0.0, pace - (time.monotonic() - t0)))
    t.close()
    switch_ms.sort()
    print(json.dumps({"steps": n, "errors": errors[:5], "nerrors": len(errors),
                      "final_version": version,
                      "switch_ms_p50": round(switch_ms[len(switch_ms) // 2], 1) if switch_ms else -1,
                      "switch_ms_max": round(switch_ms[-1], 1) if switch_ms else -1}))
    return 0 if not errors else 1


def cmd_register(args):
    addr, admin, n, prefix, scopes, out = args[:6]
    threads = int(args[6]) if len(args) > 6 else 64
    n = int(n)
    t = Target(addr, os.environ.get("ISO_CA"), token=admin)  # ISO_CA: over TLS
    rpc = t.execute
    md = [("authorization", "Bearer " + admin)]
    tokens = [None] * n
    errors = []
    t0 = time.monotonic()
    sem = threading.Semaphore(threads)
    done = threading.Event()
    left = [n]
    lock = threading.Lock()

    def finished(i, fut):
        try:
            r = fut.result()
            tokens[i] = r.data.decode()
        except grpc.RpcError as e:
            errors.append("%s %s" % (e.code().name, e.details()))
        sem.release()
        with lock:
            left[0] -= 1
            if left[0] == 0:
                done.set()

    for i in range(n):
        sem.acquire()
        fut = rpc.future(pb.SyscallRequest(verb="agent_register",
                                           payload="agent:%s%05d,scopes:%s" % (prefix, i, scopes)),
                         timeout=60, metadata=md)
        fut.add_done_callback(lambda f, i=i: finished(i, f))
    if n:
        done.wait()
    took = time.monotonic() - t0
    with open(out, "w") as f:
        for i, tok in enumerate(tokens):
            if tok:
                f.write("%s%05d %s\n" % (prefix, i, tok))
    t.close()
    print(json.dumps({"registered": sum(1 for x in tokens if x), "errors": len(errors),
                      "first_error": errors[0] if errors else "", "seconds": round(took, 2)}))
    return 0 if not errors else 1


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    return {"call": cmd_call, "matrix": cmd_matrix, "load": cmd_load,
            "register": cmd_register, "reload": cmd_reload}[cmd](args)


if __name__ == "__main__":
    sys.exit(main())
