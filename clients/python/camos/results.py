# SPDX-License-Identifier: Apache-2.0
"""Typed results: what each verb answers, read from the kernel's reply.

Numbers are ints and floats, flags bools, lists tuples, times datetimes.
Every result keeps the kernel's request_id (for explain_action) and all the
pairs of its answer as text (`pairs`), so keys a newer kernel adds are
there before this library names them. Each class reads itself from the
kernel's reply in `read`; a reply it cannot read raises ResultError.
"""
from __future__ import annotations

import datetime as _dt
import json as _json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Protocol, Tuple, TypeVar

from . import payload
from .errors import ResultError

T = TypeVar("T")


class Reply(Protocol):
    """A successful Execute as the kernel sent it: the SyscallResponse
    message itself (read in place, no copy, on every call's path)."""
    result: str
    request_id: str
    data: bytes


class Fields:
    """A reply's pairs with typed getters; anything missing or malformed
    raises ResultError naming the verb and the key."""

    def __init__(self, verb: str, reply: Reply, tail: Optional[str] = None) -> None:
        self.verb = verb
        self.reply = reply
        try:
            self.pairs = payload.parse(reply.result, tail)
        except ValueError as e:
            raise self._error(str(e)) from None

    def _error(self, why: str) -> ResultError:
        return ResultError(why, verb=self.verb, request_id=self.reply.request_id)

    def opt(self, key: str) -> Optional[str]:
        return self.pairs.get(key)

    def text(self, key: str) -> str:
        value = self.pairs.get(key)
        if value is None:
            raise self._error("the answer has no %r" % key)
        return value

    def _conv(self, key: str, conv: Callable[[str], T]) -> T:
        text = self.text(key)
        try:
            return conv(text)
        except ValueError:
            raise self._error("%r is %r, not a %s" % (key, text, conv.__name__)) from None

    def integer(self, key: str) -> int:
        return self._conv(key, int)

    def number(self, key: str) -> float:
        return self._conv(key, float)

    def flag(self, key: str) -> bool:
        return self._conv(key, _bool)

    def opt_integer(self, key: str, default: Optional[int] = None) -> Optional[int]:
        return self.integer(key) if key in self.pairs else default

    def opt_number(self, key: str) -> Optional[float]:
        return self.number(key) if key in self.pairs else None

    def items(self, key: str, sep: str) -> Tuple[str, ...]:
        text = self.pairs.get(key, "")
        return tuple(x for x in text.split(sep) if x)

    def common(self) -> Dict[str, Any]:
        return {"request_id": self.reply.request_id, "pairs": self.pairs}


def _bool(text: str) -> bool:
    if text in ("true", "false"):
        return text == "true"
    raise ValueError(text)


def _ms_to_datetime(ms: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ms / 1000.0, tz=_dt.timezone.utc)


@dataclass(frozen=True)
class Result:
    """What every result has: the call's request id and its raw pairs."""
    request_id: str = ""
    pairs: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)


# Each subclass lists its own fields first; Result's (with defaults) come
# after them because dataclasses put base fields first: so every subclass
# field has a default too, and read() always sets every one.

@dataclass(frozen=True)
class Pong(Result):
    """ping: the pairs sent, echoed (pong:true for none)."""
    echo: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "Pong":
        # ping is the benchmark verb: straight to the parser, no Fields.
        try:
            pairs = payload.parse(reply.result)
        except ValueError as e:
            raise ResultError(str(e), verb=verb, request_id=reply.request_id) from None
        return cls(reply.request_id, pairs, pairs)


@dataclass(frozen=True)
class Observation(Result):
    """observe: kernel, transport and scheduler figures."""
    version: str = ""
    instance_id: str = ""
    uptime_seconds: float = 0.0
    connections: int = 0
    streams_in_flight: int = 0
    calls_total: int = 0
    calls_queued: int = 0
    metric_series: int = 0
    log_lines_dropped: int = 0
    snapshots_published: int = 0
    queues: Mapping[str, int] = field(default_factory=dict)
    workers: Optional[int] = None
    busy_workers: Optional[int] = None
    rejected_queue_full: Optional[int] = None
    rejected_deadline: Optional[int] = None
    ran_inline: Optional[int] = None

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "Observation":
        f = Fields(verb, reply)
        queues = {k[len("queue_"):]: f.integer(k) for k in f.pairs if k.startswith("queue_")}
        return cls(version=f.text("version"), instance_id=f.text("instance_id"),
                   uptime_seconds=f.number("uptime_seconds"), connections=f.integer("connections"),
                   streams_in_flight=f.integer("streams_in_flight"),
                   calls_total=f.integer("calls_total"), calls_queued=f.integer("calls_queued"),
                   metric_series=f.integer("metric_series"),
                   log_lines_dropped=f.integer("log_lines_dropped"),
                   snapshots_published=f.integer("snapshots_published"), queues=queues,
                   workers=f.opt_integer("workers"), busy_workers=f.opt_integer("busy_workers"),
                   rejected_queue_full=f.opt_integer("rejected_queue_full"),
                   rejected_deadline=f.opt_integer("rejected_deadline"),
                   ran_inline=f.opt_integer("ran_inline"), **f.common())


