"""Waking the dispatchers of every process through PostgreSQL's LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import logging

import psycopg

from scheduler_errors import SchedulerError
from scheduler_infrastructure.postgres.database import Connection, PostgresDatabase

logger = logging.getLogger(__name__)

#: The channel's name; the schema is appended, so clusters sharing a database wake only their own.
CHANNEL = "scheduler_dispatch"
#: The longest channel name PostgreSQL keeps (NAMEDATALEN - 1).
_MAX_CHANNEL = 63
#: The channel of the schema a connection works in, from the base name and the longest name kept.
_SCHEMA_CHANNEL = "left(%s || '.' || current_schema(), %s)"
#: Seconds between two NOTIFYs at most once: the wake-ups asked for meanwhile go out as one.
MIN_INTERVAL = 0.005


class PostgresWakeup:
    """`notify()` sends a NOTIFY; `wait()` returns when one arrives on a dedicated LISTEN connection.

    A lost notification only costs latency: the dispatcher scans on its interval anyway.

    Under a stream of triggers, the wake-ups coalesce: the first goes out at once, and the ones
    asked for while a NOTIFY is on its way or in the `min_interval` seconds after it go out as one
    more NOTIFY at the end of that interval. Every `notify()` is thus followed by a NOTIFY sent
    after it, so no run waits for a scan, and a woken dispatcher claims runs in batches rather
    than one wake-up (and one statement) per run.
    """

    def __init__(
        self, *, db: PostgresDatabase, channel: str = CHANNEL, min_interval: float = MIN_INTERVAL
    ) -> None:
        self._db = db
        self._channel = channel
        self._min_interval = min_interval
        self._listener: Connection | None = None
        self._sender: asyncio.Task[None] | None = None
        self._asked_again = False

    def notify(self) -> None:
        """Send a NOTIFY in the background (see above); never blocks, never raises."""
        if self._sender is not None and not self._sender.done():
            self._asked_again = True
            return
        self._asked_again = False
        self._sender = asyncio.get_running_loop().create_task(self._send_while_asked())

    async def wait(self, max_wait: float) -> bool:
        """True when a NOTIFY arrived within `max_wait` seconds.

        The NOTIFYs that arrived together (a burst sent while the dispatcher was busy) are taken
        at once: they wake it once, not once each.
        """
        try:
            listener = await self._listening()
            notifies = listener.notifies(timeout=max_wait, stop_after=1)
            try:
                async for _ in notifies:
                    return True
            finally:
                await notifies.aclose()
        except (psycopg.Error, SchedulerError) as exc:
            logger.warning(
                "dispatch wake-ups unavailable, scanning on the interval", extra={"error": str(exc)}
            )
            await self._drop_listener()
            await asyncio.sleep(max_wait)
        return False

    async def close(self) -> None:
        """Close the LISTEN connection and let pending NOTIFYs finish."""
        if self._sender is not None:
            await asyncio.gather(self._sender, return_exceptions=True)
        await self._drop_listener()

    async def _listening(self) -> Connection:
        if self._listener is None or self._listener.closed:
            listener = await self._db.dedicated_connection()
            channel = (await schema_channel(listener, self._channel)).replace('"', '""')
            await listener.execute(f'LISTEN "{channel}"')
            self._listener = listener
        return self._listener

    async def _drop_listener(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None

    async def _send_while_asked(self) -> None:
        while True:
            await self._send()
            await asyncio.sleep(self._min_interval)
            if not self._asked_again:
                return
            self._asked_again = False

    async def _send(self) -> None:
        try:
            async with self._db.session() as session:
                await session.execute(
                    f"SELECT pg_notify({_SCHEMA_CHANNEL}, '')",
                    [self._channel, _MAX_CHANNEL],
                )
        except SchedulerError as exc:
            logger.warning("could not wake the dispatchers", extra={"error": str(exc)})


async def schema_channel(connection: Connection, base: str = CHANNEL) -> str:
    """`<base>.<schema>`: the channel of the schema `connection` works in, as NOTIFY names it."""
    cursor = await connection.execute(f"SELECT {_SCHEMA_CHANNEL} AS channel", [base, _MAX_CHANNEL])
    row = await cursor.fetchone()
    if row is None:  # pragma: no cover - a SELECT of one value always has its row
        raise RuntimeError("no current schema")
    return str(row["channel"])
