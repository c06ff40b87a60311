"""The in-process message queue of `scheduler standalone`: one process, no broker."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Sequence

import msgspec

from scheduler_domain import Message, decode_message, encode_message
from scheduler_errors import InvalidInput, Unavailable
from scheduler_foundation import Clock, SystemClock

DEAD_LETTER_PREFIX = "dead_letter."


class _Entry:
    """A message as the queue holds it: bytes, like a broker would."""

    __slots__ = ("data", "deliveries", "priority", "routing_key", "sequence")

    def __init__(self, routing_key: str, data: bytes, priority: int, sequence: int) -> None:
        self.routing_key = routing_key
        self.data = data
        self.priority = priority
        self.sequence = sequence
        self.deliveries = 0


class _Consumer:
    """One `consume` call: the keys it reads and how many deliveries it holds unsettled."""

    def __init__(self, routing_keys: tuple[str, ...], prefetch: int) -> None:
        self.routing_keys = routing_keys
        self.prefetch = prefetch
        self.in_flight = 0


class InMemoryDelivery:
    """One message handed to one consumer; ack or nack it exactly once."""

    def __init__(
        self, *, queue: InMemoryMessageQueue, consumer: _Consumer, entry: _Entry, message: Message
    ) -> None:
        self._queue = queue
        self._consumer = consumer
        self._entry = entry
        self._message = message
        self._delivery_count = entry.deliveries
        self._settled = False

    @property
    def message(self) -> Message:
        """The decoded message."""
        return self._message

    @property
    def routing_key(self) -> str:
        """The queue it came from."""
        return self._entry.routing_key

    @property
    def delivery_count(self) -> int:
        """How many times the message had been handed out when this delivery was made."""
        return self._delivery_count

    async def ack(self) -> None:
        """Done with it: the queue forgets the message."""
        await self._queue._settle(self._claim(), self._consumer, requeue=None)

    async def nack(self, *, requeue: bool) -> None:
        """Give the message back (`requeue`), or dead-letter it."""
        await self._queue._settle(self._claim(), self._consumer, requeue=requeue)

    def _claim(self) -> _Entry:
        if self._settled:
            raise RuntimeError(f"message {self._message.id} was already acked or nacked")
        self._settled = True
        return self._entry

    def __del__(self) -> None:
        # Nothing references an unsettled delivery any more: its consumer is gone (its task was
        # cancelled or crashed), as a broker sees a consumer's connection drop. Give it back.
        if not self._settled:
            self._settled = True
            self._queue._abandoned(self._entry, self._consumer)


class _Deliveries:
    """The async iterator `consume` returns; it ends when the queue closes."""

    def __init__(self, queue: InMemoryMessageQueue, consumer: _Consumer) -> None:
        self._queue = queue
        self._consumer = consumer

    def __aiter__(self) -> _Deliveries:
        return self

    async def __anext__(self) -> InMemoryDelivery:
        delivery = await self._queue._next(self._consumer)
        if delivery is None:
            raise StopAsyncIteration
        return delivery


class InMemoryMessageQueue:
    """The `MessageQueue` port inside one process.

    Each routing key is a queue served highest priority first, then first in first out, to
    competing consumers (each message goes to exactly one). Messages travel encoded, so what
    a broker could not carry fails here too. A message nacked without `requeue`, or nacked
    with it after its `max_deliveries`-th delivery, moves to `dead_letter.<key>`; expired
    messages are dropped instead of delivered. A delivery dropped unsettled (its consumer's task
    died) is requeued like a nack, as a broker redelivers what a lost connection held.
    """

    def __init__(self, *, max_deliveries: int = 5, clock: Clock | None = None) -> None:
        if max_deliveries < 1:
            raise InvalidInput.for_field("max_deliveries", "must be at least 1")
        self._max_deliveries = max_deliveries
        self._clock = clock or SystemClock()
        self._queues: dict[str, list[tuple[int, int, _Entry]]] = {}
        self._sequence = itertools.count()
        self._changed = asyncio.Condition()
        self._closed = False
        self._returning: set[asyncio.Task[None]] = set()

    async def publish(self, routing_key: str, message: Message, *, priority: int = 0) -> None:
        """Queue `message` under `routing_key`; `InvalidInput` if it cannot be encoded."""
        try:
            data = encode_message(message)
        except (TypeError, msgspec.EncodeError) as exc:
            raise InvalidInput.for_field("payload", f"cannot be encoded for the queue: {exc}") from exc
        async with self._changed:
            if self._closed:
                raise Unavailable("the in-process queue is closed")
            self._push(_Entry(routing_key, data, priority, next(self._sequence)))
            self._changed.notify_all()

    def consume(self, routing_keys: Sequence[str], *, prefetch: int) -> AsyncIterator[InMemoryDelivery]:
        """Deliveries from the named queues, at most `prefetch` unsettled at a time."""
        if prefetch < 1:
            raise InvalidInput.for_field("prefetch", "must be at least 1")
        return _Deliveries(self, _Consumer(tuple(routing_keys), prefetch))

    def depth(self, routing_key: str) -> int:
        """How many messages wait under `routing_key`.

        Delivered, unsettled messages are not counted; expired ones are, until a consumer
        comes across them and drops them.
        """
        return len(self._queues.get(routing_key, ()))

    async def ping(self) -> bool:
        """True until the queue is closed."""
        return not self._closed

    async def close(self) -> None:
        """End every consumer's iterator; unsettled messages may still be acked or nacked."""
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    async def _next(self, consumer: _Consumer) -> InMemoryDelivery | None:
        async with self._changed:
            while not self._closed:
                if consumer.in_flight < consumer.prefetch:
                    delivery = self._take(consumer)
                    if delivery is not None:
                        return delivery
                await self._changed.wait()
        return None

    def _take(self, consumer: _Consumer) -> InMemoryDelivery | None:
        now = self._clock.now()
        while (entry := self._pop_best(consumer.routing_keys)) is not None:
            message = decode_message(entry.data)
            if message.expired(now):
                continue
            entry.deliveries += 1
            consumer.in_flight += 1
            return InMemoryDelivery(queue=self, consumer=consumer, entry=entry, message=message)
        return None

    def _pop_best(self, routing_keys: tuple[str, ...]) -> _Entry | None:
        heads = [(heap[0], key) for key in routing_keys if (heap := self._queues.get(key))]
        if not heads:
            return None
        _, key = min(heads, key=lambda head: head[0][:2])
        return heapq.heappop(self._queues[key])[2]

    def _push(self, entry: _Entry) -> None:
        heap = self._queues.setdefault(entry.routing_key, [])
        heapq.heappush(heap, (-entry.priority, entry.sequence, entry))

    async def _settle(self, entry: _Entry, consumer: _Consumer, *, requeue: bool | None) -> None:
        async with self._changed:
            consumer.in_flight -= 1
            if requeue and entry.deliveries < self._max_deliveries:
                self._push(entry)  # keeps its sequence, so it goes back to the head of its priority
            elif requeue is not None:
                self._dead_letter(entry)
            self._changed.notify_all()

    def _abandoned(self, entry: _Entry, consumer: _Consumer) -> None:
        """Requeue (or dead-letter, past `max_deliveries`) a delivery dropped unsettled."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop runs: nothing is left to deliver it to
            return
        returning = loop.create_task(self._settle(entry, consumer, requeue=True))
        self._returning.add(returning)
        returning.add_done_callback(self._returning.discard)

    def _dead_letter(self, entry: _Entry) -> None:
        if entry.routing_key.startswith(DEAD_LETTER_PREFIX):
            return  # a dead letter refused again is dropped rather than nested
        key = DEAD_LETTER_PREFIX + entry.routing_key
        self._push(_Entry(key, entry.data, entry.priority, next(self._sequence)))
