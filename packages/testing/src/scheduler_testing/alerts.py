"""An alert channel that keeps what it is sent, and can be told to refuse or to hang."""

from __future__ import annotations

import asyncio

from scheduler_errors import Unavailable
from scheduler_foundation import AlertNotice


class FakeAlertChannel:
    """The `AlertChannel` port in memory: `sent` holds the `AlertNotice`s it took, in order.

    While `failing` is set each send raises `Unavailable`, while `broken` is set each send raises
    it (a library's own error); while `hanging` is set each send waits until it is cancelled (a
    receiver that never answers); each send takes `delay` seconds first.
    """

    def __init__(self, name: str = "fake", kind: str = "webhook") -> None:
        self.name = name
        self.kind = kind
        self.sent: list[AlertNotice] = []
        self.attempts = 0
        self.failing = False
        self.hanging = False
        self.longest_send_seconds: float | None = None
        self.broken: Exception | None = None
        self.delay = 0.0

    async def send(self, notice: AlertNotice) -> None:
        """Keep `notice`, or refuse it, or never answer (see the class)."""
        self.attempts += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.broken is not None:
            raise self.broken
        if self.hanging:
            await asyncio.Event().wait()
        if self.failing:
            raise Unavailable(f"channel {self.name!r} refused the notification")
        self.sent.append(notice)

    @property
    def states(self) -> list[tuple[str, str]]:
        """`(rule, state)` of each notice taken, in order."""
        return [(notice.rule, notice.state) for notice in self.sent]
