"""The PostgreSQL database: a psycopg 3 async connection pool, driver errors translated here.

Connections run in autocommit mode: a lone statement is its own transaction (one round trip),
and `transaction()` wraps several statements in BEGIN ... COMMIT. Every connection is set up
through its startup options (no extra round trip): `TimeZone=UTC`, so timestamps come back in
UTC, and the configured `statement_timeout`. JSONB values arrive as their JSON text, for the row
modules to decode with msgspec straight into the domain's types.

Error kinds: a unique or foreign-key violation is a `Conflict`, a value the column refuses (or
that exceeds a limit of the server, such as an index row's size) is `InvalidInput`, a missing
table is `SchemaNotCurrent`; connection failures, an exhausted pool, a cancelled statement and a
closed database are `Unavailable`. Serialization failures and deadlocks are retried by `run()` a
few times before they become `Unavailable`.

Every turn at a connection (`session`, `transaction`, each attempt of `run`, `ping`, a dedicated
connection) goes through the database's circuit breaker: once the server has failed
`failure_threshold` of them in a row for availability (a lost or refused connection, no free
connection within `connect_timeout`), they fail at once with `CircuitOpen` until a trial call
succeeds. A statement the server cancelled (the statement timeout) or aborted (a serialization
failure, a deadlock), and every other error it answers with, is no outage and is not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

import psycopg
from psycopg import AsyncConnection, errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from scheduler_errors import Conflict, InvalidInput, SchedulerError, Unavailable
from scheduler_infrastructure.breaker import CircuitBreaker
from scheduler_infrastructure.sql import SchemaNotCurrent

T = TypeVar("T")
Params = Mapping[str, Any] | Sequence[Any]
Row = DictRow
Connection = AsyncConnection[DictRow]

#: Errors that say "another transaction got in the way": the whole transaction may simply be retried.
_TRANSIENT = (errors.SerializationFailure, errors.DeadlockDetected)
DEFAULT_ATTEMPTS = 3
#: Operational errors that the server answered with, or that this process caused: no outage.
_ANSWERED = (*_TRANSIENT, errors.QueryCanceled, errors.LockNotAvailable, PoolClosed)


class Session:
    """The statements of one turn at a pooled connection; rows never leave the infrastructure package."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    async def fetch_all(self, sql: str, params: Params | None = None) -> list[Row]:
        """Every row the statement returns."""
        cursor = await self._connection.execute(sql, params)
        return await cursor.fetchall()

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        """The first row the statement returns, or None."""
        cursor = await self._connection.execute(sql, params)
        return await cursor.fetchone()

    async def execute(self, sql: str, params: Params | None = None) -> int:
        """Run a statement; returns how many rows it changed."""
        cursor = await self._connection.execute(sql, params)
        return cursor.rowcount

    async def script(self, sql: str) -> None:
        """Run a script of several statements (no parameters), as a migration does."""
        await self._connection.execute(sql, prepare=False)


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database (and schema, through `search_path`)."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Connection],
        *,
        where: str,
        conninfo: str = "",
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._pool = pool
        self._conninfo = conninfo
        self._breaker = breaker or CircuitBreaker("postgresql", failure_threshold=0)
        self.where = where
        """Where the database is, for messages: `user@host:port/dbname`, never the password."""

    def pool_stats(self) -> dict[str, int]:
        """The pool's figures now (psycopg_pool's names): `pool_size`, `pool_available`,
        `pool_max`, `requests_waiting`, and counts since start such as `requests_num`,
        `requests_wait_ms`, `requests_errors`, `connections_errors`, `connections_lost`."""
        return self._pool.get_stats()

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 5.0,
        statement_timeout: float = 30.0,
        application_name: str = "scheduler",
        breaker: CircuitBreaker | None = None,
    ) -> PostgresDatabase:
        """Connect to the database at `url` (a `postgresql://` URL or a libpq conninfo string).

        Waits up to `connect_timeout` seconds for `min_size` connections, and as long for a free
        connection later; statements running longer than `statement_timeout` seconds (0: no
        limit) are cancelled. `Unavailable`, saying where and why, when no connection is made.
        Later calls go through `breaker` (none: no breaker); opening does not.
        """
        conninfo, where = _conninfo(
            url,
            connect_timeout=connect_timeout,
            statement_timeout=statement_timeout,
            application_name=application_name,
        )
        # One direct connection first: a refused connection or a bad password fails at once with
        # the driver's reason, where the pool would keep retrying until the timeout, mute.
        await _probe(conninfo, where=where, within=connect_timeout)
        pool = AsyncConnectionPool(
            conninfo,
            connection_class=Connection,
            kwargs={"autocommit": True, "row_factory": dict_row},
            min_size=min_size,
            max_size=max_size,
            timeout=connect_timeout,
            configure=_configure,
            name=f"scheduler {where}",
            open=False,
        )
        try:
            await pool.open(wait=True, timeout=connect_timeout)
        except PoolTimeout as exc:
            await pool.close()
            raise _cannot_connect(where, connect_timeout, "the pool could not open its connections") from exc
        return cls(pool, where=where, conninfo=conninfo, breaker=breaker)

    async def dedicated_connection(self) -> Connection:
        """A new autocommit connection outside the pool (for LISTEN); the caller closes it."""
        try:
            with self._breaker.guard(is_outage):
                return await Connection.connect(self._conninfo, autocommit=True, row_factory=dict_row)
        except psycopg.Error as exc:
            self._raise_translated(exc)

    async def close(self) -> None:
        """Close every connection; later operations raise `Unavailable`. Safe to call twice."""
        await self._pool.close()

    async def ping(self) -> bool:
        """True when the database answers a query (for readiness)."""
        try:
            async with self.session() as session:
                return await session.fetch_one("SELECT 1 AS ok") is not None
        except SchedulerError:
            return False

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        """A connection in autocommit mode: each statement is a transaction of its own."""
        try:
            with self._breaker.guard(is_outage):
                async with self._checkout(transaction=False) as session:
                    yield session
        except psycopg.Error as exc:
            self._raise_translated(exc)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        try:
            with self._breaker.guard(is_outage):
                async with self._checkout(transaction=True) as session:
                    yield session
        except psycopg.Error as exc:
            self._raise_translated(exc)

    async def run(
        self,
        work: Callable[[Session], Awaitable[T]],
        *,
        transaction: bool = True,
        attempts: int = DEFAULT_ATTEMPTS,
    ) -> T:
        """`work` in a transaction (or, with `transaction=False`, in autocommit mode).

        Run again from the start, up to `attempts` times in all, when PostgreSQL aborts it for a
        serialization failure or a deadlock; `Unavailable` if it keeps failing so.
        """
        for attempt in range(1, attempts + 1):
            try:
                with self._breaker.guard(is_outage):
                    async with self._checkout(transaction=transaction) as session:
                        return await work(session)
            except _TRANSIENT as exc:
                if attempt == attempts:
                    raise Unavailable(
                        f"PostgreSQL at {self.where} aborted the operation {attempts} times because "
                        f"of concurrent transactions ({_reason(exc)}): retry it later"
                    ) from exc
            except psycopg.Error as exc:
                self._raise_translated(exc)
            # Concurrent transactions that collided should not collide again in lockstep.
            await asyncio.sleep(random.uniform(0.005, 0.02) * attempt)  # noqa: S311 - jitter, not secrets
        raise AssertionError("unreachable: the last attempt returns or raises")

    @contextlib.asynccontextmanager
    async def _checkout(self, *, transaction: bool) -> AsyncIterator[Session]:
        # getconn/putconn rather than `pool.connection()`, a context manager of its own, on the
        # path of every statement. The pool rolls back whatever a returned connection left open.
        connection = await self._pool.getconn()
        try:
            if not transaction:
                yield Session(connection)
                return
            async with connection.transaction():
                yield Session(connection)
        finally:
            await self._pool.putconn(connection)

    def _raise_translated(self, exc: psycopg.Error) -> NoReturn:
        translated = translate_error(exc, where=self.where)
        if translated is None:
            raise exc
        raise translated from exc


