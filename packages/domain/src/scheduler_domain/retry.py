"""Retry delays: exponential backoff with full jitter on top, capped."""

from __future__ import annotations

import random

from msgspec import Struct


class RetryPolicy(Struct, frozen=True, kw_only=True):
    """How often and how soon a failed run is tried again.

    The delay before attempt `n + 1` is `base * 2**(n - 1)`, capped at `cap_seconds`, plus a
    random jitter of up to `jitter` times that amount (so retries of many runs do not stampede).
    """

    max_retries: int = 0
    backoff_seconds: float = 10.0
    cap_seconds: float = 3600.0
    jitter: float = 0.1

    def allows_another(self, attempt: int) -> bool:
        """True when the run that just ended as `attempt` may be tried again."""
        return attempt <= self.max_retries

    def delay_after(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before the attempt that follows `attempt` (1-based)."""
        exponent = max(attempt - 1, 0)
        base = min(self.backoff_seconds * (2.0**exponent), self.cap_seconds)
        spread = (rng or random).random() * self.jitter * base
        return min(base + spread, self.cap_seconds * (1 + self.jitter))