@dataclass(frozen=True)
class Identity(Result):
    """whoami: who the kernel thinks is calling."""
    caller_id: str = ""
    authenticated: bool = False
    scopes: Tuple[str, ...] = ()
    identified_by: Optional[str] = None

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "Identity":
        f = Fields(verb, reply)
        return cls(caller_id=f.text("caller_id"), authenticated=f.flag("authenticated"),
                   scopes=f.items("scopes", "+"), identified_by=f.opt("identified_by"),
                   **f.common())


@dataclass(frozen=True)
class MetricEmitted(Result):
    """emit_metric: the family the value went to."""
    metric_name: str = ""
    type: str = ""
    accepted: bool = False

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "MetricEmitted":
        f = Fields(verb, reply)
        return cls(metric_name=f.text("metric_name"), type=f.text("type"),
                   accepted=f.flag("accepted"), **f.common())


@dataclass(frozen=True)
class TraceEmitted(Result):
    """emit_trace: the span's ids as the kernel keeps them (W3C hex)."""
    trace_id: str = ""
    span_id: str = ""
    parent_span_id: Optional[str] = None
    accepted: bool = False

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "TraceEmitted":
        f = Fields(verb, reply)
        return cls(trace_id=f.text("trace_id"), span_id=f.text("span_id"),
                   parent_span_id=f.opt("parent_span_id"), accepted=f.flag("accepted"),
                   **f.common())


FACTORS = ("urgency", "importance", "efficiency", "energy", "trust")


@dataclass(frozen=True)
class Thought(Result):
    """think: a task's 5-D score, its priority 0-9 and class."""
    score: float = 0.0
    priority: int = 0
    priority_class: str = ""
    factors: Mapping[str, float] = field(default_factory=dict)
    contributions: Mapping[str, float] = field(default_factory=dict)
    defaulted: Tuple[str, ...] = ()
    formula: str = ""

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "Thought":
        f = Fields(verb, reply)
        return cls(score=f.number("score"), priority=f.integer("priority"),
                   priority_class=f.text("class"),
                   factors={k: f.number(k) for k in FACTORS if k in f.pairs},
                   contributions={k: f.number("contribution_" + k) for k in FACTORS
                                  if "contribution_" + k in f.pairs},
                   defaulted=f.items("defaulted", "+"), formula=f.opt("formula") or "",
                   **f.common())


@dataclass(frozen=True)
class Explanation(Result):
    """explain_action: why a recent call got its priority and wait."""
    explained_request_id: Optional[str] = None
    verb: str = ""
    priority: int = 0
    priority_class: str = ""
    source: str = ""
    score: Optional[float] = None
    factors: Mapping[str, float] = field(default_factory=dict)
    queue_length: int = 0
    wait_ms: float = 0.0
    status: str = ""
    reason: str = ""

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "Explanation":
        f = Fields(verb, reply, tail="reason")
        return cls(explained_request_id=f.opt("request_id"), verb=f.opt("verb") or "",
                   priority=f.integer("priority"), priority_class=f.text("class"),
                   source=f.text("source"), score=f.opt_number("score"),
                   factors={k: f.number(k) for k in FACTORS if k in f.pairs},
                   queue_length=f.integer("queue_length"), wait_ms=f.number("wait_ms"),
                   status=f.text("status"), reason=f.opt("reason") or "", **f.common())


