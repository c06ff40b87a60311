"""API key changes, as PostgreSQL announces them (migration 0008), for the API's key cache."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg

from scheduler_errors import SchedulerError
from scheduler_infrastructure.postgres.database import Connection, PostgresDatabase
from scheduler_infrastructure.postgres.wakeup import schema_channel

logger = logging.getLogger(__name__)

#: The channel's base name; migration 0008 NOTIFYs `<base>.<schema>` with the key's id.
CHANNEL = "scheduler_keys"
#: How long a wait for notifications lasts before `stop` is looked at again.
_POLL_SECONDS = 0.5
#: The pauses before listening again after the connection was lost: doubled up to the last.
_FIRST_RETRY_SECONDS = 0.5
_MAX_RETRY_SECONDS = 30.0


class PostgresKeyChanges:
    """A service that tells `on_change` which API key changed, as soon as its change commits.

    `on_change(key_id)` names a key revoked, deleted, or whose expiry, role or hash changed;
    `on_change(None)` says any key may have changed unseen: at every start of listening (before
    the LISTEN took effect nothing was heard), so a caller that forgets every key it remembers
    then misses nothing. When the connection is lost it is opened again, with a pause that
    doubles, up to 30 s, while it cannot listen; `run` returns only once `stop` was called.
    """

    name = "api-key-changes"

    def __init__(self, *, db: PostgresDatabase, on_change: Callable[[int | None], None]) -> None:
        self._db = db
        self._on_change = on_change
        self._stopping = asyncio.Event()
        self._retry_in = _FIRST_RETRY_SECONDS  # the next pause after a loss; reset once listening

    async def run(self) -> None:
        """Listen until `stop`, listening again whenever the connection is lost."""
        while not self._stopping.is_set():
            try:
                await self._listen()
            except (psycopg.Error, SchedulerError) as exc:
                self._on_change(None)  # whatever changes while no one listens goes unheard
                logger.warning(
                    "API key changes unheard: a key revoked through another process stops working "
                    "here when the key cache expires (api.key_cache_seconds)",
                    extra={"error": str(exc), "retry_in": self._retry_in},
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._retry_in)
                self._retry_in = min(self._retry_in * 2, _MAX_RETRY_SECONDS)

    def stop(self) -> None:
        """Stop listening; `run` returns within half a second."""
        self._stopping.set()

    async def _listen(self) -> None:
        listener = await self._db.dedicated_connection()
        try:
            await self._subscribe(listener)
            self._retry_in = _FIRST_RETRY_SECONDS
            self._on_change(None)
            while not self._stopping.is_set():
                async for notify in listener.notifies(timeout=_POLL_SECONDS):
                    self._on_change(_key_id(notify.payload))
        finally:
            await listener.close()

    @staticmethod
    async def _subscribe(listener: Connection) -> None:
        channel = (await schema_channel(listener, CHANNEL)).replace('"', '""')
        await listener.execute(f'LISTEN "{channel}"')


def _key_id(payload: str) -> int | None:
    """The key id a notification carries; None (any key) for one that carries none."""
    try:
        return int(payload)
    except ValueError:
        return None
