"""What a consumer of the Redis Streams queue holds: taken entries and the deliveries made of them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from scheduler_domain import Message
from scheduler_infrastructure.redis._layout import Stream


class Taken:
    """A stream entry this queue object read or reclaimed, pending to it until settled."""

    __slots__ = ("data", "deliveries", "entry_id", "handed_out", "settled", "stream")

    def __init__(self, stream: Stream, entry_id: bytes, data: bytes, deliveries: int) -> None:
        self.stream = stream
        self.entry_id = entry_id
        self.data = data
        self.deliveries = deliveries  # counting this one
        self.handed_out = False
        self.settled = False

    @property
    def key(self) -> tuple[str, bytes]:
        """Identifies the entry across the streams of a namespace."""
        return (self.stream.name, self.entry_id)


class ConsumerSlots:
    """One `consume` call's prefetch (how many deliveries it holds unsettled), when it next
    looks for entries of dead consumers, and where the streams ended at its last fetch if it read
    them all."""

    def __init__(self, prefetch: int) -> None:
        self.prefetch = prefetch
        self.in_flight = 0
        self._freed = asyncio.Event()
        self.next_claim = 0.0  # monotonic time of the next look for entries of dead consumers
        self.tails: list[bytes] | None = None  # where the streams ended when a fetch read them all

    @property
    def free(self) -> int:
        """How many more deliveries it may take."""
        return self.prefetch - self.in_flight

    def take(self) -> None:
        """One more delivery handed out."""
        self.in_flight += 1
        self._freed.clear()

    def release(self) -> None:
        """One delivery settled."""
        self.in_flight -= 1
        self._freed.set()

    async def freed(self) -> None:
        """Return once a delivery was settled since the last `take`."""
        await self._freed.wait()


#: Settles a taken entry: `None` acks it, True requeues it, False dead-letters it.
Settle = Callable[[Taken, "bool | None"], Awaitable[None]]


class RedisDelivery:
    """One message handed to one consumer; ack or nack it exactly once."""

    def __init__(self, *, taken: Taken, message: Message, slots: ConsumerSlots, settle: Settle) -> None:
        self._taken = taken
        self._message = message
        self._slots = slots
        self._settle = settle
        self._done = False

    @property
    def message(self) -> Message:
        """The decoded message."""
        return self._message

    @property
    def routing_key(self) -> str:
        """The queue it came from."""
        return self._taken.stream.routing_key

    @property
    def delivery_count(self) -> int:
        """How many times the message has been handed out, this delivery included."""
        return self._taken.deliveries

    async def ack(self) -> None:
        """Done with it: the entry is acknowledged and deleted from its stream."""
        await self._finish(None)

    async def nack(self, *, requeue: bool) -> None:
        """Give the message back (`requeue`; dead-lettered after `max_deliveries`), or dead-letter it."""
        await self._finish(requeue)

    async def _finish(self, requeue: bool | None) -> None:
        if self._done:
            raise RuntimeError(f"message {self._message.id} was already acked or nacked")
        self._done = True
        try:
            await self._settle(self._taken, requeue)
        finally:
            self._slots.release()