#: SQLSTATEs (besides class 08, connection exceptions) that say the server is going away or full.
_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def is_outage(exc: BaseException) -> bool:
    """Whether `exc`, raised in a turn at a connection, says the server is unreachable or lost (the
    errors the circuit breaker counts), rather than answering with an error of its own.

    Only the driver's own connection failures (no SQLSTATE: refused, lost, no free pool connection
    in time), connection exceptions (class 08), a server shutting down (57P01-57P03) or out of
    connections (53300) count. Whatever else the server answers, such as a program limit a value
    exceeded (54xxx) or an object in use (55xxx), is about the request, not the server: it must
    not let one caller's bad input open the breaker for everyone.
    """
    if not isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)) or isinstance(exc, _ANSWERED):
        return False
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in _OUTAGE_STATES


def translate_error(exc: psycopg.Error, *, where: str) -> SchedulerError | None:
    """The error kind a caller acts on for a driver error, or None for a programming error."""
    for kinds, make in _TRANSLATIONS:
        if isinstance(exc, kinds):
            return make(where, _reason(exc))
    return None


#: Driver errors and what each means to a caller (the first that matches wins, so specific first).
_TRANSLATIONS: tuple[tuple[tuple[type[psycopg.Error], ...], Callable[[str, str], SchedulerError]], ...] = (
    (
        (errors.UniqueViolation, errors.ForeignKeyViolation),
        lambda where, reason: Conflict(f"conflicts with stored data ({reason})"),
    ),
    (
        (psycopg.DataError,),
        lambda where, reason: InvalidInput(f"a value is not acceptable to the database ({reason})"),
    ),
    (
        (errors.UndefinedTable,),
        lambda where, reason: SchemaNotCurrent(
            f"the PostgreSQL database at {where} lacks the scheduler's tables ({reason}): "
            "run `scheduler migrate`"
        ),
    ),
    (
        (errors.InvalidSchemaName,),
        lambda where, reason: InvalidInput(
            f"the PostgreSQL database at {where} has no schema to hold the scheduler's tables "
            f"({reason}): create the schema that database.url's search_path names (CREATE SCHEMA "
            "name), or name an existing one"
        ),
    ),
    (
        (PoolClosed,),
        lambda where, reason: Unavailable(f"the PostgreSQL database at {where} is closed"),
    ),
    (
        (PoolTimeout,),
        lambda where, reason: Unavailable(
            f"no connection to PostgreSQL at {where} became free in time ({reason}): the server is "
            "slow or unreachable, or the pool is too small for the load (raise database.pool_max_size)"
        ),
    ),
    (
        (errors.QueryCanceled,),
        lambda where, reason: Unavailable(
            f"PostgreSQL at {where} cancelled a statement ({reason}): it ran past the statement "
            "timeout (database.statement_timeout_seconds) or was cancelled by an operator"
        ),
    ),
    (
        _TRANSIENT,
        lambda where, reason: Unavailable(
            f"PostgreSQL at {where} aborted a transaction ({reason}): retry it"
        ),
    ),
    (
        (errors.ProgramLimitExceeded,),  # a value past a limit of the server (an index row's size)
        lambda where, reason: InvalidInput(f"a value exceeds a limit of the database ({reason})"),
    ),
    (
        (psycopg.OperationalError, psycopg.InterfaceError),
        lambda where, reason: Unavailable(
            f"PostgreSQL at {where} is unavailable ({reason}): check that the server is running "
            "and reachable; the operation can be retried"
        ),
    ),
)


