#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Checks docker-compose.test.yml, as `docker-compose config` resolved it,
against the files it uses and the Dockerfile.

usage: check_compose.py ROOT CONFIG.yaml

Nothing is started (that is tests/containers/test_compose.sh, under podman):
this checks, in make test's time, that the stack is wired up as
docker-compose.test.yml's comment says.
Prints one "ok"/"FAIL" line per check and a count; exits 1 if any failed.
"""
import os
import re
import sys

import yaml

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
    print(("      ok   " if ok else "      FAIL ") + what + ("" if ok or not detail else f": {detail}"))


def listen_port(addr):
    return int(addr.rsplit(":", 1)[1])


def main():
    root, cfg_path = sys.argv[1:3]
    with open(cfg_path) as f:
        cfg = yaml.safe_load(f)
    svcs = cfg.get("services") or {}
    check(set(svcs) == {"kernel", "exporter", "prometheus", "alertmanager", "grafana"},
          "services: kernel, exporter, prometheus, alertmanager, grafana", str(sorted(svcs)))
    k, x = svcs.get("kernel", {}), svcs.get("exporter", {})
    p, a, g = svcs.get("prometheus", {}), svcs.get("alertmanager", {}), svcs.get("grafana", {})

    def env(s):
        e = s.get("environment") or {}
        return e if isinstance(e, dict) else dict(i.split("=", 1) for i in e)

    def published(s):
        out = {}
        for port in s.get("ports") or []:
            if isinstance(port, dict):
                out[int(port["published"])] = int(port["target"])
            else:
                host, _, target = str(port).rpartition(":")
                out[int(host.rsplit(":", 1)[-1])] = int(target)
        return out

    def mounts(s):
        out = {}
        for v in s.get("volumes") or []:
            if isinstance(v, dict):
                out[v["target"]] = v["source"]
            else:
                parts = v.split(":")
                out[parts[1]] = parts[0]
        return out

    def arg(s, flag):
        for c in s.get("command") or []:
            if c.startswith(flag + "="):
                return c.split("=", 1)[1]
        return None

    shared = [n for n, s in svcs.items() if s.get("network_mode") == "service:kernel"]
    check(sorted(shared) == ["alertmanager", "exporter", "prometheus"],
          "exporter, Prometheus and Alertmanager share the kernel's network namespace", str(shared))
    ke, xe = env(k), env(x)
    kports = published(k)
    gport = listen_port(ke.get("CAM_GRPC_LISTEN", ":0"))
    xport = listen_port(xe.get("CAM_EXPORTER_LISTEN", ":0"))
    pport = listen_port(arg(p, "--web.listen-address") or ":0")
    aport = listen_port(arg(a, "--web.listen-address") or ":0")
    check(kports.get(9090) == pport == 9090, "Prometheus on localhost:9090", str(kports))
    check(published(g).get(3000) == 3000, "Grafana on localhost:3000")
    check(kports.get(gport) == gport == 50051 and kports.get(xport) == xport == 8080,
          "kernel gRPC on :50051 and exporter on :8080 published")
    check(not ke.get("CAM_GRPC_LISTEN", "").startswith("127.") and ke.get("CAM_ALLOW_ANONYMOUS") == "true",
          "kernel listens beyond loopback with CAM_ALLOW_ANONYMOUS=true (no tokens file)")

    bus = ke.get("CAM_BUS_ADDR", "")
    folder = os.path.dirname(bus[len("ipc://"):])
    kv, xv = mounts(k).get(folder), mounts(x).get(folder)
    check(bus.startswith("ipc://") and bus == xe.get("CAM_BUS_ADDR") and kv and kv == xv and
          kv in (cfg.get("volumes") or {}),
          f"kernel and exporter share {bus} through the named volume {kv}")

    # The kernel's data directory (the image's CAM_DATA_DIR) is a named
    # volume: memory survives `docker-compose down` and `up` again.
    with open(os.path.join(root, "Dockerfile")) as f:
        data_dir = (re.findall(r"^ENV\s+CAM_DATA_DIR=(\S+)", f.read(), re.M) or [""])[-1]
    data_dir = ke.get("CAM_DATA_DIR", data_dir)
    dv = mounts(k).get(data_dir)
    check(data_dir and dv and dv in (cfg.get("volumes") or {}),
          f"the kernel's data directory {data_dir} is the named volume {dv}")

    # Prometheus reads monitoring/prometheus/ as it is: its targets are
    # the shared namespace's localhost.
    pm = mounts(p)
    src = pm.get("/etc/prometheus", "")
    check(os.path.realpath(src) == os.path.realpath(os.path.join(root, "monitoring/prometheus")) and
          arg(p, "--config.file") == "/etc/prometheus/prometheus.yml",
          "Prometheus runs with monitoring/prometheus/prometheus.yml and its rules folder")
    with open(os.path.join(root, "monitoring/prometheus/prometheus.yml")) as f:
        prom = yaml.safe_load(f)
    targets = [t for j in prom["scrape_configs"] for sc in j.get("static_configs") or [] for t in sc["targets"]]
    am = [t for al in prom["alerting"]["alertmanagers"] for sc in al["static_configs"] for t in sc["targets"]]
    check(f"localhost:{xport}" in targets, f"its scrape target localhost:{xport} is the exporter", str(targets))
    check(am == [f"localhost:{aport}"], f"its Alertmanager localhost:{aport} is ours", str(am))
    rules = [os.path.join(root, "monitoring/prometheus", r) for r in prom.get("rule_files") or []]
    check(rules and all(os.path.isfile(r) for r in rules), "its rule files are in the mounted folder")
    check(os.path.realpath(mounts(a).get(arg(a, "--config.file"), "")) ==
          os.path.realpath(os.path.join(root, "monitoring/alertmanager/alertmanager.yml")),
          "Alertmanager runs with monitoring/alertmanager/alertmanager.yml")

    ge, gm = env(g), mounts(g)
    check(ge.get("GF_SECURITY_ADMIN_USER") == "admin" and ge.get("GF_SECURITY_ADMIN_PASSWORD") == "admin",
          "Grafana admin/admin")
    want = {"/etc/grafana/provisioning/datasources": "monitoring/grafana/provisioning/datasources",
            "/etc/grafana/provisioning/dashboards": "monitoring/grafana/provisioning/dashboards"}
    with open(os.path.join(root, "monitoring/grafana/provisioning/dashboards/cam-os.yml")) as f:
        for prov in yaml.safe_load(f)["providers"]:
            want[prov["options"]["path"]] = "monitoring/grafana/dashboards"
    bad = [t for t, s in want.items() if os.path.realpath(gm.get(t, "")) != os.path.realpath(os.path.join(root, s))]
    check(not bad, "Grafana provisioning: datasource, dashboard provider and dashboard folder mounted", str(bad))
    with open(os.path.join(root, "monitoring/grafana/provisioning/datasources/cam-os.yml")) as f:
        urls = [d["url"] for d in yaml.safe_load(f)["datasources"]]
    aliases = (((k.get("networks") or {}).get("default") or {}).get("aliases") or [])
    m = re.match(r"^http://([^:/]+):(\d+)$", urls[0]) if len(urls) == 1 else None
    check(m and m.group(1) in aliases and int(m.group(2)) == pport,
          f"Grafana's datasource {urls} reaches Prometheus (alias of the shared namespace)")

    # The image: the one k8s/ runs, built by the Dockerfile.
    with open(os.path.join(root, "Dockerfile")) as f:
        df = f.read()
    froms = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", df, re.M | re.I)
    users = re.findall(r"^USER\s+(\S+)", df, re.M)
    check(len(froms) >= 2 and froms[0] == ("debian:12", "build") and froms[-1][0].startswith("debian:12"),
          "Dockerfile: multi-stage, build and runtime on Debian 12", str(froms))
    check(users and not users[-1].split(":")[0] in ("0", "root"), "Dockerfile: runs as a non-root user", str(users))
    runtime = df[df.rindex("\nFROM "):]
    check("--from=build" in runtime and "docker-packages.sh build" in df and "make install" in df and
          "build-essential" not in runtime and "-dev" not in runtime,
          "Dockerfile: the runtime stage gets binaries and runtime libraries only")
    cmds = {n: (s.get("command") or [""])[0] for n, s in svcs.items() if n in ("kernel", "exporter")}
    check(k.get("image") == x.get("image") and k.get("build") and
          "COPY --from=build /out/usr/local/ /usr/local/" in runtime and
          all(c.startswith("/usr/local/bin/") for c in cmds.values()),
          f"kernel and exporter run {cmds} from the image the Dockerfile builds")
    print(f"check_compose: {passed} checks passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
