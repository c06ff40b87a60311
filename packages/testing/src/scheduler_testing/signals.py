"""Fakes of the signal ports."""

from __future__ import annotations

import asyncio

from scheduler_domain import RunOutcome


class FakeWakeup:
    """Counts how often the dispatchers were woken; also serves as the dispatcher's listener."""

    def __init__(self) -> None:
        self.notified = 0
        self.waits = 0
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Count one wake-up and release a waiting dispatcher."""
        self.notified += 1
        self._event.set()

    async def wait(self, max_wait: float) -> bool:
        """Return True when notified, False after `max_wait` seconds."""
        self.waits += 1
        try:
            async with asyncio.timeout(max_wait):
                await self._event.wait()
        except TimeoutError:
            return False
        self._event.clear()
        return True


class FakeRunReporter:
    """Records what a worker reported; `refuse` lists run ids whose start is refused."""

    confirms_start = True

    def __init__(self) -> None:
        self.started: list[tuple[int, int, str]] = []
        self.finished: list[tuple[int, int, str, RunOutcome]] = []
        self.refuse: set[int] = set()

    async def start(self, run_id: int, attempt: int, worker_id: str) -> bool:
        """Accept unless refused."""
        if run_id in self.refuse:
            return False
        self.started.append((run_id, attempt, worker_id))
        return True

    async def finish(self, run_id: int, attempt: int, worker_id: str, outcome: RunOutcome) -> None:
        """Record the outcome."""
        self.finished.append((run_id, attempt, worker_id, outcome))

    def outcome_of(self, run_id: int) -> RunOutcome | None:
        """The last outcome reported for `run_id`."""
        found = [outcome for rid, _, _, outcome in self.finished if rid == run_id]
        return found[-1] if found else None