def _reason(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _conninfo(
    url: str, *, connect_timeout: float, statement_timeout: float, application_name: str
) -> tuple[str, str]:
    """The conninfo to connect with, and where it points (without the password)."""
    try:
        params: dict[str, Any] = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise InvalidInput.for_field("database.url", f"not a PostgreSQL URL ({_reason(exc)})") from exc
    settings = f"-c TimeZone=UTC -c statement_timeout={round(statement_timeout * 1000)}"
    params["options"] = f"{params.get('options') or ''} {settings}".strip()
    params.setdefault("application_name", application_name)
    # libpq counts whole seconds (and waits forever on 0); the pool bounds the wait precisely.
    params["connect_timeout"] = max(2, math.ceil(connect_timeout))
    where = "{user}@{host}:{port}/{dbname}".format(
        user=params.get("user") or "",
        host=params.get("host") or params.get("hostaddr") or "localhost",
        port=params.get("port") or 5432,
        dbname=params.get("dbname") or params.get("user") or "",
    )
    return make_conninfo("", **params), where


async def _configure(connection: Connection) -> None:
    # JSONB arrives as its text; the row modules decode it with msgspec into the domain's types.
    set_json_loads(_json_text, connection)


def _json_text(data: str | bytes) -> str | bytes:
    return data


async def _probe(conninfo: str, *, where: str, within: float) -> None:
    """Connect once and disconnect; `Unavailable` with the driver's reason when that fails."""
    try:
        async with asyncio.timeout(within):
            connection = await AsyncConnection.connect(conninfo)
    except psycopg.Error as exc:
        raise _cannot_connect(where, within, _reason(exc)) from exc
    except TimeoutError as exc:
        raise _cannot_connect(where, within, "no answer") from exc
    await connection.close()


def _cannot_connect(where: str, timeout: float, reason: str) -> Unavailable:
    return Unavailable(
        f"cannot connect to PostgreSQL at {where} within {timeout:g}s ({reason}): "
        "check that the server is running and that the database URL is right"
    )
