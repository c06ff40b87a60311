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
    first) goes through `breaker`; while every stream is read to its end, an `XREAD` waits for
    more. What is taken is held in `held` until settled.
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
        closed: Callable[[], bool],
        unless_closed: Callable[[Awaitable[Any]], Awaitable[bool]],
    ) -> None:
        self._streams = streams
        self._held = held
        self._breaker = breaker
        self._clock = clock
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        self._closed = closed
        self._unless_closed = unless_closed

    async def take(self, streams: list[Stream], slots: ConsumerSlots) -> list[Taken]:
        """Entries to hand out; with none, block until a stream grows or a reclaim is due.

        A fetch that read every stream to its end says where the ends were: the next call blocks
        on them first rather than asking again for what is not there yet (a fetch is a script of
        several commands; at a low rate, every message would cost two).

        The wait is an `XREAD`, which takes nothing: a blocking `XREADGROUP` that took the message
        at once was tried and measured (about 0.1 ms less from a publish to a worker's start, within
        this host's noise), and left: its reply can be lost to a cancel, a close or a dropped
        connection after the server assigned the entries (stranded until reclaimed, their delivery
        counted), it ends when a stream is deleted, and it needs a group, so an empty stream, on
        every stream a consumer names.
        """
        if slots.tails is not None:
            tails, slots.tails = slots.tails, None
            await self._wait_for_more(streams, tails, slots)
        fetch = asyncio.ensure_future(self._fetch(streams, slots))
        try:
            taken, tails = await asyncio.shield(fetch)
        except asyncio.CancelledError:
            fetch.add_done_callback(self._held.return_abandoned)  # the consumer left while Redis answered
            raise
        if taken and tails:
            slots.tails = tails
        elif tails:  # none taken; with no tails either, it took entries but gave them back (closing)
            await self._wait_for_more(streams, tails, slots)
        return taken

    async def _wait_for_more(self, streams: list[Stream], tails: list[bytes], slots: ConsumerSlots) -> None:
        """Block until a stream has an entry past its tail, for `block_ms` at most, and not past the
        next look for entries of dead consumers."""
        block_ms = int(min(self._block_ms, (slots.next_claim - time.monotonic()) * 1000))
        if block_ms >= 1:
            # Not through the breaker: it follows a fetch that went through, and a wait of up to
            # `block_ms` would hold a half-open breaker's place for a trial that long.
            await self._unless_closed(self._streams.wait_for_more(streams, tails, block_ms))

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
