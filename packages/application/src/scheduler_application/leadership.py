"""Leadership among dispatchers: one lease in the shared store, renewed by the instance that holds it.

Every dispatcher fires schedules and dispatches runs (claims in the database make that safe);
work that wants one owner, the recovery sweeps, runs only on the leader. The leader renews its
lease every third of the lease time; when it dies, the lease expires (one lease time after its
last renewal) and the next instance to ask takes it over, at most a third of the lease time
later. On a clean stop the leader releases the lease, so another takes over at its next request.
The dispatcher loop runs `hold()` beside its passes and sweeps only while `is_leader`.

An instance counts itself the leader only until the lease time has passed since it last asked
for the lease successfully, measured from *before* the request on its monotonic clock: the
store set the expiry later than that, so the instance gives up no later than the lease expires,
even when the store stops answering. Sweeps are idempotent besides (every change is
conditional), so the rare overlap of a sweep still running on an old leader is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from scheduler_domain import LeaseRepository
from scheduler_errors import SchedulerError

logger = logging.getLogger(__name__)

#: The lease the dispatchers elect their leader with.
DISPATCHER_LEASE = "dispatcher"


class Leadership:
    """One instance's part in the election: `hold()` keeps asking for the lease until `stop()`."""

    def __init__(
        self,
        *,
        leases: LeaseRepository,
        holder: str,
        lease_seconds: float = 10.0,
        lease_name: str = DISPATCHER_LEASE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self._leases = leases
        self.holder = holder
        self.lease_seconds = lease_seconds
        self._lease_name = lease_name
        self._monotonic = monotonic
        self._valid_until = 0.0
        self._was_leader = False
        self._stopping = asyncio.Event()

    @property
    def renew_interval(self) -> float:
        """How often the lease is asked for: a third of its time, so two renewals may fail in a row."""
        return self.lease_seconds / 3

    @property
    def is_leader(self) -> bool:
        """True while this instance's last successful request for the lease is younger than its time."""
        return self._monotonic() < self._valid_until

    async def renew(self) -> bool:
        """Take or keep the lease; returns whether this instance leads now. Logs gains and losses.

        A store that does not answer is logged; the instance keeps leading until its lease runs out.
        """
        asked_at = self._monotonic()
        try:
            held = await self._leases.try_acquire(
                self._lease_name, self.holder, timedelta(seconds=self.lease_seconds)
            )
        except SchedulerError as exc:
            logger.warning(
                "cannot renew the leadership lease", extra={"holder": self.holder, "error": str(exc)}
            )
        else:
            self._valid_until = asked_at + self.lease_seconds if held else 0.0
        leading = self.is_leader
        if leading != self._was_leader:
            self._log(
                "gained leadership" if leading else "lost leadership",
                logging.INFO if leading else logging.WARNING,
            )
        self._was_leader = leading
        return leading

    async def release(self) -> None:
        """Stop leading and give the lease up, so another instance can take it at once."""
        self._valid_until = 0.0
        try:
            await self._leases.release(self._lease_name, self.holder)
        except SchedulerError as exc:
            logger.warning(
                "cannot release the leadership lease: it expires by itself",
                extra={"holder": self.holder, "error": str(exc)},
            )
        if self._was_leader:
            self._log("released leadership", logging.INFO)
        self._was_leader = False

    async def hold(self) -> None:
        """Renew every `renew_interval` until `stop()`, then release the lease."""
        try:
            while not self._stopping.is_set():
                await self.renew()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.renew_interval)
        finally:
            await self.release()

    def stop(self) -> None:
        """Make `hold()` release the lease and return."""
        self._stopping.set()

    def _log(self, message: str, level: int) -> None:
        extra = {"holder": self.holder, "lease": self._lease_name, "lease_seconds": self.lease_seconds}
        logger.log(level, message, extra=extra)
