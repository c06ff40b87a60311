"""An in-memory fake of the lease port, on a clock the test controls (or the real one)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from scheduler_domain import utc_now


class FakeLeaseRepository:
    """Leases in a dict: name -> (holder, expires_at), judged by `now` as a database judges by its clock.

    Pass a `FakeClock`'s `now` to move time by hand; the default is the real clock.
    """

    def __init__(self, now: Callable[[], datetime] = utc_now) -> None:
        self.now = now
        self.rows: dict[str, tuple[str, datetime]] = {}

    async def try_acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease unless another holder's is still valid."""
        now = self.now()
        current = self.rows.get(name)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self.rows[name] = (holder, now + ttl)
        return True

    async def release(self, name: str, holder: str) -> None:
        """Drop the lease if `holder` holds it."""
        current = self.rows.get(name)
        if current is not None and current[0] == holder:
            del self.rows[name]

    async def holder(self, name: str) -> str | None:
        """The holder of a valid lease, or None."""
        current = self.rows.get(name)
        if current is None or current[1] <= self.now():
            return None
        return current[0]
