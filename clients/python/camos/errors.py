# SPDX-License-Identifier: Apache-2.0
"""One exception class per gRPC status, carrying the kernel's own message.

Every failed call raises a subclass of CamError named after its status
(NotFoundError for NOT_FOUND, ...), so agents catch exactly what they can
handle. The message is the kernel's text as it sent it; request_id is the
kernel's id of the call when the kernel sent one (trailing metadata
`cam-request-id`), else None.
"""
from __future__ import annotations

import enum
from typing import Any, Dict, Optional, Type

REQUEST_ID_TRAILER = "cam-request-id"


class Status(enum.IntEnum):
    """gRPC status codes (the numbers are gRPC's; the CLI exits with them)."""
    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class CamError(Exception):
    """A call that failed: status, the kernel's message, its request id."""
    code: Status = Status.UNKNOWN

    def __init__(self, message: str, *, request_id: Optional[str] = None,
                 verb: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.verb = verb

    def __str__(self) -> str:
        where = []
        if self.verb:
            where.append("verb " + self.verb)
        if self.request_id:
            where.append("request " + self.request_id)
        return "%s: %s%s" % (self.code.name, self.message,
                             " (%s)" % ", ".join(where) if where else "")


class CancelledError(CamError):
    code = Status.CANCELLED


class UnknownError(CamError):
    code = Status.UNKNOWN


class InvalidArgumentError(CamError):
    code = Status.INVALID_ARGUMENT


class DeadlineExceededError(CamError):
    code = Status.DEADLINE_EXCEEDED


class NotFoundError(CamError):
    code = Status.NOT_FOUND


class AlreadyExistsError(CamError):
    code = Status.ALREADY_EXISTS


class PermissionDeniedError(CamError):
    code = Status.PERMISSION_DENIED


class ResourceExhaustedError(CamError):
    code = Status.RESOURCE_EXHAUSTED


class FailedPreconditionError(CamError):
    code = Status.FAILED_PRECONDITION


class AbortedError(CamError):
    code = Status.ABORTED


class OutOfRangeError(CamError):
    code = Status.OUT_OF_RANGE


class UnimplementedError(CamError):
    code = Status.UNIMPLEMENTED


class InternalError(CamError):
    code = Status.INTERNAL


class UnavailableError(CamError):
    code = Status.UNAVAILABLE


class DataLossError(CamError):
    code = Status.DATA_LOSS


class UnauthenticatedError(CamError):
    code = Status.UNAUTHENTICATED


class ResultError(UnknownError):
    """The kernel answered OK with a result this library cannot read."""


# Status -> class, from the classes above (each names its own code once).
ERRORS: Dict[Status, Type[CamError]] = {cls.code: cls for cls in CamError.__subclasses__()}


def error_for(code: int, message: str, *, request_id: Optional[str] = None,
              verb: Optional[str] = None) -> CamError:
    """The exception of a status code (OK or an unheard-of code: UnknownError)."""
    try:
        cls = ERRORS[Status(code)]
    except (ValueError, KeyError):
        cls, message = UnknownError, "status %d: %s" % (code, message)
    return cls(message, request_id=request_id, verb=verb)


def from_rpc_error(error: Any, verb: Optional[str] = None) -> CamError:
    """The CamError of a grpc.RpcError or grpc.aio.AioRpcError."""
    code = error.code()
    number = code.value[0] if code is not None else Status.UNKNOWN
    try:
        trailers = error.trailing_metadata()
    except Exception:  # a call that never reached the server has none
        trailers = None
    return error_for(number, error.details() or "", request_id=request_id_of(trailers),
                     verb=verb)


def request_id_of(metadata: Any) -> Optional[str]:
    """The kernel's request id in trailing metadata, if it sent one."""
    for key, value in metadata or ():
        if key == REQUEST_ID_TRAILER:
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return None
