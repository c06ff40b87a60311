"""Waking the dispatchers of every process through PostgreSQL's LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import logging

import psycopg

from scheduler_errors import SchedulerError
from scheduler_infrastructure.postgres.database import Connection, PostgresDatabase

logger = logging.getLogger(__name__)

CHANNEL = "scheduler_dispatch"


class PostgresWakeup:
    """`notify()` sends a NOTIFY; `wait()` returns when one arrives on a dedicated LISTEN connection.

    A lost notification only costs latency: the dispatcher scans on its interval anyway.
    """

    def __init__(self, *, db: PostgresDatabase, channel: str = CHANNEL) -> None:
        self._db = db
        self._channel = channel
        self._listener: Connection | None = None
        self._sending: set[asyncio.Task[None]] = set()

    def notify(self) -> None:
        """Send a NOTIFY in the background; never blocks, never raises."""
        task = asyncio.get_running_loop().create_task(self._send())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def wait(self, max_wait: float) -> bool:
        """True when a NOTIFY arrived within `max_wait` seconds."""
        try:
            listener = await self._listening()
            async for _ in listener.notifies(timeout=max_wait, stop_after=1):
                return True
        except (psycopg.Error, SchedulerError) as exc:
            logger.warning(
                "dispatch wake-ups unavailable, scanning on the interval", extra={"error": str(exc)}
            )
            await self._drop_listener()
            await asyncio.sleep(max_wait)
        return False

    async def close(self) -> None:
        """Close the LISTEN connection and let pending NOTIFYs finish."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        await self._drop_listener()

    async def _listening(self) -> Connection:
        if self._listener is None or self._listener.closed:
            listener = await self._db.dedicated_connection()
            await listener.execute(f'LISTEN "{self._channel}"')
            self._listener = listener
        return self._listener

    async def _drop_listener(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None

    async def _send(self) -> None:
        try:
            async with self._db.session() as session:
                await session.execute("SELECT pg_notify(%s, '')", [self._channel])
        except SchedulerError as exc:
            logger.warning("could not wake the dispatchers", extra={"error": str(exc)})
