# SPDX-License-Identifier: Apache-2.0
"""A gRPC channel (blocking or asyncio) for Settings."""
from __future__ import annotations

from typing import Any, List, Tuple

import grpc
import grpc.aio

from .settings import Settings

# Try to reconnect at least every second (gRPC's defaults wait 1 s at first,
# then up to 2 minutes), so a call retried after a kernel restart finds the
# kernel back. (Not grpc.min_reconnect_backoff_ms: grpc-core takes it as
# each attempt's connect timeout, and 100 ms fails handshakes on a busy
# machine.) No client-side message size cap: the kernel enforces its own.
_OPTIONS: List[Tuple[str, Any]] = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
]


def _credentials(s: Settings) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(root_certificates=s.root_certificates,
                                        private_key=s.private_key,
                                        certificate_chain=s.certificate_chain)


def _options(s: Settings) -> List[Tuple[str, Any]]:
    opts = list(_OPTIONS)
    if s.server_name:
        opts.append(("grpc.ssl_target_name_override", s.server_name))
    return opts


def blocking(s: Settings) -> grpc.Channel:
    if s.tls:
        return grpc.secure_channel(s.address, _credentials(s), _options(s))
    return grpc.insecure_channel(s.address, _options(s))


def asyncio(s: Settings) -> grpc.aio.Channel:
    if s.tls:
        return grpc.aio.secure_channel(s.address, _credentials(s), _options(s))
    return grpc.aio.insecure_channel(s.address, _options(s))