def _triple(f: Fields, key: str) -> Tuple[int, int, int]:
    parts = f.text(key).split(":")
    if len(parts) != 3:
        raise f._error("%r is %r, not high:normal:low" % (key, f.text(key)))
    try:
        return (int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        raise f._error("%r is %r, not three numbers" % (key, f.text(key))) from None


@dataclass(frozen=True)
class SchedulerSettings(Result):
    """tune_system: the scheduler settings in force after the call."""
    weights: Tuple[int, int, int] = (0, 0, 0)
    queue_limits: Tuple[int, int, int] = (0, 0, 0)
    workers: int = 0
    stall_ms: int = 0
    changed: bool = False

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "SchedulerSettings":
        f = Fields(verb, reply)
        return cls(weights=_triple(f, "weights"), queue_limits=_triple(f, "queue_limit"),
                   workers=f.integer("workers"), stall_ms=f.integer("stall_ms"),
                   changed=f.flag("changed"), **f.common())


@dataclass(frozen=True)
class Written(Result):
    """context_write: the version the value got."""
    namespace: str = ""
    key: str = ""
    version: int = 0
    size: int = 0

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "Written":
        f = Fields(verb, reply)
        return cls(namespace=f.text("namespace"), key=f.text("key"), version=f.integer("version"),
                   size=f.integer("size"), **f.common())


@dataclass(frozen=True)
class ContextValue(Result):
    """context_read: one version of a value; its bytes are `data`."""
    namespace: str = ""
    key: str = ""
    version: int = 0
    timestamp_ms: int = 0
    size: int = 0
    data: bytes = b""

    @property
    def timestamp(self) -> _dt.datetime:
        return _ms_to_datetime(self.timestamp_ms)

    def text(self, encoding: str = "utf-8") -> str:
        return self.data.decode(encoding)

    def json(self) -> Any:
        return _json.loads(self.data)

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "ContextValue":
        f = Fields(verb, reply)
        return cls(namespace=f.text("namespace"), key=f.text("key"), version=f.integer("version"),
                   timestamp_ms=f.integer("timestamp_ms"), size=f.integer("size"), data=reply.data,
                   **f.common())


@dataclass(frozen=True)
class VersionInfo:
    version: int
    timestamp_ms: int
    size: int

    @property
    def timestamp(self) -> _dt.datetime:
        return _ms_to_datetime(self.timestamp_ms)


@dataclass(frozen=True)
class ContextVersions(Result):
    """context_versions: the kept versions of a key, oldest first."""
    namespace: str = ""
    key: str = ""
    count: int = 0
    latest: int = 0
    versions: Tuple[VersionInfo, ...] = ()

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "ContextVersions":
        f = Fields(verb, reply)
        versions = []
        for item in f.items("versions", ";"):
            parts = item.split(":")
            try:
                versions.append(VersionInfo(int(parts[0]), int(parts[1]), int(parts[2])))
            except (ValueError, IndexError):
                raise f._error("version entry %r is not ver:unix_ms:size" % item) from None
        return cls(namespace=f.text("namespace"), key=f.text("key"), count=f.integer("count"),
                   latest=f.integer("latest"), versions=tuple(versions), **f.common())


@dataclass(frozen=True)
class Deleted(Result):
    """context_delete: what went (a key, a namespace or a snapshot)."""
    namespace: Optional[str] = None
    key: Optional[str] = None
    snapshot_id: Optional[str] = None
    removed_versions: Optional[int] = None

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "Deleted":
        f = Fields(verb, reply)
        return cls(namespace=f.opt("namespace"), key=f.opt("key"),
                   snapshot_id=f.opt("snapshot_id"),
                   removed_versions=f.opt_integer("removed_versions"), **f.common())


@dataclass(frozen=True)
class Snapshot(Result):
    """context_snapshot and context_restore: a namespace's snapshot."""
    snapshot_id: str = ""
    namespace: str = ""
    keys: int = 0

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "Snapshot":
        f = Fields(verb, reply)
        return cls(snapshot_id=f.opt("snapshot_id") or "", namespace=f.text("namespace"),
                   keys=f.integer("keys"), **f.common())


@dataclass(frozen=True)
class Signature(Result):
    """tpm_sign: a DER ECDSA signature. What the TPM signs is signed_digest,
    the SHA-256 of "cam-os tpm_sign v1\\n" + signer + "\\n" + digest (the
    data's SHA-256, raw), so a signature names who asked for it."""
    signature: bytes = b""
    digest: str = ""
    signed_digest: Optional[str] = None
    algorithm: str = ""
    signer: Optional[str] = None

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "Signature":
        f = Fields(verb, reply)
        sig = reply.data or bytes.fromhex(f.text("signature"))
        return cls(signature=sig, digest=f.text("digest"), signed_digest=f.opt("signed_digest"),
                   algorithm=f.text("algorithm"), signer=f.opt("signer"), **f.common())


@dataclass(frozen=True)
class Verification(Result):
    """tpm_verify: whether the signature holds (a bad one is an answer)."""
    valid: bool = False
    digest: str = ""
    signer: Optional[str] = None

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "Verification":
        f = Fields(verb, reply)
        return cls(valid=f.flag("valid"), digest=f.opt("digest") or "", signer=f.opt("signer"),
                   **f.common())


@dataclass(frozen=True)
class RandomBytes(Result):
    """tpm_random: bytes from the TPM's generator."""
    data: bytes = b""

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "RandomBytes":
        f = Fields(verb, reply)
        data = reply.data or bytes.fromhex(f.text("random"))
        return cls(data=data, **f.common())


@dataclass(frozen=True)
class PcrValues(Result):
    """tpm_pcr_read: PCR index -> hex digest, in one bank."""
    bank: str = ""
    values: Mapping[int, str] = field(default_factory=dict)

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "PcrValues":
        f = Fields(verb, reply)
        values = {int(k[3:]): v for k, v in f.pairs.items()
                  if k.startswith("pcr") and k[3:].isdigit()}
        return cls(bank=f.text("bank"), values=values, **f.common())


@dataclass(frozen=True)
class PublicKey(Result):
    """tpm_public_key: the kernel's signing key."""
    algorithm: str = ""
    handle: str = ""
    pem: str = ""

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "PublicKey":
        f = Fields(verb, reply, tail="public_key_pem")
        pem = reply.data.decode("ascii") if reply.data else f.text("public_key_pem")
        return cls(algorithm=f.text("algorithm"), handle=f.text("handle"), pem=pem,
                   **f.common())


@dataclass(frozen=True)
class DriverStatus:
    """One loaded driver in driver_list."""
    name: str
    version: str
    instances_up: int
    instances: int
    invocations: int
    restarts: int
    price_micro_usd: int
    revenue_micro_usd: int
    health: str


@dataclass(frozen=True)
class Drivers(Result):
    """driver_list: the drivers found on disk and the loaded ones."""
    loaded: int = 0
    available: Tuple[str, ...] = ()
    drivers: Mapping[str, DriverStatus] = field(default_factory=dict)

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "Drivers":
        f = Fields(verb, reply)
        drivers = {}
        for name, text in f.pairs.items():
            if name in ("loaded", "available"):
                continue
            d = dict(kv.partition("=")[::2] for kv in text.split(";"))
            try:
                up, _, n = d.get("instances", "0/0").partition("/")
                drivers[name] = DriverStatus(
                    name=name, version=d.get("version", ""), instances_up=int(up),
                    instances=int(n), invocations=int(d.get("invocations", 0)),
                    restarts=int(d.get("restarts", 0)),
                    price_micro_usd=int(d.get("price_micro_usd", 0)),
                    revenue_micro_usd=int(d.get("revenue_micro_usd", 0)),
                    health=d.get("health", ""))
            except ValueError:
                raise f._error("driver entry %r is not understood" % text) from None
        return cls(loaded=f.integer("loaded"), available=f.items("available", ";"),
                   drivers=drivers, **f.common())


@dataclass(frozen=True)
class DriverLoaded(Result):
    """driver_load: the driver now serving."""
    driver: str = ""
    version: str = ""
    instances: int = 0
    sha256: str = ""
    load_ms: float = 0.0

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "DriverLoaded":
        f = Fields(verb, reply)
        return cls(driver=f.text("driver"), version=f.text("version"),
                   instances=f.integer("instances"), sha256=f.text("sha256"),
                   load_ms=f.number("load_ms"), **f.common())


@dataclass(frozen=True)
class DriverUnloaded(Result):
    """driver_unload: answered once the invokes in flight are done."""
    driver: str = ""
    unloaded: bool = False

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "DriverUnloaded":
        f = Fields(verb, reply)
        return cls(driver=f.text("driver"), unloaded=f.flag("unloaded"), **f.common())


@dataclass(frozen=True)
class DriverOutput(Result):
    """driver_invoke: the driver's output text."""
    driver: str = ""
    operation: str = ""
    output: str = ""

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "DriverOutput":
        f = Fields(verb, reply, tail="output")
        return cls(driver=f.text("driver"), operation=f.text("operation"),
                   output=f.opt("output") or "", **f.common())


@dataclass(frozen=True)
class PolicyDecision(Result):
    """policy_query: may the caller do the verb on the resource, and the
    rule that decided."""
    allowed: bool = False
    rule: str = ""
    policy_version: int = 0
    caller: Optional[str] = None
    verb: Optional[str] = None
    resource: Optional[str] = None

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "PolicyDecision":
        f = Fields(verb, reply)
        return cls(allowed=f.flag("allowed"), rule=f.text("rule"),
                   policy_version=f.integer("policy_version"), caller=f.opt("caller"),
                   verb=f.opt("verb"), resource=f.opt("resource"), **f.common())


@dataclass(frozen=True)
class PolicyUpdated(Result):
    """policy_update: the version of the policy now in force."""
    policy_version: int = 0

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "PolicyUpdated":
        f = Fields(verb, reply)
        return cls(policy_version=f.integer("policy_version"), **f.common())


def _scopes(text: str) -> Tuple[str, ...]:
    """read+write+admin (or comma-separated) as a tuple."""
    return tuple(x for x in text.replace("+", ",").split(",") if x)


def _expires(ms: int) -> Optional[_dt.datetime]:
    return _ms_to_datetime(ms) if ms > 0 else None


@dataclass(frozen=True)
class RegisteredAgent(Result):
    """agent_register: the new agent and its token (given this once)."""
    agent: str = ""
    scopes: Tuple[str, ...] = ()
    expires_ms: int = 0
    token: str = field(default="", repr=False)

    @property
    def expires(self) -> Optional[_dt.datetime]:
        """When the token ends (None: never)."""
        return _expires(self.expires_ms)

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "RegisteredAgent":
        f = Fields(verb, reply)
        return cls(agent=f.text("agent"), scopes=_scopes(f.text("scopes")),
                   expires_ms=f.opt_integer("expires_ms", 0) or 0,
                   token=reply.data.decode("utf-8"), **f.common())


@dataclass(frozen=True)
class AgentRevoked(Result):
    """agent_revoke: the agent, and how many of its tokens ended."""
    agent: str = ""
    revoked: int = 0

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "AgentRevoked":
        f = Fields(verb, reply)
        return cls(agent=f.text("agent"), revoked=f.integer("revoked"), **f.common())


@dataclass(frozen=True)
class AgentInfo:
    """One registered agent in agent_list."""
    name: str
    scopes: Tuple[str, ...]
    tokens: int
    expires_ms: int

    @property
    def expires(self) -> Optional[_dt.datetime]:
        return _expires(self.expires_ms)


@dataclass(frozen=True)
class AgentList(Result):
    """agent_list: the registered agents."""
    count: int = 0
    agents: Tuple[AgentInfo, ...] = ()

    @property
    def names(self) -> Tuple[str, ...]:
        return tuple(a.name for a in self.agents)

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "AgentList":
        f = Fields(verb, reply)
        agents = []
        for item in f.items("agents", ";"):
            # name:scopes:tokens:expires_ms; the name comes first and may not
            # hold a ':', the rest are the kernel's.
            parts = item.rsplit(":", 3)
            try:
                agents.append(AgentInfo(parts[0], _scopes(parts[1]), int(parts[2]),
                                        int(parts[3])))
            except (ValueError, IndexError):
                raise f._error("agent entry %r is not name:scopes:tokens:expires_ms"
                               % item) from None
        return cls(count=f.integer("count"), agents=tuple(agents), **f.common())


@dataclass(frozen=True)
class Backup(Result):
    """store_backup: where the kernel wrote a consistent copy of its store."""
    path: str = ""
    bytes: int = 0

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "Backup":
        f = Fields(verb, reply)
        return cls(path=f.text("path"), bytes=f.integer("bytes"), **f.common())


@dataclass(frozen=True)
class Raw(Result):
    """execute: any verb's answer, untyped."""
    verb: str = ""
    result: str = ""
    data: bytes = b""

    @classmethod
    def read(cls, verb: str, reply: Reply) -> "Raw":
        f = Fields(verb, reply)
        return cls(verb=verb, result=reply.result, data=reply.data, **f.common())


@dataclass(frozen=True)
class Component:
    """One component of a detailed HealthCheck."""
    name: str
    status: str
    message: str
    latency_ms: float


@dataclass(frozen=True)
class Health:
    """HealthCheck: SERVING or NOT_SERVING, and components when detailed."""
    status: str
    version: str
    uptime_seconds: float
    instance_id: str
    components: Tuple[Component, ...] = ()

    @property
    def serving(self) -> bool:
        return self.status == "SERVING"

    @classmethod
    def read(cls, msg: Any) -> "Health":
        return cls(status=msg.status, version=msg.version, uptime_seconds=msg.uptime_seconds,
                   instance_id=msg.instance_id,
                   components=tuple(Component(c.name, c.status, c.message, c.latency_ms)
                                    for c in msg.components))

