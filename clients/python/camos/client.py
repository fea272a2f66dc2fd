# SPDX-License-Identifier: Apache-2.0
"""camos.Client: the blocking client, one typed method per verb.

    with camos.Client("127.0.0.1:50051", caller_id="agent-1") as cam:
        cam.context_write("agent-1", "goal", "find food")
        print(cam.context_read("agent-1", "goal").text())

Every method takes timeout= (seconds for the whole call, retries included;
default the client's) and priority= (0-9). Failures raise the CamError
subclass of their status. Safe to share between threads.
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Mapping, Optional, TypeVar, Union

import grpc

from . import channel, results as r, verbs as v
from .core import (EXECUTE, HEALTH_CHECK, Core, HEALTH_CALL, HealthCheckRequest,
                   HealthCheckResponse, Sendable, SyscallRequest, SyscallResponse, remaining)
from .errors import CamError, DeadlineExceededError, from_rpc_error
from .payload import Scalar
from .retry import RetryPolicy
from .settings import DEFAULT_TIMEOUT, resolve

T = TypeVar("T")


class Client:
    def __init__(self, address: Optional[str] = None, *, caller_id: Optional[str] = None,
                 token: Optional[str] = None, token_file: Optional[str] = None,
                 tls: Optional[bool] = None, ca_file: Optional[str] = None,
                 root_certificates: Optional[bytes] = None, cert_file: Optional[str] = None,
                 certificate_chain: Optional[bytes] = None, key_file: Optional[str] = None,
                 private_key: Optional[bytes] = None, server_name: Optional[str] = None,
                 timeout: Optional[float] = DEFAULT_TIMEOUT,
                 retry: Optional[RetryPolicy] = None) -> None:
        """Arguments left out come from the environment (see camos.settings)."""
        self._core = Core(resolve(address, caller_id=caller_id, token=token,
                                  token_file=token_file, tls=tls, ca_file=ca_file,
                                  root_certificates=root_certificates, cert_file=cert_file,
                                  certificate_chain=certificate_chain, key_file=key_file,
                                  private_key=private_key, server_name=server_name,
                                  timeout=timeout, retry=retry))
        self._channel = channel.blocking(self._core.settings)
        self._execute = self._channel.unary_unary(
            EXECUTE, request_serializer=SyscallRequest.SerializeToString,
            response_deserializer=SyscallResponse.FromString)
        self._health = self._channel.unary_unary(
            HEALTH_CHECK, request_serializer=HealthCheckRequest.SerializeToString,
            response_deserializer=HealthCheckResponse.FromString)

    @property
    def address(self) -> str:
        return self._core.settings.address

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # The one place calls are sent: deadline, metadata, retries, errors.
    def _send(self, method: Any, request: Any, call: Sendable[T], timeout: Optional[float]) -> T:
        core = self._core
        # The first try gets the whole timeout; retries what is left of it.
        left = core.timeout if timeout is None else timeout
        deadline = None if left is None else time.monotonic() + left
        metadata = core.metadata()
        attempt = 1
        while True:
            try:
                return call.read(call.verb, method(request, timeout=left, metadata=metadata))
            except grpc.RpcError as e:
                error = from_rpc_error(e, call.verb)
            left = remaining(deadline)
            wait = core.settings.retry.delay(error, attempt, left) if call.idempotent else None
            if wait is None:
                raise error
            time.sleep(wait)
            attempt += 1
            left = remaining(deadline)

    def _run(self, call: v.Call[T], timeout: Optional[float], priority: Optional[int]) -> T:
        return self._send(self._execute, self._core.request(call, priority), call, timeout)

    # Health

    def health(self, detailed: bool = False, *, timeout: Optional[float] = None) -> r.Health:
        req = HealthCheckRequest(caller_id=self._core.settings.caller_id, detailed=detailed)
        return self._send(self._health, req, HEALTH_CALL, timeout)

    def wait_until_ready(self, timeout: float = 30.0, interval: float = 0.1) -> r.Health:
        """Polls HealthCheck until the kernel says SERVING; after timeout
        seconds raises DeadlineExceededError saying what it last saw."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            try:
                h = self.health(timeout=max(0.05, min(left, 1.0)))
                if h.serving:
                    return h
                last = "HealthCheck says " + h.status
            except CamError as e:
                last = str(e)
            if time.monotonic() + interval >= end:
                raise DeadlineExceededError("kernel at %s not ready within %g s: %s"
                                            % (self.address, timeout, last))
            time.sleep(interval)

    # Verbs: system, identity

    def ping(self, pairs: Optional[Mapping[str, Scalar]] = None, *,
             delay_ms: Optional[int] = None, timeout: Optional[float] = None,
             priority: Optional[int] = None) -> r.Pong:
        return self._run(v.ping(pairs, delay_ms), timeout, priority)

    def observe(self, *, timeout: Optional[float] = None,
                priority: Optional[int] = None) -> r.Observation:
        return self._run(v.observe(), timeout, priority)

    def whoami(self, *, timeout: Optional[float] = None,
               priority: Optional[int] = None) -> r.Identity:
        return self._run(v.whoami(), timeout, priority)

    # Observability

    def emit_metric(self, name: str, value: float,
                    labels: Optional[Mapping[str, Scalar]] = None, *, type: Optional[str] = None,
                    help: Optional[str] = None, native: Optional[bool] = None,
                    timeout: Optional[float] = None,
                    priority: Optional[int] = None) -> r.MetricEmitted:
        return self._run(v.emit_metric(name, value, labels, type, help, native), timeout,
                         priority)

    def emit_trace(self, trace_id: str, span_id: str, operation: str, *,
                   parent_span_id: Optional[str] = None, duration_ms: Optional[float] = None,
                   service: Optional[str] = None, status: Optional[str] = None,
                   attributes: Optional[Mapping[str, Scalar]] = None,
                   timeout: Optional[float] = None,
                   priority: Optional[int] = None) -> r.TraceEmitted:
        return self._run(v.emit_trace(trace_id, span_id, operation, parent_span_id,
                                      duration_ms, service, status, attributes),
                         timeout, priority)

    # Scheduler and cognition

    def think(self, *, urgency: Optional[float] = None, importance: Optional[float] = None,
              efficiency: Optional[float] = None, energy: Optional[float] = None,
              trust: Optional[float] = None, task: Optional[str] = None,
              timeout: Optional[float] = None, priority: Optional[int] = None) -> r.Thought:
        return self._run(v.think(urgency, importance, efficiency, energy, trust, task),
                         timeout, priority)

    def explain_action(self, request_id: Optional[str] = None, *,
                       trace_id: Optional[str] = None, timeout: Optional[float] = None,
                       priority: Optional[int] = None) -> r.Explanation:
        return self._run(v.explain_action(request_id, trace_id), timeout, priority)

    def tune_system(self, *, weights: Optional[v.Triple] = None,
                    weight_high: Optional[int] = None, weight_normal: Optional[int] = None,
                    weight_low: Optional[int] = None, queue_limit: Optional[v.Triple] = None,
                    queue_limit_high: Optional[int] = None,
                    queue_limit_normal: Optional[int] = None,
                    queue_limit_low: Optional[int] = None, workers: Optional[int] = None,
                    stall_ms: Optional[int] = None, timeout: Optional[float] = None,
                    priority: Optional[int] = None) -> r.SchedulerSettings:
        return self._run(v.tune_system(weights, weight_high, weight_normal, weight_low,
                                       queue_limit, queue_limit_high, queue_limit_normal,
                                       queue_limit_low, workers, stall_ms), timeout, priority)

    # Memory context

    def context_write(self, namespace: str, key: str, value: v.Bytes, *,
                      expected_version: Optional[int] = None, timeout: Optional[float] = None,
                      priority: Optional[int] = None) -> r.Written:
        return self._run(v.context_write(namespace, key, value, expected_version), timeout,
                         priority)

    def context_write_json(self, namespace: str, key: str, obj: Any, *,
                           expected_version: Optional[int] = None,
                           timeout: Optional[float] = None,
                           priority: Optional[int] = None) -> r.Written:
        return self._run(v.context_write_json(namespace, key, obj, expected_version), timeout,
                         priority)

    def context_read(self, namespace: str, key: str, *, version: Optional[int] = None,
                     timeout: Optional[float] = None,
                     priority: Optional[int] = None) -> r.ContextValue:
        return self._run(v.context_read(namespace, key, version), timeout, priority)

    def context_versions(self, namespace: str, key: str, *, timeout: Optional[float] = None,
                         priority: Optional[int] = None) -> r.ContextVersions:
        return self._run(v.context_versions(namespace, key), timeout, priority)

    def context_delete(self, namespace: Optional[str] = None, key: Optional[str] = None, *,
                       snapshot_id: Optional[str] = None, timeout: Optional[float] = None,
                       priority: Optional[int] = None) -> r.Deleted:
        return self._run(v.context_delete(namespace, key, snapshot_id), timeout, priority)

    def context_snapshot(self, namespace: str, *, timeout: Optional[float] = None,
                         priority: Optional[int] = None) -> r.Snapshot:
        return self._run(v.context_snapshot(namespace), timeout, priority)

    def context_restore(self, snapshot_id: str, *, timeout: Optional[float] = None,
                        priority: Optional[int] = None) -> r.Snapshot:
        return self._run(v.context_restore(snapshot_id), timeout, priority)

    # Security: TPM

    def tpm_sign(self, data: Optional[v.Bytes] = None, *, digest: Optional[str] = None,
                 timeout: Optional[float] = None,
                 priority: Optional[int] = None) -> r.Signature:
        return self._run(v.tpm_sign(data, digest), timeout, priority)

    def tpm_verify(self, signature: Union[bytes, str], data: Optional[v.Bytes] = None, *,
                   digest: Optional[str] = None, signer: Optional[str] = None,
                   timeout: Optional[float] = None,
                   priority: Optional[int] = None) -> r.Verification:
        return self._run(v.tpm_verify(signature, data, digest, signer), timeout,
                               priority)

    def tpm_random(self, n: Optional[int] = None, *, timeout: Optional[float] = None,
                   priority: Optional[int] = None) -> r.RandomBytes:
        return self._run(v.tpm_random(n), timeout, priority)

    def tpm_pcr_read(self, pcrs: Union[None, str, Iterable[int]] = None, *,
                     timeout: Optional[float] = None,
                     priority: Optional[int] = None) -> r.PcrValues:
        return self._run(v.tpm_pcr_read(pcrs), timeout, priority)

    def tpm_public_key(self, *, timeout: Optional[float] = None,
                       priority: Optional[int] = None) -> r.PublicKey:
        return self._run(v.tpm_public_key(), timeout, priority)

    # Drivers

    def driver_list(self, *, timeout: Optional[float] = None,
                    priority: Optional[int] = None) -> r.Drivers:
        return self._run(v.driver_list(), timeout, priority)

    def driver_load(self, driver: str, *, config: Optional[str] = None,
                    timeout: Optional[float] = None,
                    priority: Optional[int] = None) -> r.DriverLoaded:
        return self._run(v.driver_load(driver, config), timeout, priority)

    def driver_unload(self, driver: str, *, timeout: Optional[float] = None,
                      priority: Optional[int] = None) -> r.DriverUnloaded:
        return self._run(v.driver_unload(driver), timeout, priority)

    def driver_invoke(self, driver: str, operation: str, input: v.Bytes = b"", *,
                      timeout_ms: Optional[int] = None, timeout: Optional[float] = None,
                      priority: Optional[int] = None) -> r.DriverOutput:
        return self._run(v.driver_invoke(driver, operation, input, timeout_ms), timeout,
                         priority)

    # Policy and agents

    def policy_query(self, verb: str, resource: str, *, caller: Optional[str] = None,
                     timeout: Optional[float] = None,
                     priority: Optional[int] = None) -> r.PolicyDecision:
        return self._run(v.policy_query(verb, resource, caller), timeout, priority)

    def policy_update(self, policy: Union[Mapping[str, Any], v.Bytes], *,
                      timeout: Optional[float] = None,
                      priority: Optional[int] = None) -> r.PolicyUpdated:
        return self._run(v.policy_update(policy), timeout, priority)

    def agent_register(self, agent: str, scopes: Union[str, Iterable[str]], *,
                       rate: Optional[float] = None, burst: Optional[int] = None,
                       ttl_s: Optional[int] = None, timeout: Optional[float] = None,
                       priority: Optional[int] = None) -> r.RegisteredAgent:
        return self._run(v.agent_register(agent, scopes, rate, burst, ttl_s), timeout,
                         priority)

    def agent_revoke(self, agent: str, *, timeout: Optional[float] = None,
                     priority: Optional[int] = None) -> r.AgentRevoked:
        return self._run(v.agent_revoke(agent), timeout, priority)

    def agent_list(self, *, timeout: Optional[float] = None,
                   priority: Optional[int] = None) -> r.AgentList:
        return self._run(v.agent_list(), timeout, priority)

    # The durable store

    def store_backup(self, name: str, *, timeout: Optional[float] = None,
                     priority: Optional[int] = None) -> r.Backup:
        """A consistent copy of the kernel's store in <data dir>/backups/<name>."""
        return self._run(v.store_backup(name), timeout, priority)

    # Anything else

    def execute(self, verb: str, payload: Union[None, str, Mapping[str, Scalar]] = None, *,
                data: v.Bytes = b"", idempotent: bool = False, timeout: Optional[float] = None,
                priority: Optional[int] = None) -> r.Raw:
        """Any verb by name; sent again after UNAVAILABLE only if idempotent."""
        return self._run(v.execute(verb, payload, data, idempotent), timeout, priority)
