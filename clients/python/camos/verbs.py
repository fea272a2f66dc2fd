# SPDX-License-Identifier: Apache-2.0
"""The verb table, client side: for each verb, the request it sends and
how its answer is read (DESIGN.md "Verbs", kernel/syscall/*_verbs.c).

Each function returns a Call; the blocking and the asyncio clients only
run Calls, so a verb's payload keys are written here once. `idempotent`
marks the calls that may be sent again after UNAVAILABLE: reads, and
writes made safe by compare-and-set (expected_version).
"""
from __future__ import annotations

import json as _json
from typing import (Any, Callable, Generic, Iterable, Mapping, Optional, Tuple, TypeVar,
                    Union)

from . import payload, results as r
from .payload import PayloadError, Scalar

T = TypeVar("T")
Bytes = Union[bytes, bytearray, memoryview, str]
Pairs = Iterable[Tuple[str, Optional[Scalar]]]


class Call(Generic[T]):
    """One request and how to read its answer (a plain class: made on every
    call's path, where a frozen dataclass costs more)."""
    __slots__ = ("verb", "payload", "data", "idempotent", "read")

    def __init__(self, verb: str, payload: str, data: bytes, idempotent: bool,
                 read: Callable[[str, r.Reply], T]) -> None:
        self.verb = verb
        self.payload = payload
        self.data = data
        self.idempotent = idempotent
        self.read = read  # (verb, SyscallResponse) -> the typed result


def _call(verb: str, pairs: Pairs, read: Callable[[str, r.Reply], T], *, data: bytes = b"",
          idempotent: bool = False) -> Call[T]:
    return Call(verb, payload.encode(pairs), data, idempotent, read)


def as_bytes(value: Bytes) -> bytes:
    """Text as UTF-8, bytes as they are."""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _kv_list(what: str, items: Optional[Mapping[str, Scalar]]) -> Optional[str]:
    """k=v,k2=v2 (metric labels, span attributes); the kernel splits on
    commas, so neither names nor values may hold one."""
    if not items:
        return None
    out = []
    for k, v in items.items():
        text = payload.format_value(v)
        if "," in k or "=" in k or "," in text:
            raise PayloadError("%s %r=%r: names hold no ',' or '=', values no ','"
                               % (what, k, text))
        out.append("%s=%s" % (k, text))
    return ",".join(out)


def ping(pairs: Optional[Mapping[str, Scalar]] = None,
         delay_ms: Optional[int] = None) -> Call[r.Pong]:
    items = list(pairs.items()) if pairs else []
    if delay_ms is not None:
        items.append(("delay_ms", delay_ms))
    # The benchmark verb: Call made directly, without _call's keywords.
    return Call("ping", payload.encode(items), b"", True, r.Pong.read)


def observe() -> Call[r.Observation]:
    return _call("observe", (), r.Observation.read, idempotent=True)


def whoami() -> Call[r.Identity]:
    return _call("whoami", (), r.Identity.read, idempotent=True)


def emit_metric(name: str, value: float, labels: Optional[Mapping[str, Scalar]] = None,
                type: Optional[str] = None, help: Optional[str] = None,
                native: Optional[bool] = None) -> Call[r.MetricEmitted]:
    return _call("emit_metric", [("metric_name", name), ("value", value), ("type", type),
                                 ("native", native), ("help", help),
                                 ("labels", _kv_list("label", labels))],
                 r.MetricEmitted.read)


def emit_trace(trace_id: str, span_id: str, operation: str,
               parent_span_id: Optional[str] = None, duration_ms: Optional[float] = None,
               service: Optional[str] = None, status: Optional[str] = None,
               attributes: Optional[Mapping[str, Scalar]] = None) -> Call[r.TraceEmitted]:
    return _call("emit_trace", [("trace_id", trace_id), ("span_id", span_id),
                                ("operation", operation), ("parent_span_id", parent_span_id),
                                ("duration_ms", duration_ms), ("service", service),
                                ("status", status),
                                ("attributes", _kv_list("attribute", attributes))],
                 r.TraceEmitted.read)


