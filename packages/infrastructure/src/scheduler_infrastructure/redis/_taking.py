"""Taking entries from a consumer's streams: fetches, blocking reads, and the deliveries made."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from scheduler_domain import decode_message
from scheduler_foundation import Clock
from scheduler_infrastructure.breaker import CircuitBreaker
from scheduler_infrastructure.redis._errors import is_outage
from scheduler_infrastructure.redis._held import HeldEntries
from scheduler_infrastructure.redis._layout import Stream
from scheduler_infrastructure.redis._streams import GroupStreams
from scheduler_infrastructure.redis.delivery import ConsumerSlots, RedisDelivery, Taken

logger = logging.getLogger(__name__)


class EntryTaker:
    """What one queue object's consumers take from Redis, and how.

    A fetch (one script: reclaim idle entries of dead consumers, read new ones, best stream
    first) goes through `breaker`; while every stream is read to its end, a blocking read waits
    for more and takes it. What is taken is held in `held` until settled.
    """

    def __init__(
        self,
        *,
        streams: GroupStreams,
        held: HeldEntries,
        breaker: CircuitBreaker,
        clock: Clock,
        block_ms: int,
        claim_idle_ms: int,
        max_deliveries: int,
        closed: Callable[[], bool],
        unless_closed: Callable[[Awaitable[Any]], Awaitable[bool]],
    ) -> None:
        self._streams = streams
        self._held = held
        self._breaker = breaker
        self._clock = clock
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        self._max_deliveries = max_deliveries
        self._closed = closed
        self._unless_closed = unless_closed

    async def take(self, streams: list[Stream], slots: ConsumerSlots) -> list[Taken]:
        """Entries to hand out; with none, block until a stream grows or a reclaim is due.

        A fetch that read every stream to its end says where the ends were: the next call blocks
        first rather than asking again for what is not there yet, in a read that takes what
        arrives (a message published to a waiting consumer reaches it in one round trip). The
        fetch after it, a script of several commands, then looks for more and for entries of
        dead consumers.
        """
        if slots.tails is not None:
            tails, slots.tails = slots.tails, None
            arrived = await self._wait_for_more(streams, tails, slots)
            if arrived:
                return arrived
        fetch = asyncio.ensure_future(self._fetch(streams, slots))
        try:
            taken, tails = await asyncio.shield(fetch)
        except asyncio.CancelledError:
            fetch.add_done_callback(self._held.return_abandoned)  # the consumer left while Redis answered
            raise
        if taken and tails:
            slots.tails = tails
        elif tails:  # none taken; with no tails either, it took entries but gave them back (closing)
            return await self._wait_for_more(streams, tails, slots)
        return taken

    async def _wait_for_more(
        self, streams: list[Stream], tails: list[bytes], slots: ConsumerSlots
    ) -> list[Taken]:
        """Block until a stream has an entry past its tail, for `block_ms` at most, and not past the
        next look for entries of dead consumers; returns what arrived, taken on the way.

        Not through the breaker: it follows a fetch that went through, and a wait of up to
        `block_ms` would hold a half-open breaker's place for a trial that long.
        """
        block_ms = int(min(self._block_ms, (slots.next_claim - time.monotonic()) * 1000))
        if block_ms < 1:
            return []
        read = asyncio.ensure_future(self._read_new(streams, tails, slots, block_ms))
        try:
            if await self._unless_closed(asyncio.shield(read)):
                return read.result()[0]
        except asyncio.CancelledError:
            read.add_done_callback(self._held.return_abandoned)  # the consumer left while it waited
            raise
        read.add_done_callback(self._held.return_abandoned)  # closing
        return []

    async def _read_new(
        self, streams: list[Stream], tails: list[bytes], slots: ConsumerSlots, block_ms: int
    ) -> tuple[list[Taken], list[bytes]]:
        """One blocking read of new entries (held, those past `max_deliveries` dead-lettered, any
        beyond the free prefetch given back); where a stream lacks the group, the groups are made
        first (an empty stream where there is none)."""
        arrived = await self._streams.read_new(streams, count=slots.free, block_ms=block_ms)
        if arrived is None:  # a stream never used yet, or a restarted server that lost its group
            await self._streams.ensure_groups(streams)
            arrived = await self._streams.read_new(streams, count=slots.free, block_ms=block_ms)
        if arrived is None:  # lost again at once: wait as a reader; the fetch after recreates it
            await self._streams.wait_for_more(streams, tails, block_ms)
            return [], []
        taken = self._held.hold(arrived)
        spent = [entry for entry in taken if entry.deliveries > self._max_deliveries]
        for entry in spent:
            await self._held.settle_quietly(entry, requeue=False)
        taken = [entry for entry in taken if entry not in spent]
        if self._closed() or len(taken) > slots.free:  # several streams answered at once
            keep = 0 if self._closed() else slots.free
            await self._held.give_back(taken[keep:], counted=False)
            taken = taken[:keep]
        return taken, []

    async def _fetch(self, streams: list[Stream], slots: ConsumerSlots) -> tuple[list[Taken], list[bytes]]:
        now = time.monotonic()
        reclaim = now >= slots.next_claim
        if reclaim:
            slots.next_claim = now + self._claim_idle_ms / 2000
        with self._breaker.guard(is_outage):
            fetched, tails = await self._streams.fetch(streams, want=slots.free, reclaim=reclaim)
        taken = self._held.hold(fetched)
        if self._closed():
            await self._held.give_back(taken, counted=False)
            return [], tails
        return taken, tails

    async def admit(self, taken: Taken, slots: ConsumerSlots) -> RedisDelivery | None:
        """The delivery to hand out, or None when the message is dropped or dead-lettered here."""
        if taken.settled:
            return None
        try:
            message = decode_message(taken.data)
        except msgspec.DecodeError:
            logger.warning("dead-lettering an undecodable message from %s", taken.stream.routing_key)
            await self._held.settle_quietly(taken, requeue=False)
            return None
        if message.expired(self._clock.now()):
            await self._held.settle_quietly(taken, requeue=None)
            return None
        taken.handed_out = True
        slots.take()
        return RedisDelivery(taken=taken, message=message, slots=slots, settle=self._held.settle)
