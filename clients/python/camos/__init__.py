# SPDX-License-Identifier: Apache-2.0
"""camos: the Python client of the CAM-OS syscall kernel.

camos.Client is blocking, camos.aio.Client is asyncio; both have one typed
method per verb. Failures raise the CamError subclass of their gRPC status.
"""
from . import aio
from ._version import __version__
from .client import Client
from .errors import (AbortedError, AlreadyExistsError, CamError, CancelledError,
                     DataLossError, DeadlineExceededError, FailedPreconditionError,
                     InternalError, InvalidArgumentError, NotFoundError, OutOfRangeError,
                     PermissionDeniedError, ResourceExhaustedError, ResultError, Status,
                     UnauthenticatedError, UnavailableError, UnimplementedError, UnknownError,
                     error_for)
from .payload import PayloadError
from .results import (AgentInfo, AgentList, AgentRevoked, Backup, Component, ContextValue, ContextVersions,
                      Deleted, DriverLoaded, DriverOutput, Drivers, DriverStatus,
                      DriverUnloaded, Explanation, Health, Identity, MetricEmitted,
                      Observation, PcrValues, PolicyDecision, PolicyUpdated, Pong, PublicKey,
                      RandomBytes, Raw, RegisteredAgent, Result, SchedulerSettings, Signature,
                      Snapshot, Thought, TraceEmitted, Verification, VersionInfo, Written)
from .retry import NO_RETRY, RetryPolicy

__all__ = [
    "__version__", "aio", "Client", "RetryPolicy", "NO_RETRY", "PayloadError", "Status",
    "error_for", "CamError", "CancelledError", "UnknownError", "InvalidArgumentError",
    "DeadlineExceededError", "NotFoundError", "AlreadyExistsError", "PermissionDeniedError",
    "ResourceExhaustedError", "FailedPreconditionError", "AbortedError", "OutOfRangeError",
    "UnimplementedError", "InternalError", "UnavailableError", "DataLossError",
    "UnauthenticatedError", "ResultError", "Result", "Pong", "Observation", "Identity",
    "MetricEmitted", "TraceEmitted", "Thought", "Explanation", "SchedulerSettings", "Written",
    "ContextValue", "VersionInfo", "ContextVersions", "Deleted", "Snapshot", "Signature",
    "Verification", "RandomBytes", "PcrValues", "PublicKey", "DriverStatus", "Drivers",
    "DriverLoaded", "DriverUnloaded", "DriverOutput", "PolicyDecision", "PolicyUpdated",
    "RegisteredAgent", "AgentRevoked", "AgentInfo", "AgentList", "Backup", "Raw", "Component", "Health",
]