def think(urgency: Optional[float] = None, importance: Optional[float] = None,
          efficiency: Optional[float] = None, energy: Optional[float] = None,
          trust: Optional[float] = None, task: Optional[str] = None) -> Call[r.Thought]:
    return _call("think", [("urgency", urgency), ("importance", importance),
                           ("efficiency", efficiency), ("energy", energy), ("trust", trust),
                           ("task", task)], r.Thought.read, idempotent=True)


def explain_action(request_id: Optional[str] = None,
                   trace_id: Optional[str] = None) -> Call[r.Explanation]:
    return _call("explain_action", [("request_id", request_id), ("trace_id", trace_id)],
                 r.Explanation.read, idempotent=True)


Triple = Union[str, int, Tuple[int, int, int]]


def _triple(value: Optional[Triple]) -> Optional[Scalar]:
    if isinstance(value, tuple):
        return ":".join(str(int(x)) for x in value)
    return value


def tune_system(weights: Optional[Triple] = None, weight_high: Optional[int] = None,
                weight_normal: Optional[int] = None, weight_low: Optional[int] = None,
                queue_limit: Optional[Triple] = None, queue_limit_high: Optional[int] = None,
                queue_limit_normal: Optional[int] = None,
                queue_limit_low: Optional[int] = None, workers: Optional[int] = None,
                stall_ms: Optional[int] = None) -> Call[r.SchedulerSettings]:
    items = [("weights", _triple(weights)), ("weight_high", weight_high),
             ("weight_normal", weight_normal), ("weight_low", weight_low),
             ("queue_limit", _triple(queue_limit)), ("queue_limit_high", queue_limit_high),
             ("queue_limit_normal", queue_limit_normal), ("queue_limit_low", queue_limit_low),
             ("workers", workers), ("stall_ms", stall_ms)]
    # With nothing to change it only reports, and may be asked again.
    return _call("tune_system", items, r.SchedulerSettings.read,
                 idempotent=all(v is None for _, v in items))


def context_write(namespace: str, key: str, value: Bytes,
                  expected_version: Optional[int] = None) -> Call[r.Written]:
    # The value travels in `data`: any bytes, any text, up to the kernel's
    # limit. An empty `data` reads as absent, so the empty value is sent as
    # `value:`. Only a compare-and-set write is safe to send twice.
    data = as_bytes(value)
    return _call("context_write", [("namespace", namespace), ("key", key),
                                   ("expected_version", expected_version),
                                   ("value", None if data else "")],
                 r.Written.read, data=data, idempotent=expected_version is not None)


def context_write_json(namespace: str, key: str, obj: Any,
                       expected_version: Optional[int] = None) -> Call[r.Written]:
    text = _json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return context_write(namespace, key, text, expected_version)


def context_read(namespace: str, key: str,
                 version: Optional[int] = None) -> Call[r.ContextValue]:
    return _call("context_read", [("namespace", namespace), ("key", key),
                                  ("version", version)], r.ContextValue.read, idempotent=True)


def context_versions(namespace: str, key: str) -> Call[r.ContextVersions]:
    return _call("context_versions", [("namespace", namespace), ("key", key)],
                 r.ContextVersions.read, idempotent=True)


def context_delete(namespace: Optional[str] = None, key: Optional[str] = None,
                   snapshot_id: Optional[str] = None) -> Call[r.Deleted]:
    if (snapshot_id is None) == (namespace is None):
        raise PayloadError("context_delete takes a namespace (and maybe a key) "
                           "or a snapshot_id")
    return _call("context_delete", [("namespace", namespace), ("key", key),
                                    ("snapshot_id", snapshot_id)], r.Deleted.read)


def context_snapshot(namespace: str) -> Call[r.Snapshot]:
    return _call("context_snapshot", [("namespace", namespace)], r.Snapshot.read)


def context_restore(snapshot_id: str) -> Call[r.Snapshot]:
    return _call("context_restore", [("snapshot_id", snapshot_id)], r.Snapshot.read)


def _signed_input(data: Optional[Bytes], digest: Optional[str]) -> Tuple[bytes, Pairs]:
    if (data is None) == (digest is None):
        raise PayloadError("give the data or its SHA-256 digest (64 hex), not both")
    return (b"", [("digest", digest)]) if data is None else (as_bytes(data), [])


def tpm_sign(data: Optional[Bytes] = None, digest: Optional[str] = None) -> Call[r.Signature]:
    body, items = _signed_input(data, digest)
    return _call("tpm_sign", items, r.Signature.read, data=body, idempotent=True)


