"""Wake-ups between the API and the dispatcher when both run in one process."""

from __future__ import annotations

import asyncio


class LocalWakeup:
    """Both ends of the dispatch wake-up (`DispatchWakeup` and `DispatchWakeupListener`).

    A notification is remembered until a wait consumes it, so one sent while the dispatcher
    is busy makes its next wait return at once. Use it from one event loop (it is not
    thread-safe).
    """

    def __init__(self) -> None:
        self._notified = asyncio.Event()

    def notify(self) -> None:
        """Wake the waiting dispatcher, or the next one to wait; never blocks."""
        self._notified.set()

    async def wait(self, max_wait: float) -> bool:
        """True when notified (now or since the last wait), False after `max_wait` seconds."""
        if not self._notified.is_set():
            try:
                async with asyncio.timeout(max(max_wait, 0)):
                    await self._notified.wait()
            except TimeoutError:
                return False
        self._notified.clear()
        return True
