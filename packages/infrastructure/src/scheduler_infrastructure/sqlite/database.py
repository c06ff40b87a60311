"""The SQLite database: one connection, serialised access, driver errors translated here."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import aiosqlite

from scheduler_errors import Conflict, SchedulerError, Unavailable

Params = Mapping[str, Any] | Sequence[Any]
Row = sqlite3.Row

#: Result codes that mean "the file cannot be used right now", not "the statement is wrong".
_UNAVAILABLE_CODES = frozenset(
    {
        "SQLITE_BUSY",
        "SQLITE_LOCKED",
        "SQLITE_IOERR",
        "SQLITE_FULL",
        "SQLITE_CANTOPEN",
        "SQLITE_READONLY",
        "SQLITE_CORRUPT",
        "SQLITE_NOTADB",
        "SQLITE_PROTOCOL",
        "SQLITE_PERM",
    }
)


#: Constraints that another row (or a missing one) violates, as opposed to a malformed statement.
_CONFLICT_CODES = frozenset(
    {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_FOREIGNKEY"}
)


def translate_error(exc: sqlite3.Error) -> SchedulerError | None:
    """The error kind a caller acts on for a driver error, or None for a programming error."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    if name in _CONFLICT_CODES:
        return Conflict(f"conflicts with stored data ({exc})")
    if "_".join(name.split("_")[:2]) in _UNAVAILABLE_CODES or "database is locked" in str(exc):
        return Unavailable(f"the SQLite database is unavailable ({exc})")
    return None


class Session:
    """The statements of one turn at the database; rows never leave the infrastructure package."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row the query returns."""
        async with self._connection.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row the query returns, or None."""
        async with self._connection.execute(sql, params) as cursor:
            row: Row | None = await cursor.fetchone()
            return row

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; returns how many rows it changed."""
        async with self._connection.execute(sql, params) as cursor:
            return cursor.rowcount

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT; returns the id of the new row."""
        async with self._connection.execute(sql, params) as cursor:
            if cursor.lastrowid is None:
                raise RuntimeError("INSERT stored no row")
            return cursor.lastrowid


async def _stopped(connection: aiosqlite.Connection) -> None:
    """Wait for the thread of a connection that failed to open.

    aiosqlite queues the thread's stop when the open fails, but nobody waits for it: a thread still
    running when the event loop closes prints a traceback as it hands back its result.
    """
    thread = connection._thread  # aiosqlite offers no public way to wait for it
    if thread.is_alive():
        await asyncio.to_thread(thread.join)


def _create_private(path: Path) -> None:
    """Create `path`'s directory (mode 0700) and an empty `path` (mode 0600) when missing."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class SqliteDatabase:
    """An SQLite file in WAL mode with foreign keys on.

    One connection serves the process; an asyncio lock gives each transaction (and each read)
    the connection to itself, so a multi-statement operation is atomic and no read sees another
    coroutine's uncommitted writes. `BEGIN IMMEDIATE` takes the file's write lock up front, so
    operations are atomic across processes too (others wait up to `busy_timeout`).
    """

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection: aiosqlite.Connection | None = connection
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, busy_timeout_seconds: float = 5.0) -> SqliteDatabase:
        """Open (creating it and its directory if needed) the database file at `path`.

        The file holds key hashes and task arguments (which may carry credentials): a directory
        it creates is 0700 and a file 0600, whatever the umask. SQLite gives the `-wal` and
        `-shm` files the mode of the database file. An existing file keeps its mode.
        """
        connection = aiosqlite.connect(path, isolation_level=None)
        try:
            _create_private(path)
            await connection
        except (OSError, sqlite3.Error) as exc:
            await _stopped(connection)
            raise Unavailable(
                f"cannot open the SQLite database {str(path)!r} ({exc}): "
                "check that its directory is a directory this process may write to"
            ) from exc
        connection.row_factory = sqlite3.Row
        try:
            await connection.execute("PRAGMA journal_mode = WAL")
            await connection.execute("PRAGMA synchronous = NORMAL")
            await connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
            await connection.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            await connection.close()
            raise Unavailable(f"cannot use the SQLite database {str(path)!r} ({exc})") from exc
        return cls(connection)

    async def close(self) -> None:
        """Close the connection; later operations raise `Unavailable`. Safe to call twice."""
        connection, self._connection = self._connection, None
        if connection is not None:
            async with self._lock:
                await connection.close()

    async def ping(self) -> bool:
        """True when the database answers a query (for readiness)."""
        try:
            async with self.reading() as session:
                return await session.fetch_one("SELECT 1") is not None
        except SchedulerError:
            return False

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        async with self._lock:
            connection = self._connected()
            try:
                await connection.execute("BEGIN IMMEDIATE")
                yield Session(connection)
                await connection.commit()
            except sqlite3.Error as exc:
                await _roll_back(connection)
                _raise_translated(exc)
            except BaseException:
                await _roll_back(connection)
                raise

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[Session]:
        """Reads outside a transaction (each statement sees only committed data)."""
        async with self._lock:
            try:
                yield Session(self._connected())
            except sqlite3.Error as exc:
                _raise_translated(exc)

    def _connected(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise Unavailable("the SQLite database is closed")
        return self._connection


def _raise_translated(exc: sqlite3.Error) -> NoReturn:
    translated = translate_error(exc)
    if translated is None:
        raise exc
    raise translated from exc


async def _roll_back(connection: aiosqlite.Connection) -> None:
    # A failed BEGIN leaves no transaction, and a broken file may refuse the rollback: either way
    # the error worth reporting is the one that got us here.
    if connection.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            await connection.rollback()
