"""Ports through which the parts of the system nudge each other."""

from __future__ import annotations

from typing import Protocol

from scheduler_domain import RunOutcome


class DispatchWakeup(Protocol):
    """Tells the dispatchers that a run is ready now (a manual trigger), so none waits a scan."""

    def notify(self) -> None:
        """Wake the dispatchers as soon as possible; never blocks, never fails."""
        ...


class RunReporter(Protocol):
    """How a worker tells the scheduler what happened to a run it took."""

    confirms_start: bool
    """True when `start`'s answer decides whether the run may go, so the worker waits for it;
    False when `start` only informs and always says go (a run that must not run is then stopped
    by a `CancelRun`), so the worker starts the run while the report travels."""

    async def start(self, run_id: int, attempt: int, worker_id: str) -> bool:
        """Claim the run for execution; False when it must not run (cancelled, superseded)."""
        ...

    async def finish(self, run_id: int, attempt: int, worker_id: str, outcome: RunOutcome) -> None:
        """Record how the run ended (applied once; a duplicate changes nothing)."""
        ...


class DispatchWakeupListener(Protocol):
    """The dispatcher's side of `DispatchWakeup`."""

    async def wait(self, max_wait: float) -> bool:
        """Return when notified (True) or after `max_wait` seconds (False), whichever is first."""
        ...
