"""The message-queue port: how the dispatcher hands runs to workers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from scheduler_domain import Message


class Delivery(Protocol):
    """One message handed to a consumer; it must be acked or nacked exactly once."""

    @property
    def message(self) -> Message:
        """The decoded message."""
        ...

    @property
    def routing_key(self) -> str:
        """The queue it came from."""
        ...

    @property
    def delivery_count(self) -> int:
        """How many times this message has been handed out, this time included (1 at first)."""
        ...

    async def ack(self) -> None:
        """Done with it: the queue forgets the message."""
        ...

    async def nack(self, *, requeue: bool) -> None:
        """Not done: give it back to the queue (`requeue`) or drop / dead-letter it."""
        ...


class MessageQueue(Protocol):
    """Routes messages by key to competing consumers, highest priority first."""

    async def publish(self, routing_key: str, message: Message, *, priority: int = 0) -> None:
        """Send `message` to the queue `routing_key`; returns once the broker holds it."""
        ...

    def consume(self, routing_keys: Sequence[str], *, prefetch: int) -> AsyncIterator[Delivery]:
        """Deliveries from the named queues, at most `prefetch` unacked at a time.

        The iterator ends when the queue is closed.
        """
        ...

    async def ping(self) -> bool:
        """True when the broker answers (for readiness)."""
        ...

    async def close(self) -> None:
        """Stop every consumer and release connections; unacked messages stay queued."""
        ...
