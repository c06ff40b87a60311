"""An in-memory fake of the message-queue port that records what was published."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from scheduler_domain import Message


class FakeDelivery:
    """A delivery whose ack or nack the fake records."""

    def __init__(self, queue: FakeMessageQueue, routing_key: str, message: Message, priority: int) -> None:
        self._queue = queue
        self.routing_key = routing_key
        self.message = message
        self.priority = priority
        self.delivery_count = 1
        self.settled: str | None = None

    async def ack(self) -> None:
        """Forget the message."""
        self.settled = "ack"

    async def nack(self, *, requeue: bool) -> None:
        """Give the message back, or drop it."""
        self.settled = "requeue" if requeue else "drop"
        if requeue:
            await self._queue.publish(self.routing_key, self.message, priority=self.priority)


class FakeMessageQueue:
    """Messages in per-key lists; `published` keeps every publish in order."""

    def __init__(self) -> None:
        self.published: list[tuple[str, Message, int]] = []
        self._waiting: dict[str, list[tuple[int, Message]]] = {}
        self._changed = asyncio.Event()
        self.closed = False
        self.fail_publish: Exception | None = None

    async def publish(self, routing_key: str, message: Message, *, priority: int = 0) -> None:
        """Record and enqueue the message (or raise `fail_publish` when set)."""
        if self.fail_publish is not None:
            raise self.fail_publish
        self.published.append((routing_key, message, priority))
        self._waiting.setdefault(routing_key, []).append((priority, message))
        self._changed.set()

    def messages(self, routing_key: str) -> list[Message]:
        """Everything published to `routing_key`, in order."""
        return [message for key, message, _ in self.published if key == routing_key]

    async def consume(self, routing_keys: Sequence[str], *, prefetch: int) -> AsyncIterator[FakeDelivery]:
        """Deliveries from the named keys, highest priority first, until closed."""
        while not self.closed:
            delivery = self._take(routing_keys)
            if delivery is not None:
                yield delivery
                continue
            self._changed.clear()
            await self._changed.wait()

    def _take(self, routing_keys: Sequence[str]) -> FakeDelivery | None:
        best: tuple[int, str] | None = None
        for key in routing_keys:
            for priority, _ in self._waiting.get(key, []):
                if best is None or priority > best[0]:
                    best = (priority, key)
        if best is None:
            return None
        entries = self._waiting[best[1]]
        index = next(i for i, (p, _) in enumerate(entries) if p == best[0])
        priority, message = entries.pop(index)
        return FakeDelivery(self, best[1], message, priority)

    async def ping(self) -> bool:
        """Always up unless closed."""
        return not self.closed

    async def close(self) -> None:
        """Stop consumers."""
        self.closed = True
        self._changed.set()
