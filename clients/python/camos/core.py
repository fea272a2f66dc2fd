# SPDX-License-Identifier: Apache-2.0
"""What the blocking and the asyncio clients share: the stubs' messages,
the request of a Call, the metadata every call carries, what their send
loop needs of a call, and the time left before a deadline."""
from __future__ import annotations

import time
from typing import Any, Callable, Optional, Protocol, Tuple, TypeVar

from ._proto import cam_pb2
from .errors import InvalidArgumentError
from .results import Health
from .settings import Settings
from .tracing import available as tracing_available, current_traceparent
from .verbs import Call

EXECUTE = "/cam.SyscallService/Execute"
HEALTH_CHECK = "/cam.SyscallService/HealthCheck"
SyscallRequest = cam_pb2.SyscallRequest
SyscallResponse = cam_pb2.SyscallResponse
HealthCheckRequest = cam_pb2.HealthCheckRequest
HealthCheckResponse = cam_pb2.HealthCheckResponse

Metadata = Tuple[Tuple[str, str], ...]
T_co = TypeVar("T_co", covariant=True)


class Core:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._auth: Metadata = ((("authorization", "Bearer " + settings.token),)
                                if settings.token else ())
        self._auth_or_none = self._auth or None
        self._caller_id = settings.caller_id
        self.timeout = settings.timeout

    def metadata(self) -> Optional[Metadata]:
        """The token, and the current span's traceparent when there is one."""
        tp = current_traceparent() if tracing_available else None
        if tp is None:
            return self._auth_or_none
        return self._auth + (("traceparent", tp),)

    def request(self, call: Call[Any], priority: Optional[int]) -> cam_pb2.SyscallRequest:
        # Fields left at their defaults cost nothing to set or to send.
        req = SyscallRequest(verb=call.verb, payload=call.payload)
        if self._caller_id:
            req.caller_id = self._caller_id
        if call.data:
            req.data = call.data
        if priority is not None:
            if not 0 <= priority <= 9:
                raise InvalidArgumentError("priority must be 0-9, not %r" % priority,
                                           verb=call.verb)
            req.priority = priority
        return req


class Sendable(Protocol[T_co]):
    """What the clients' send loop needs of a call: a verbs.Call, or
    HEALTH_CALL."""
    verb: str
    idempotent: bool

    @property
    def read(self) -> Callable[[str, Any], T_co]: ...


class HealthCall:
    """HealthCheck as the clients' send loop sees a call (as verbs.Call)."""
    verb = "HealthCheck"
    idempotent = True

    @staticmethod
    def read(verb: str, msg: Any) -> Health:
        return Health.read(msg)


HEALTH_CALL = HealthCall()


def remaining(deadline: Optional[float]) -> Optional[float]:
    """Seconds left before deadline (None: no deadline), never below 0."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())
