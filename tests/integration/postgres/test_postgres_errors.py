"""Driver errors become the error kinds callers act on, at the PostgreSQL adapter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from scheduler_application import WorkerRegistry
from scheduler_domain import ApiKey, Role, WorkerInfo
from scheduler_errors import Conflict, InvalidInput, NotFound, Unavailable
from scheduler_infrastructure import (
    PostgresApiKeyRepository,
    PostgresDatabase,
    PostgresTaskRepository,
    PostgresWorkerRepository,
)
from scheduler_infrastructure.postgres.database import Session
from scheduler_testing import FakeClock, a_task
from tests.integration.postgres.server import admin_connection, open_database

RAISE_SERIALIZATION_FAILURE = (
    "DO $$ BEGIN RAISE EXCEPTION 'collided' USING ERRCODE = 'serialization_failure'; END $$"
)


async def test_a_unique_violation_is_a_conflict(db: PostgresDatabase) -> None:
    keys = PostgresApiKeyRepository(db=db)
    await keys.add(ApiKey(name="ci", role=Role.ADMIN, key_hash="same"))

    with pytest.raises(Conflict, match="already exists"):
        await keys.add(ApiKey(name="copy", role=Role.ADMIN, key_hash="same"))
    with pytest.raises(Conflict, match="conflicts with stored data"):
        async with db.session() as session:
            await session.execute(
                "INSERT INTO api_keys (name, role, key_hash) VALUES ('raw', 'admin', 'same')"
            )


async def test_a_taken_task_name_is_a_conflict_naming_it(db: PostgresDatabase) -> None:
    tasks = PostgresTaskRepository(db=db)
    await tasks.add(a_task(name="nightly"))

    with pytest.raises(Conflict, match="a task named 'nightly' already exists"):
        await tasks.add(a_task(name="nightly"))


async def test_a_value_the_column_refuses_is_invalid_input(db: PostgresDatabase) -> None:
    workers = PostgresWorkerRepository(db=db)

    with pytest.raises(InvalidInput, match="inet"):
        await workers.save(WorkerInfo(id="w-1", hostname="h", ip_address="not-an-address"))
    assert await workers.all() == []


async def test_a_value_past_a_limit_of_the_server_is_invalid_input_not_an_outage(
    db: PostgresDatabase,
) -> None:
    with pytest.raises(InvalidInput, match="exceeds a limit of the database"):
        await db.run(lambda session: session.fetch_one("SELECT array_fill(1, ARRAY[1000000000])"))


async def test_an_unreachable_server_is_unavailable_quickly() -> None:
    started = time.monotonic()

    with pytest.raises(Unavailable) as caught:
        await PostgresDatabase.open("postgresql://postgres@127.0.0.1:1/test", connect_timeout=1.0)

    assert time.monotonic() - started < 0.5
    message = str(caught.value)
    assert "postgres@127.0.0.1:1/test" in message
    assert "check that the server is running" in message
    assert "refused" in message
    assert "\n" not in message


def test_the_password_never_appears_in_messages() -> None:
    with pytest.raises(Unavailable) as caught:
        asyncio.run(
            PostgresDatabase.open("postgresql://postgres:s3cret@127.0.0.1:1/test", connect_timeout=1.0)
        )

    assert "s3cret" not in str(caught.value)


async def test_a_url_that_is_not_one_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match=r"database\.url"):
        await PostgresDatabase.open("postgresql://host:notaport:5432/x?bogus=1")


async def test_a_statement_past_the_timeout_is_unavailable(schema: str) -> None:
    async with open_database(schema, statement_timeout=0.05) as db:
        with pytest.raises(Unavailable, match="statement timeout"):
            async with db.session() as session:
                await session.execute("SELECT pg_sleep(1)")
        assert await db.ping()


async def test_a_lost_connection_is_unavailable_and_the_next_call_reconnects(schema: str) -> None:
    async with open_database(schema, max_size=1) as db:
        async with db.session() as session:
            row = await session.fetch_one("SELECT pg_backend_pid() AS pid")
        assert row is not None
        async with await admin_connection() as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", (row["pid"],))

        with pytest.raises(Unavailable, match="check that the server is running"):
            async with db.session() as session:
                await session.execute("SELECT 1")
        assert await db.ping()


async def test_a_closed_database_is_unavailable(schema: str) -> None:
    async with open_database(schema) as db:
        await db.close()

        assert not await db.ping()
        with pytest.raises(Unavailable, match="is closed"):
            async with db.session() as session:
                await session.execute("SELECT 1")


async def test_a_serialization_failure_is_retried(db: PostgresDatabase) -> None:
    attempts = 0

    async def collides_once(session: Session) -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            await session.execute(RAISE_SERIALIZATION_FAILURE)
        return "done"

    assert await db.run(collides_once) == "done"
    assert attempts == 2


async def test_a_transaction_that_keeps_colliding_is_unavailable(db: PostgresDatabase) -> None:
    attempts = 0

    async def always_collides(session: Session) -> None:
        nonlocal attempts
        attempts += 1
        await session.execute(RAISE_SERIALIZATION_FAILURE)

    with pytest.raises(Unavailable, match="aborted the operation 3 times"):
        await db.run(always_collides)
    assert attempts == 3


async def test_the_loser_of_a_real_deadlock_is_retried_and_both_commit(db: PostgresDatabase) -> None:
    tasks = PostgresTaskRepository(db=db)
    first, second = await tasks.add(a_task(name="a")), await tasks.add(a_task(name="b"))
    both_hold_one = asyncio.Barrier(2)
    attempts = {first.id: 0, second.id: 0}

    def locking(mine: int, theirs: int) -> Callable[[Session], Awaitable[None]]:
        async def work(session: Session) -> None:
            attempts[mine] += 1
            await session.execute("SET LOCAL deadlock_timeout = '20ms'")
            await session.execute("UPDATE tasks SET description = 'x' WHERE id = %s", (mine,))
            if attempts[mine] == 1:
                await both_hold_one.wait()
            await session.execute("UPDATE tasks SET description = 'y' WHERE id = %s", (theirs,))

        return work

    await asyncio.wait_for(
        asyncio.gather(db.run(locking(first.id, second.id)), db.run(locking(second.id, first.id))), timeout=10
    )

    assert sorted(attempts.values()) == [1, 2]


@pytest.mark.parametrize("action", ["get", "heartbeat", "deregister"])
async def test_a_worker_id_with_a_nul_is_unknown_not_a_database_error(
    db: PostgresDatabase, action: str
) -> None:
    # PostgreSQL cannot even compare such a text; no registration can have stored one.
    registry = WorkerRegistry(workers=PostgresWorkerRepository(db=db), clock=FakeClock(datetime.now(UTC)))
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "get": lambda: registry.get("w\x00"),
        "heartbeat": lambda: registry.heartbeat("w\x00", current_task_count=0),
        "deregister": lambda: registry.deregister("w\x00"),
    }

    with pytest.raises(NotFound):
        await calls[action]()
