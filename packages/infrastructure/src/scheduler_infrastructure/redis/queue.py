"""The message-queue port on Redis Streams: consumer groups, reclaiming, priorities by stream."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from scheduler_domain import Message, encode_message
from scheduler_errors import InvalidInput, Unavailable
from scheduler_foundation import Clock, Coalescer, SystemClock
from scheduler_infrastructure.breaker import CircuitBreaker, CircuitOpen
from scheduler_infrastructure.redis._errors import TRANSIENT, is_outage, redacted, translated
from scheduler_infrastructure.redis._held import HeldEntries
from scheduler_infrastructure.redis._layout import Stream, StreamLayout
from scheduler_infrastructure.redis._streams import GroupStreams
from scheduler_infrastructure.redis._taking import EntryTaker
from scheduler_infrastructure.redis.delivery import ConsumerSlots, RedisDelivery, Taken

logger = logging.getLogger(__name__)

_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 2.0


class RedisStreamsQueue:
    """The `MessageQueue` port on Redis Streams.

    Each routing key has one stream per priority level (see `StreamLayout`), read through one
    consumer group by competing consumers. Every fetch is one Lua script that walks the streams
    of the consumed keys highest level first, reclaims entries left pending by a dead consumer
    (idle for `claim_idle_ms`, counted by their `times_delivered`), then reads new ones, never
    taking more than the consumer's free prefetch. With nothing to take, the consumer blocks in
    `XREAD` on the streams' last ids for up to `block_ms`, so it wakes as soon as one grows.

    An ack deletes the entry (so a stream holds only live messages and `max_stream_length`
    bounds the backlog: `publish` raises `Unavailable` when a stream is full). A requeue adds a
    new entry carrying the delivery count; after `max_deliveries` a message moves to
    `dead_letter.<key>` instead. Expired messages are acked and dropped when taken. Entries a
    consumer holds are kept from looking idle (`XCLAIM ... JUSTID`) however long it works on them.
    When the server goes away, consumers back off and retry; groups a restarted server lost are
    recreated. `close` hands unsettled messages back to their streams.

    Publishes, fetches, `depth` and `ping` go through `breaker`: once Redis failed enough of them
    in a row (a refused or lost connection, a timeout), they fail at once with `CircuitOpen` until
    a trial call succeeds; a consumer then waits instead of asking. Acks and requeues are not
    guarded (a refused ack would leave its entry to be delivered again), nor are handing messages
    back and keeping them held (they only log).
    """

    def __init__(
        self,
        *,
        client: Redis,
        group: str = "scheduler",
        consumer: str | None = None,
        namespace: str = "",
        priority_levels: int = 4,
        max_stream_length: int = 100_000,
        claim_idle_ms: int = 30_000,
        max_deliveries: int = 5,
        block_ms: int = 1_000,
        clock: Clock | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        """Use `connect` unless the client is built elsewhere; `consumer` names this process in the
        group (default: host, pid and a random suffix, so each process is its own consumer).
        Without a `breaker`, every call goes to Redis."""
        _check_options(priority_levels, max_stream_length, claim_idle_ms, max_deliveries, block_ms)
        self._streams = GroupStreams(
            client=client,
            group=group,
            consumer=consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}",
            max_stream_length=max_stream_length,
            claim_idle_ms=claim_idle_ms,
            max_deliveries=max_deliveries,
        )
        self._layout = StreamLayout(namespace=namespace, levels=priority_levels)
        self._claim_idle_ms = claim_idle_ms
        self._clock = clock or SystemClock()
        self._breaker = breaker or CircuitBreaker("redis", failure_threshold=0)
        # Publishes made while one is in flight share the next round trip.
        self._publishes: Coalescer[tuple[Stream, bytes]] = Coalescer(self._streams.add_many)
        self._closed = asyncio.Event()
        self._held = HeldEntries(self._streams, closed=self._closed.is_set)
        self._taker = EntryTaker(
            streams=self._streams,
            held=self._held,
            breaker=self._breaker,
            clock=self._clock,
            block_ms=block_ms,
            claim_idle_ms=claim_idle_ms,
            closed=self._closed.is_set,
            unless_closed=self._unless_closed,
        )
        self._keepalive: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        group: str = "scheduler",
        consumer: str | None = None,
        namespace: str = "",
        priority_levels: int = 4,
        max_stream_length: int = 100_000,
        claim_idle_ms: int = 30_000,
        max_deliveries: int = 5,
        block_ms: int = 1_000,
        clock: Clock | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> RedisStreamsQueue:
        """A queue on the Redis server at `url`; `Unavailable` if it does not answer."""
        client = Redis.from_url(
            url,
            socket_connect_timeout=5.0,
            socket_timeout=block_ms / 1000 + 10.0,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        )
        queue = cls(
            client=client,
            group=group,
            consumer=consumer,
            namespace=namespace,
            priority_levels=priority_levels,
            max_stream_length=max_stream_length,
            claim_idle_ms=claim_idle_ms,
            max_deliveries=max_deliveries,
            block_ms=block_ms,
            clock=clock,
            breaker=breaker,
        )
        try:
            with translated(f"connecting to {redacted(url)}"):
                await client.ping()
        except Unavailable:
            await client.aclose()
            raise
        return queue

    @property
    def consumer_name(self) -> str:
        """This queue object's name in the consumer group."""
        return self._streams.consumer

    @property
    def closed(self) -> bool:
        """True once `close` was called."""
        return self._closed.is_set()

    async def publish(self, routing_key: str, message: Message, *, priority: int = 0) -> None:
        """Add `message` to the stream of `routing_key` at `priority`'s level.

        `InvalidInput` if it cannot be encoded; `Unavailable` if Redis does not answer, the queue
        is closed, or the stream already holds `max_stream_length` entries.
        """
        try:
            data = encode_message(message)
        except (TypeError, msgspec.EncodeError) as exc:
            raise InvalidInput.for_field("payload", f"cannot be encoded for the queue: {exc}") from exc
        if self.closed:
            raise Unavailable("the Redis queue is closed")
        with translated(f"publishing to {routing_key}"), self._breaker.guard(is_outage):
            await self._publishes.submit(
                (self._layout.stream(routing_key, self._layout.level(priority)), data)
            )

    def consume(self, routing_keys: Sequence[str], *, prefetch: int) -> AsyncIterator[RedisDelivery]:
        """Deliveries from the named queues, at most `prefetch` unsettled at a time.

        The iterator ends when the queue is closed (or its `aclose` is called); it raises
        `Unavailable` on an error that retrying cannot cure (a lost connection is retried, not
        raised). A cancelled `anext` leaves it usable.
        """
        if prefetch < 1:
            raise InvalidInput.for_field("prefetch", "must be at least 1")
        if not routing_keys:
            raise InvalidInput.for_field("routing_keys", "must name at least one queue")
        return _Deliveries(self, self._layout.streams(routing_keys), ConsumerSlots(prefetch))

    async def depth(self, routing_key: str) -> int:
        """How many messages of `routing_key` wait undelivered (expired ones included)."""
        with translated(f"measuring {routing_key}"), self._breaker.guard(is_outage):
            return await self._streams.undelivered(self._layout.streams([routing_key]))

    async def ping(self) -> bool:
        """True when Redis answers and the queue is open."""
        if self.closed:
            return False
        try:
            with self._breaker.guard(is_outage):
                return bool(await self._streams.client.ping())
        except (RedisError, OSError, Unavailable):
            return False

    async def close(self) -> None:
        """End every consumer's iterator, hand unsettled messages back, close the connections.

        A message handed out but not settled goes back to its stream (its delivery counted);
        settling it afterwards raises `Unavailable`.
        """
        if self.closed:
            return
        self._closed.set()
        await self._publishes.drain()
        await self._held.close()
        if self._keepalive is not None:
            self._keepalive.cancel()
            await asyncio.gather(self._keepalive, return_exceptions=True)
        await self._streams.client.aclose()

    # ------------------------------------------------------------------ housekeeping

    def _start_keepalive(self) -> None:
        if self._keepalive is None and not self.closed:
            self._keepalive = asyncio.create_task(self._keep_alive(), name="redis-queue-keepalive")

    async def _keep_alive(self) -> None:
        """Reset the idle time of every entry held here, so no one reclaims work in progress."""
        while await self._unless_closed(asyncio.sleep(self._claim_idle_ms / 3000)):
            await self._held.refresh()

    async def _wait_out(self, refusal: CircuitOpen) -> None:
        """Pause a consumer while the breaker refuses calls: until a trial may go through, waking at
        least every `_MAX_BACKOFF` seconds (another consumer's trial may close it sooner)."""
        pause = min(max(refusal.retry_after or 0.0, _FIRST_BACKOFF), _MAX_BACKOFF)
        await self._unless_closed(asyncio.sleep(pause))

    async def _back_off(self, exc: BaseException, delay: float) -> float:
        if delay == _FIRST_BACKOFF:
            logger.warning("Redis does not answer (%s); retrying", exc)
        await self._unless_closed(asyncio.sleep(delay))
        return min(delay * 2, _MAX_BACKOFF)

    async def _unless_closed(self, awaitable: Awaitable[Any]) -> bool:
        """Await `awaitable` unless the queue closes first (then cancel it); False if it closed."""
        work = asyncio.ensure_future(awaitable)
        closing = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({work, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            if not work.done():
                work.cancel()
                await asyncio.wait({work})
        if work.cancelled():
            return False
        work.result()
        return True


class _Deliveries:
    """What `consume` returns: hands out what `_take` fetched, one at a time."""

    def __init__(self, queue: RedisStreamsQueue, streams: list[Stream], slots: ConsumerSlots) -> None:
        self._queue = queue
        self._streams = streams
        self._slots = slots
        self._waiting: deque[Taken] = deque()  # taken from Redis, not yet handed out
        self._backoff = _FIRST_BACKOFF
        self._closed = False

    def __aiter__(self) -> _Deliveries:
        return self

    async def __anext__(self) -> RedisDelivery:
        queue = self._queue
        queue._start_keepalive()
        while not (self._closed or queue.closed):
            if self._waiting:
                delivery = await queue._taker.admit(self._waiting.popleft(), self._slots)
                if delivery is not None:
                    return delivery
            elif self._slots.free <= 0:
                await queue._unless_closed(self._slots.freed())
            else:
                await self._fill()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop consuming: what was taken but not handed out goes back to its stream."""
        self._closed = True
        returning, self._waiting = list(self._waiting), deque()
        await self._queue._held.give_back(returning, counted=False)

    def __del__(self) -> None:
        # Dropped without `aclose` (as a consumer task that ends does): give back what it took.
        if self._waiting:
            self._queue._held.give_back_soon(list(self._waiting))

    async def _fill(self) -> None:
        try:
            taken = await self._queue._taker.take(self._streams, self._slots)
        except CircuitOpen as exc:
            await self._queue._wait_out(exc)
            return
        except TRANSIENT as exc:
            self._backoff = await self._queue._back_off(exc, self._backoff)
            return
        except RedisError as exc:
            raise Unavailable(f"Redis refused to deliver messages: {exc}") from exc
        if self._backoff > _FIRST_BACKOFF:
            logger.info("Redis answers again; consuming resumes")
            self._backoff = _FIRST_BACKOFF
        self._waiting.extend(taken)


def _check_options(
    priority_levels: int, max_stream_length: int, claim_idle_ms: int, max_deliveries: int, block_ms: int
) -> None:
    for name, value in (
        ("priority_levels", priority_levels),
        ("max_stream_length", max_stream_length),
        ("claim_idle_ms", claim_idle_ms),
        ("max_deliveries", max_deliveries),
        ("block_ms", block_ms),
    ):
        if value < 1:
            raise InvalidInput.for_field(name, "must be at least 1")
