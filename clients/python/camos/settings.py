# SPDX-License-Identifier: Apache-2.0
"""Where and how to connect: arguments first, then the environment, then
defaults. The same names serve the library and the `cam` command.

  CAM_ADDR                      host:port of the kernel; else the kernel's own
                                CAM_GRPC_LISTEN (a wildcard host becomes loopback);
                                else 127.0.0.1:50051
  CAM_CALLER_ID                 caller_id sent with every call (no token: who you say you are)
  CAM_TOKEN, CAM_TOKEN_FILE     bearer token (`authorization: Bearer ...`)
  CAM_TLS                       true: TLS with the system's trust roots
  CAM_TLS_CA_FILE               PEM trust roots for the kernel's certificate (TLS on)
  CAM_TLS_CLIENT_CERT_FILE,
  CAM_TLS_CLIENT_KEY_FILE       a client certificate and its key (TLS on)
  CAM_TLS_SERVER_NAME           the name the kernel's certificate must carry
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional

from .retry import RetryPolicy

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Settings:
    address: str
    caller_id: str = ""
    token: Optional[str] = None
    tls: bool = False
    root_certificates: Optional[bytes] = None
    certificate_chain: Optional[bytes] = None
    private_key: Optional[bytes] = None
    server_name: Optional[str] = None
    timeout: Optional[float] = DEFAULT_TIMEOUT
    retry: RetryPolicy = RetryPolicy()


def address_from_listen(listen: str) -> str:
    """A client's address for a kernel's CAM_GRPC_LISTEN: a wildcard or
    empty host is this machine's loopback."""
    host, sep, port = listen.rpartition(":")
    if not sep:
        return listen
    if host in ("", "0.0.0.0", "*"):
        host = "127.0.0.1"
    elif host in ("[::]", "::"):
        host = "[::1]"
    return host + ":" + port


def _read(path: Optional[str]) -> Optional[bytes]:
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


def _flag(text: Optional[str]) -> bool:
    return (text or "").strip().lower() in ("1", "true", "yes", "on")


def resolve(address: Optional[str] = None, *, caller_id: Optional[str] = None,
            token: Optional[str] = None, token_file: Optional[str] = None,
            tls: Optional[bool] = None, ca_file: Optional[str] = None,
            root_certificates: Optional[bytes] = None, cert_file: Optional[str] = None,
            certificate_chain: Optional[bytes] = None, key_file: Optional[str] = None,
            private_key: Optional[bytes] = None, server_name: Optional[str] = None,
            timeout: Optional[float] = DEFAULT_TIMEOUT, retry: Optional[RetryPolicy] = None,
            env: Optional[Mapping[str, str]] = None) -> Settings:
    """Settings from arguments, then env (default os.environ)."""
    e = os.environ if env is None else env
    if address is None:
        address = e.get("CAM_ADDR") or (address_from_listen(e["CAM_GRPC_LISTEN"])
                                        if e.get("CAM_GRPC_LISTEN") else DEFAULT_ADDRESS)
    if token is None:
        token_file = token_file or e.get("CAM_TOKEN_FILE")
        raw = _read(token_file)
        token = raw.decode("utf-8").strip() if raw is not None else e.get("CAM_TOKEN") or None
    roots = root_certificates or _read(ca_file or e.get("CAM_TLS_CA_FILE"))
    chain = certificate_chain or _read(cert_file or e.get("CAM_TLS_CLIENT_CERT_FILE"))
    key = private_key or _read(key_file or e.get("CAM_TLS_CLIENT_KEY_FILE"))
    if (chain is None) != (key is None):
        raise ValueError("a client certificate needs both the certificate and its key")
    if tls is None:
        tls = _flag(e.get("CAM_TLS")) or roots is not None or chain is not None
    return Settings(address=address,
                    caller_id=caller_id if caller_id is not None else e.get("CAM_CALLER_ID", ""),
                    token=token, tls=tls, root_certificates=roots, certificate_chain=chain,
                    private_key=key,
                    server_name=server_name or e.get("CAM_TLS_SERVER_NAME") or None,
                    timeout=timeout, retry=retry if retry is not None else RetryPolicy())
