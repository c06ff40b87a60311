"""The entries a consumer of the Redis Streams queue holds: taken from Redis, not yet settled."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis.exceptions import RedisError

from scheduler_errors import Unavailable
from scheduler_foundation import Coalescer
from scheduler_infrastructure.redis._errors import translated
from scheduler_infrastructure.redis._streams import GroupStreams
from scheduler_infrastructure.redis.delivery import Taken

logger = logging.getLogger(__name__)


class HeldEntries:
    """What one queue object took from its streams and has not settled, and how it settles them.

    Acks made while one is in flight share the next round trip. Settling never goes through a
    circuit breaker: a refused ack would leave its entry pending, unheld, for another consumer to
    reclaim and deliver again (a run done twice, a report's deliveries used up). Handing entries
    back and refreshing them only log when Redis fails: what is left pending is reclaimed after
    the idle timeout.
    """

    def __init__(self, streams: GroupStreams, *, closed: Callable[[], bool]) -> None:
        self._streams = streams
        self._closed = closed
        self._taken: dict[tuple[str, bytes], Taken] = {}
        self._acks: Coalescer[Taken] = Coalescer(streams.ack_many)
        self._background: set[asyncio.Task[None]] = set()

    def hold(self, fetched: list[Taken]) -> list[Taken]:
        """Hold the entries of a fetch; returns those not held already (an entry reclaimed while
        this object holds it comes back from a fetch: it is not handed out twice)."""
        taken = []
        for entry in fetched:
            if entry.key not in self._taken:
                self._taken[entry.key] = entry
                taken.append(entry)
        return taken

    async def settle(self, taken: Taken, requeue: bool | None) -> None:
        """Ack (`None`), requeue (True) or dead-letter (False) a delivered entry."""
        if taken.settled:
            raise Unavailable("the Redis queue was closed first; the message went back to its stream")
        self._taken.pop(taken.key, None)
        with translated(f"settling a message of {taken.stream.routing_key}"):
            if requeue is None:
                await self._acks.submit(taken)
            else:
                await self._streams.settle(taken, requeue)

    async def settle_quietly(self, taken: Taken, *, requeue: bool | None) -> None:
        """Settle an entry never handed out; if Redis fails, it is reclaimed later."""
        self._taken.pop(taken.key, None)
        try:
            await self._streams.settle(taken, requeue)
        except (RedisError, OSError) as exc:
            logger.warning("could not settle a message of %s: %s", taken.stream.routing_key, exc)

    async def give_back(self, entries: list[Taken], *, counted: bool) -> None:
        """Return entries to their streams as new entries; `counted` only counts handed-out ones."""
        for taken in entries:
            if taken.settled:
                continue
            self._taken.pop(taken.key, None)
            deliveries = taken.deliveries if counted and taken.handed_out else taken.deliveries - 1
            try:
                await self._streams.settle(taken, requeue=True, deliveries=deliveries)
            except (RedisError, OSError) as exc:  # left pending: reclaimed after the idle timeout
                logger.warning("could not hand back a message of %s: %s", taken.stream.routing_key, exc)

    def return_abandoned(self, fetch: asyncio.Future[tuple[list[Taken], list[bytes]]]) -> None:
        """Give back what a fetch took for a consumer that left while Redis answered."""
        if not fetch.cancelled() and fetch.exception() is None:
            self.give_back_soon(fetch.result()[0])

    def give_back_soon(self, entries: list[Taken]) -> None:
        """Give back entries never handed out, from code that cannot await."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop runs: `close` hands them back, or the idle timeout does
            return
        if not self._closed():
            task = loop.create_task(self.give_back(entries, counted=False))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def refresh(self) -> None:
        """Reset the idle time of every entry held, so no one reclaims work in progress."""
        try:
            await self._streams.refresh(list(self._taken.values()))
        except (RedisError, OSError) as exc:
            logger.debug("could not refresh held messages: %s", exc)

    async def close(self) -> None:
        """Send the acks waiting, hand back every entry still held (its delivery counted if it
        was handed out), and end the hand-backs under way."""
        await self._acks.drain()
        await self.give_back(list(self._taken.values()), counted=True)
        background = list(self._background)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