def tpm_verify(signature: Union[bytes, str], data: Optional[Bytes] = None,
               digest: Optional[str] = None,
               signer: Optional[str] = None) -> Call[r.Verification]:
    # signer: whose signature it should be (default: the caller's own).
    body, items = _signed_input(data, digest)
    sig = signature if isinstance(signature, str) else bytes(signature).hex()
    return _call("tpm_verify", list(items) + [("signature", sig), ("signer", signer)],
                 r.Verification.read, data=body, idempotent=True)


def tpm_random(n: Optional[int] = None) -> Call[r.RandomBytes]:
    return _call("tpm_random", [("bytes", n)], r.RandomBytes.read, idempotent=True)


def tpm_pcr_read(pcrs: Union[None, str, Iterable[int]] = None) -> Call[r.PcrValues]:
    text = pcrs if pcrs is None or isinstance(pcrs, str) else ",".join(str(int(p))
                                                                     for p in pcrs)
    return _call("tpm_pcr_read", [("pcrs", text)], r.PcrValues.read, idempotent=True)


def tpm_public_key() -> Call[r.PublicKey]:
    return _call("tpm_public_key", (), r.PublicKey.read, idempotent=True)


def driver_list() -> Call[r.Drivers]:
    return _call("driver_list", (), r.Drivers.read, idempotent=True)


def driver_load(driver: str, config: Optional[str] = None) -> Call[r.DriverLoaded]:
    return _call("driver_load", [("driver", driver), ("config", config)],
                 r.DriverLoaded.read)


def driver_unload(driver: str) -> Call[r.DriverUnloaded]:
    return _call("driver_unload", [("driver", driver)], r.DriverUnloaded.read)


def driver_invoke(driver: str, operation: str, input: Bytes = b"",
                  timeout_ms: Optional[int] = None) -> Call[r.DriverOutput]:
    # The input goes in `data` (the kernel's `payload:` key cannot carry
    # every text); a driver may have effects, so it is never sent twice.
    return _call("driver_invoke", [("driver", driver), ("operation", operation),
                                   ("timeout_ms", timeout_ms)],
                 r.DriverOutput.read, data=as_bytes(input))


def policy_query(verb: str, resource: str,
                 caller: Optional[str] = None) -> Call[r.PolicyDecision]:
    return _call("policy_query", [("verb", verb), ("resource", resource), ("caller", caller)],
                 r.PolicyDecision.read, idempotent=True)


def policy_update(policy: Union[Mapping[str, Any], Bytes]) -> Call[r.PolicyUpdated]:
    body = (_json.dumps(policy).encode("utf-8") if isinstance(policy, Mapping)
            else as_bytes(policy))
    return _call("policy_update", (), r.PolicyUpdated.read, data=body)


def agent_register(agent: str, scopes: Union[str, Iterable[str]], rate: Optional[float] = None,
                   burst: Optional[int] = None,
                   ttl_s: Optional[int] = None) -> Call[r.RegisteredAgent]:
    text = scopes if isinstance(scopes, str) else ",".join(scopes)
    return _call("agent_register", [("agent", agent), ("scopes", text), ("rate", rate),
                                    ("burst", burst), ("ttl_s", ttl_s)],
                 r.RegisteredAgent.read)


def agent_revoke(agent: str) -> Call[r.AgentRevoked]:
    return _call("agent_revoke", [("agent", agent)], r.AgentRevoked.read)


def agent_list() -> Call[r.AgentList]:
    return _call("agent_list", (), r.AgentList.read, idempotent=True)


def store_backup(name: str) -> Call[r.Backup]:
    return _call("store_backup", [("name", name)], r.Backup.read)


def execute(verb: str, pairs: Union[None, str, Mapping[str, Scalar]] = None,
            data: Bytes = b"", idempotent: bool = False) -> Call[r.Raw]:
    """Any verb, the payload as text or pairs; retried only if told."""
    if isinstance(pairs, str):
        return Call(verb, pairs, as_bytes(data), idempotent, r.Raw.read)
    return _call(verb, list((pairs or {}).items()), r.Raw.read, data=as_bytes(data),
                 idempotent=idempotent)
