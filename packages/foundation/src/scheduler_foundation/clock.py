"""Time as a port, so tests can move it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from scheduler_domain import utc_now


class Clock(Protocol):
    """Tells the current time (timezone-aware, UTC)."""

    def now(self) -> datetime:
        """The current time."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return utc_now()
