# SPDX-License-Identifier: Apache-2.0
"""When to send a call again: idempotent calls only, on UNAVAILABLE only,
with exponential backoff and full jitter (gRPC's retry design, A6), and
never past the call's deadline. The clients own the loop; this decides.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Optional

from .errors import CamError, Status


@dataclass(frozen=True)
class RetryPolicy:
    """max_attempts counts the first try. Before retry n (1, 2, ...) the
    client sleeps a random time in [0, min(initial_backoff *
    multiplier**(n-1), max_backoff)] seconds. on_retry(attempt, error,
    delay) is called before each sleep (for logs)."""
    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    multiplier: float = 2.0
    on_retry: Optional[Callable[[int, CamError, float], None]] = None

    def delay(self, error: CamError, attempt: int, remaining: Optional[float],
              rand: Callable[[], float] = random.random) -> Optional[float]:
        """Seconds to wait before sending the call again after `attempt`
        tries ended in `error`, or None to give up. remaining: seconds
        left before the deadline (None: no deadline)."""
        if error.code != Status.UNAVAILABLE or attempt >= self.max_attempts:
            return None
        cap = min(self.initial_backoff * self.multiplier ** (attempt - 1), self.max_backoff)
        wait = rand() * cap
        if remaining is not None and wait >= remaining:
            return None
        if self.on_retry is not None:
            self.on_retry(attempt, error, wait)
        return wait


NO_RETRY = RetryPolicy(max_attempts=1)
