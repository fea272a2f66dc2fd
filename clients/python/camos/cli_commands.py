# SPDX-License-Identifier: Apache-2.0
"""What each `cam` command does: its arguments (argparse) and the client
call they become. cli.py builds the parser from COMMANDS and runs one."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

from .client import Client
from .payload import PayloadError

Handler = Callable[[Client, argparse.Namespace], Any]


def _pairs(items: List[str], what: str) -> Dict[str, str]:
    out = {}
    for item in items:
        k, sep, val = item.partition("=")
        if not sep or not k:
            raise PayloadError("%s %r is not NAME=VALUE" % (what, item))
        out[k] = val
    return out


def _input(args: argparse.Namespace, attr: str = "value") -> Optional[bytes]:
    """The bytes of a positional value, --file FILE, or stdin for '-'."""
    if getattr(args, "file", None):
        with open(args.file, "rb") as f:
            return f.read()
    value = getattr(args, attr, None)
    if value == "-":
        return sys.stdin.buffer.read()
    return None if value is None else value.encode("utf-8")


def _health(c: Client, a: argparse.Namespace) -> Any:
    return c.health(detailed=a.detailed)


def _wait(c: Client, a: argparse.Namespace) -> Any:
    return c.wait_until_ready(timeout=a.seconds)


def _context_write(c: Client, a: argparse.Namespace) -> Any:
    data = _input(a)
    if data is None:
        raise PayloadError("give a VALUE, --file FILE, or - for stdin")
    return c.context_write(a.namespace, a.key, data, expected_version=a.expected_version)


def _context_delete(c: Client, a: argparse.Namespace) -> Any:
    if a.snapshot:
        return c.context_delete(snapshot_id=a.snapshot)
    if not a.namespace:
        raise PayloadError("give a NAMESPACE (and maybe a KEY) or --snapshot ID")
    return c.context_delete(a.namespace, a.key)


def _number(text: str) -> float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise PayloadError("%r is not a number" % text) from None


def _metric_emit(c: Client, a: argparse.Namespace) -> Any:
    return c.emit_metric(a.name, _number(a.value),
                         _pairs(a.labels, "label"), type=a.type, help=a.help_text,
                         native=True if a.native else None)


def _trace_emit(c: Client, a: argparse.Namespace) -> Any:
    return c.emit_trace(a.trace_id, a.span_id, a.operation, parent_span_id=a.parent,
                        duration_ms=a.duration_ms, service=a.service, status=a.status,
                        attributes=_pairs(a.attributes, "attribute"))


def _signed(a: argparse.Namespace) -> Tuple[Optional[bytes], Optional[str]]:
    return (None, a.digest) if a.digest else (_input(a, "data"), None)


def _tpm_sign(c: Client, a: argparse.Namespace) -> Any:
    data, digest = _signed(a)
    return c.tpm_sign(data, digest=digest)


def _tpm_verify(c: Client, a: argparse.Namespace) -> Any:
    data, digest = _signed(a)
    return c.tpm_verify(a.signature, data, digest=digest, signer=a.signer)


def _driver_invoke(c: Client, a: argparse.Namespace) -> Any:
    return c.driver_invoke(a.driver, a.operation, _input(a, "input") or b"",
                           timeout_ms=a.timeout_ms)


def _policy_update(c: Client, a: argparse.Namespace) -> Any:
    with open(a.policy_file, "rb") as f:
        return c.policy_update(f.read())


def _exec(c: Client, a: argparse.Namespace) -> Any:
    data = b""
    if a.data_file:
        with open(a.data_file, "rb") as f:
            data = f.read()
    return c.execute(a.verb, a.payload or "", data=data, idempotent=a.idempotent)


Arg = Tuple[Tuple[str, ...], Dict[str, Any]]


def arg(*names: str, **kw: Any) -> Arg:
    return names, kw


FILE = arg("--file", help="read the bytes from FILE")
# (words, help, handler, arguments): one row per command.
COMMANDS: List[Tuple[Tuple[str, ...], str, Handler, List[Arg]]] = [
    (("ping",), "ping the kernel (KEY=VALUE pairs are echoed back)",
     lambda c, a: c.ping(_pairs(a.pairs, "pair")), [arg("pairs", nargs="*")]),
    (("health",), "HealthCheck (exit 14 when NOT_SERVING)", _health,
     [arg("--detailed", action="store_true", help="each component's health")]),
    (("wait",), "wait until the kernel is SERVING", _wait,
     [arg("seconds", nargs="?", type=float, default=30.0)]),
    (("observe",), "kernel, transport and scheduler figures", lambda c, a: c.observe(), []),
    (("whoami",), "who the kernel thinks you are", lambda c, a: c.whoami(), []),
    (("context", "write"), "write a value (a new version)", _context_write,
     [arg("namespace"), arg("key"), arg("value", nargs="?", help="text, or - for stdin"),
      FILE, arg("--expected-version", type=int, help="compare-and-set")]),
    (("context", "read"), "read a value (printed as is)",
     lambda c, a: c.context_read(a.namespace, a.key, version=a.version),
     [arg("namespace"), arg("key"), arg("--version", type=int)]),
    (("context", "versions"), "the kept versions of a key",
     lambda c, a: c.context_versions(a.namespace, a.key), [arg("namespace"), arg("key")]),
    (("context", "delete"), "delete a key, a namespace or a snapshot", _context_delete,
     [arg("namespace", nargs="?"), arg("key", nargs="?"), arg("--snapshot", metavar="ID")]),
    (("context", "snapshot"), "snapshot a namespace",
     lambda c, a: c.context_snapshot(a.namespace), [arg("namespace")]),
    (("context", "restore"), "restore a snapshot",
     lambda c, a: c.context_restore(a.snapshot_id), [arg("snapshot_id")]),
    (("metric", "emit"), "emit a custom metric", _metric_emit,
     [arg("name"), arg("value"), arg("labels", nargs="*", metavar="LABEL=VALUE"),
      arg("--type", choices=["counter", "gauge", "histogram"]),
      arg("--help-text", metavar="TEXT"), arg("--native", action="store_true")]),
    (("trace", "emit"), "emit a span", _trace_emit,
     [arg("trace_id"), arg("span_id"), arg("operation"),
      arg("attributes", nargs="*", metavar="ATTR=VALUE"), arg("--parent", metavar="SPAN_ID"),
      arg("--duration-ms", type=float), arg("--service"),
      arg("--status", choices=["ok", "error"])]),
    (("think",), "score a task (each factor 0-1)",
     lambda c, a: c.think(urgency=a.urgency, importance=a.importance,
                          efficiency=a.efficiency, energy=a.energy, trust=a.trust,
                          task=a.task),
     [arg("--urgency", type=float), arg("--importance", type=float),
      arg("--efficiency", type=float), arg("--energy", type=float),
      arg("--trust", type=float), arg("--task")]),
    (("explain",), "why a recent call got its priority (explain_action)",
     lambda c, a: c.explain_action(a.request_id, trace_id=a.trace_id),
     [arg("request_id", nargs="?"), arg("--trace-id")]),
    (("tune",), "show or change the scheduler's settings (tune_system)",
     lambda c, a: c.tune_system(weights=a.weights, queue_limit=a.queue_limit,
                                workers=a.workers, stall_ms=a.stall_ms),
     [arg("--weights", metavar="H:N:L"), arg("--queue-limit", metavar="N|H:N:L"),
      arg("--workers", type=int), arg("--stall-ms", type=int)]),
    (("tpm", "sign"), "sign data with the kernel's TPM key", _tpm_sign,
     [arg("data", nargs="?", help="text, or - for stdin"), FILE,
      arg("--digest", metavar="HEX64")]),
    (("tpm", "verify"), "verify a signature", _tpm_verify,
     [arg("signature", metavar="SIGNATURE_HEX"), arg("data", nargs="?"), FILE,
      arg("--digest", metavar="HEX64"),
      arg("--signer", metavar="CALLER", help="whose signature (default: yours)")]),
    (("tpm", "random"), "random bytes from the TPM", lambda c, a: c.tpm_random(a.bytes),
     [arg("bytes", nargs="?", type=int)]),
    (("tpm", "pcr-read"), "read PCRs (0,1,7 or 0-7 or all)",
     lambda c, a: c.tpm_pcr_read(a.pcrs), [arg("pcrs", nargs="?")]),
    (("tpm", "public-key"), "the kernel's public key", lambda c, a: c.tpm_public_key(), []),
    (("driver", "list"), "drivers available and loaded", lambda c, a: c.driver_list(), []),
    (("driver", "load"), "load a driver",
     lambda c, a: c.driver_load(a.driver, config=a.config), [arg("driver"), arg("--config")]),
    (("driver", "unload"), "unload a driver", lambda c, a: c.driver_unload(a.driver),
     [arg("driver")]),
    (("driver", "invoke"), "call a driver's operation", _driver_invoke,
     [arg("driver"), arg("operation"), arg("input", nargs="?", help="text, or - for stdin"),
      FILE, arg("--timeout-ms", type=int)]),
    (("policy", "query"), "may CALLER do VERB on RESOURCE",
     lambda c, a: c.policy_query(a.verb, a.resource, caller=a.caller),
     [arg("verb"), arg("resource"), arg("--caller")]),
    (("policy", "update"), "replace the policy with a JSON file", _policy_update,
     [arg("policy_file")]),
    (("agent", "register"), "register an agent (prints its token once)",
     lambda c, a: c.agent_register(a.agent, a.scopes, rate=a.rate, burst=a.burst,
                                   ttl_s=a.ttl_s),
     [arg("agent"), arg("--scopes", required=True, help="read,write,admin"),
      arg("--rate", type=float), arg("--burst", type=int), arg("--ttl-s", type=int)]),
    (("agent", "revoke"), "end an agent's registered tokens",
     lambda c, a: c.agent_revoke(a.agent), [arg("agent")]),
    (("agent", "list"), "the registered agents", lambda c, a: c.agent_list(), []),
    (("store", "backup"), "a consistent copy of the kernel's store (<data dir>/backups/NAME)",
     lambda c, a: c.store_backup(a.name), [arg("name")]),
    (("exec",), "any verb with a raw payload", _exec,
     [arg("verb"), arg("payload", nargs="?"), arg("--data-file", metavar="FILE"),
      arg("--idempotent", action="store_true", help="retry it on UNAVAILABLE")]),
]
