"""Waking the dispatchers of every process through PostgreSQL's LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import logging

import psycopg

from scheduler_errors import SchedulerError
from scheduler_infrastructure.postgres.database import Connection, PostgresDatabase

logger = logging.getLogger(__name__)

#: The channel's name; the schema is appended, so clusters sharing a database wake only their own.
#: Migration 0005 names the same channel in the function its triggers call.
CHANNEL = "scheduler_dispatch"
#: The longest channel name PostgreSQL keeps (NAMEDATALEN - 1).
_MAX_CHANNEL = 63
#: The channel of the schema a connection works in, from the base name and the longest name kept.
_SCHEMA_CHANNEL = "left(%s || '.' || current_schema(), %s)"


class PostgresWakeup:
    """Dispatch wake-ups through PostgreSQL's LISTEN/NOTIFY, sent by the database itself.

    The triggers of migration 0005 NOTIFY the schema's channel in the transaction that stores a
    claimable run (or releases one from its upstreams), so the notification goes out with that
    commit: no round trip, no connection and no task of its own, and a dispatcher never wakes
    before the run is visible or for a write rolled back. `notify()` thus has nothing to send.
    `wait()` listens on a dedicated connection.

    A wait that has to start listening (the first one, or the first after the connection was
    lost) returns True at once: whatever was stored before the LISTEN took effect notified no
    one, so the pass that follows must look. A dispatcher's first pass runs before its first
    wait; without this, a run stored in between would wait for the next scan. A notification
    lost otherwise only costs latency: the dispatcher scans on its interval anyway.
    """

    def __init__(self, *, db: PostgresDatabase) -> None:
        self._db = db
        self._listener: Connection | None = None

    def notify(self) -> None:
        """Nothing to do: the commit that made a run claimable has notified (see above)."""

    async def wait(self, max_wait: float) -> bool:
        """True when a NOTIFY arrived within `max_wait` seconds, or at once when this wait had to
        start listening (see above).

        The NOTIFYs that arrived together (a burst sent while the dispatcher was busy) are taken
        at once: they wake it once, not once each.
        """
        try:
            if self._listener is None or self._listener.closed:
                self._listener = await self._listen()
                return True
            notifies = self._listener.notifies(timeout=max_wait, stop_after=1)
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
        """Close the LISTEN connection."""
        await self._drop_listener()

    async def _listen(self) -> Connection:
        listener = await self._db.dedicated_connection()
        try:
            channel = (await schema_channel(listener)).replace('"', '""')
            await listener.execute(f'LISTEN "{channel}"')
        except BaseException:
            await listener.close()
            raise
        return listener

    async def _drop_listener(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None


async def schema_channel(connection: Connection, base: str = CHANNEL) -> str:
    """`<base>.<schema>`: the channel of the schema `connection` works in, as NOTIFY names it."""
    cursor = await connection.execute(f"SELECT {_SCHEMA_CHANNEL} AS channel", [base, _MAX_CHANNEL])
    row = await cursor.fetchone()
    if row is None:  # pragma: no cover - a SELECT of one value always has its row
        raise RuntimeError("no current schema")
    return str(row["channel"])
