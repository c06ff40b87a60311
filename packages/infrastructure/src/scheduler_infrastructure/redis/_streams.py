"""The server side of the Redis Streams queue: its scripts and commands, for one consumer of one group."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError
from redis.typing import KeyT, StreamIdT

from scheduler_errors import Unavailable
from scheduler_infrastructure.redis._layout import Stream
from scheduler_infrastructure.redis._scripts import FETCH, PUBLISH, SETTLE
from scheduler_infrastructure.redis.delivery import Taken


class GroupStreams:
    """Adds, fetches, settles and refreshes entries on behalf of consumer `consumer` of `group`."""

    def __init__(
        self,
        *,
        client: Redis,
        group: str,
        consumer: str,
        max_stream_length: int,
        claim_idle_ms: int,
        max_deliveries: int,
    ) -> None:
        self.client = client
        self.group = group
        self.consumer = consumer
        self._max_stream_length = max_stream_length
        self._claim_idle_ms = claim_idle_ms
        self._max_deliveries = max_deliveries
        self._publish = client.register_script(PUBLISH)
        self._fetch = client.register_script(FETCH)
        self._settle = client.register_script(SETTLE)

    async def add_many(self, entries: Sequence[tuple[Stream, bytes]]) -> list[BaseException | None]:
        """Append messages in one round trip; per message, None or why it was refused
        (`Unavailable` when its stream already holds `max_stream_length`)."""
        replies = await self._publish_all(entries)
        if any(isinstance(reply, NoScriptError) for reply in replies):
            # A restarted server forgot the script: load it, send again what it refused.
            await self.client.script_load(PUBLISH)
            again = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            for index, reply in zip(again, await self._publish_all([entries[i] for i in again]), strict=True):
                replies[index] = reply
        return [
            self._refusal(stream, reply) if isinstance(reply, Exception) else None
            for (stream, _), reply in zip(entries, replies, strict=True)
        ]

    async def _publish_all(self, entries: Sequence[tuple[Stream, bytes]]) -> list[Any]:
        # EVALSHA by hand: a pipeline given the script object asks `SCRIPT EXISTS` first, one
        # more round trip on every publish.
        async with self.client.pipeline(transaction=False) as pipe:
            for stream, data in entries:
                pipe.evalsha(self._publish.sha, 1, stream.name, self._max_stream_length, data, 0)
            return list(await pipe.execute(raise_on_error=False))

    def _refusal(self, stream: Stream, error: Exception) -> BaseException:
        if isinstance(error, ResponseError) and str(error).startswith("FULL"):
            return Unavailable(
                f"the queue {stream.routing_key} is full: {self._max_stream_length} messages wait at "
                f"priority level {stream.level}"
            )
        return error

    async def fetch(
        self, streams: Sequence[Stream], *, want: int, reclaim: bool
    ) -> tuple[list[Taken], list[bytes]]:
        """Up to `want` entries, best stream first (reclaiming idle ones of dead consumers if
        `reclaim`); with fewer than `want` (every stream read to its end), the streams' last ids
        to wait on, else no ids."""
        keys = [name for stream in streams for name in (stream.name, stream.dead_letters or stream.name)]
        rows, tails = await self._fetch(
            keys=keys,
            args=[
                self.group,
                self.consumer,
                want,
                self._claim_idle_ms if reclaim else -1,
                self._max_deliveries,
                self._max_stream_length,
            ],
        )
        taken = [Taken(streams[int(index) - 1], entry_id, data, int(n)) for index, entry_id, data, n in rows]
        return taken, list(tails)

    async def wait_for_more(self, streams: Sequence[Stream], tails: Sequence[bytes], block_ms: int) -> None:
        """Return once a stream has an entry past its tail, or after `block_ms`."""
        watched: dict[KeyT, StreamIdT] = {
            stream.name: tail for stream, tail in zip(streams, tails, strict=True)
        }
        await self.client.xread(watched, count=1, block=block_ms)

    async def settle(self, taken: Taken, requeue: bool | None, *, deliveries: int | None = None) -> None:
        """Ack (`None`), requeue (True) or dead-letter (False) an entry, as one script.

        A requeue past `max_deliveries` dead-letters; `deliveries` overrides the count carried.
        """
        taken.settled = True
        stream = taken.stream
        count = taken.deliveries if deliveries is None else deliveries
        action, target, max_length = "move", stream.name, 0
        if requeue is None:
            action = "ack"
        elif not requeue or count >= self._max_deliveries:
            if stream.dead_letters is None:
                action = "ack"  # a dead letter refused again is dropped rather than nested
            else:  # a dead letter starts a new life, its deliveries counted afresh
                target, max_length, count = stream.dead_letters, self._max_stream_length, 0
        await self._settle(
            keys=[stream.name, target],
            args=[self.group, taken.entry_id, action, taken.data, count, max_length],
        )

    async def ack_many(self, entries: Sequence[Taken]) -> None:
        """Ack and delete entries in one round trip (one `XACK` and one `XDEL` per stream, atomic).

        A group the server lost (restarted) has nothing left to ack: that is no error.
        """
        held: dict[str, list[StreamIdT]] = defaultdict(list)
        for taken in entries:
            taken.settled = True
            held[taken.stream.name].append(taken.entry_id)
        async with self.client.pipeline(transaction=True) as pipe:
            for name, ids in held.items():
                pipe.xack(name, self.group, *ids)
                pipe.xdel(name, *ids)
            replies = await pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, Exception) and "NOGROUP" not in str(reply):
                raise reply

    async def refresh(self, entries: Iterable[Taken]) -> None:
        """Reset the idle time of `entries` (`XCLAIM ... JUSTID`: no delivery is counted)."""
        held: dict[str, list[StreamIdT]] = defaultdict(list)
        for taken in entries:
            held[taken.stream.name].append(taken.entry_id)
        if not held:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for name, ids in held.items():
                pipe.xclaim(name, self.group, self.consumer, 0, ids, justid=True)
            await pipe.execute()

    async def undelivered(self, streams: Iterable[Stream]) -> int:
        """How many entries of `streams` the group has not delivered yet."""
        async with self.client.pipeline(transaction=False) as pipe:
            for stream in streams:
                pipe.xlen(stream.name)
                pipe.xpending(stream.name, self.group)
            replies = await pipe.execute(raise_on_error=False)
        lengths, pending = replies[::2], replies[1::2]
        return sum(
            length - (held["pending"] if isinstance(held, dict) else 0)
            for length, held in zip(lengths, pending, strict=True)
        )
