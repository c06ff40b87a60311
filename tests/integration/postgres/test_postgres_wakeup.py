"""LISTEN/NOTIFY wake-ups: the commit that makes a run claimable wakes dispatchers in other pools.

The NOTIFY comes from the triggers of migration 0005, in the writing transaction itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from scheduler_domain import RunStatus, TaskRun
from scheduler_infrastructure import (
    PostgresDatabase,
    PostgresTaskRepository,
    PostgresTaskRunRepository,
    PostgresWakeup,
    migrate_postgres,
)
from scheduler_infrastructure.postgres.database import Connection, Session
from scheduler_infrastructure.postgres.runs import insert_runs
from scheduler_infrastructure.postgres.wakeup import CHANNEL, schema_channel
from scheduler_testing import a_task
from tests.integration.postgres.server import fresh_schema, migrated_database, open_database

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def a_task_id(db: PostgresDatabase) -> int:
    return (await PostgresTaskRepository(db=db).add(a_task())).id


@contextlib.asynccontextmanager
async def listening(db: PostgresDatabase) -> AsyncIterator[Connection]:
    """A connection LISTENing on the schema's dispatch channel, as a dispatcher's."""
    listener = await db.dedicated_connection()
    try:
        await listener.execute(f'LISTEN "{await schema_channel(listener)}"')
        yield listener
    finally:
        await listener.close()


async def _heard(listener: Connection, within: float) -> int:
    """How many NOTIFYs arrive on `listener` within `within` seconds."""
    return len([note async for note in listener.notifies(timeout=within)])


async def test_storing_a_pending_run_wakes_a_dispatcher_on_another_pool() -> None:
    async with (
        fresh_schema() as schema,
        open_database(schema, max_size=2) as api_pool,
        open_database(schema, max_size=2) as dispatcher_pool,
    ):
        await migrate_postgres(api_pool)
        runs, task_id = PostgresTaskRunRepository(db=api_pool), await a_task_id(api_pool)
        dispatcher_side = PostgresWakeup(db=dispatcher_pool)
        try:
            assert await dispatcher_side.wait(10) is True  # starts listening: at once, to look
            waiting = asyncio.create_task(dispatcher_side.wait(10))
            started = time.monotonic()

            await runs.add(TaskRun(task_id=task_id))

            assert await asyncio.wait_for(waiting, 5) is True
            assert time.monotonic() - started < 2
        finally:
            await dispatcher_side.close()


async def test_only_claimable_runs_wake_and_a_batch_wakes_once(db: PostgresDatabase) -> None:
    runs = PostgresTaskRunRepository(db=db)
    task_id = await a_task_id(db)
    async with listening(db) as listener:
        await runs.add(TaskRun(task_id=task_id, status=RunStatus.SUCCEEDED))
        await runs.add(TaskRun(task_id=task_id, waiting=True))
        assert await _heard(listener, 0.3) == 0

        await db.run(lambda session: insert_runs(session, [TaskRun(task_id=task_id) for _ in range(20)]))
        assert await _heard(listener, 0.3) == 1  # one transaction, one notification


async def test_a_run_released_by_its_upstreams_wakes_and_a_requeue_does_not(db: PostgresDatabase) -> None:
    runs = PostgresTaskRunRepository(db=db)
    task_id = await a_task_id(db)
    held = await runs.add(TaskRun(task_id=task_id, waiting=True))
    queued = await runs.add(TaskRun(task_id=task_id, status=RunStatus.QUEUED))
    async with listening(db) as listener:
        await runs.transition(queued.requeued(T0), expected=RunStatus.QUEUED)
        assert await _heard(listener, 0.3) == 0

        await runs.settle_waiting([held.released(T0)])
        assert await _heard(listener, 0.3) == 1


async def test_a_rolled_back_insert_wakes_no_one(db: PostgresDatabase) -> None:
    task_id = await a_task_id(db)

    async def insert_then_fail(session: Session) -> None:
        await insert_runs(session, [TaskRun(task_id=task_id)])
        raise RuntimeError("the write fails after the insert")

    async with listening(db) as listener:
        with contextlib.suppress(RuntimeError):
            await db.run(insert_then_fail)
        assert await _heard(listener, 0.3) == 0


async def test_a_run_stored_in_one_schema_wakes_only_the_dispatchers_of_that_schema(
    db: PostgresDatabase,
) -> None:
    task_id = await a_task_id(db)
    async with migrated_database(max_size=2) as other_schema:
        here, elsewhere = PostgresWakeup(db=db), PostgresWakeup(db=other_schema)
        try:
            assert await elsewhere.wait(10) is True  # starts listening, at once
            assert await here.wait(10) is True
            waiting_here = asyncio.create_task(here.wait(10))
            waiting_elsewhere = asyncio.create_task(elsewhere.wait(0.5))

            await PostgresTaskRunRepository(db=db).add(TaskRun(task_id=task_id))

            assert await asyncio.wait_for(waiting_here, 5) is True
            assert await waiting_elsewhere is False
        finally:
            await here.close()
            await elsewhere.close()


async def test_wait_returns_false_after_its_deadline_without_a_notify(db: PostgresDatabase) -> None:
    wakeup = PostgresWakeup(db=db)
    try:
        await wakeup.wait(10)  # starts listening
        started = time.monotonic()
        assert await wakeup.wait(0.2) is False
        assert 0.15 < time.monotonic() - started < 2
    finally:
        await wakeup.close()


async def test_a_lost_listener_connection_is_replaced(db: PostgresDatabase) -> None:
    wakeup = PostgresWakeup(db=db)
    try:
        await wakeup.wait(0.01)
        async with db.session() as session:  # this schema's listener only: other tests may be listening
            killed = await session.fetch_all(
                "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() "
                "AND query = 'LISTEN \"' || left(%s || '.' || current_schema(), 63) || '\"'",
                (CHANNEL,),
            )
        assert [row["killed"] for row in killed] == [True]
        assert await wakeup.wait(0.2) is False  # notices the loss, backs off
        started = time.monotonic()
        assert await wakeup.wait(10) is True  # listens again, and says so at once: look now
        assert time.monotonic() - started < 2

        waiting = asyncio.create_task(wakeup.wait(10))
        await PostgresTaskRunRepository(db=db).add(TaskRun(task_id=await a_task_id(db)))

        assert await asyncio.wait_for(waiting, 5) is True
    finally:
        await wakeup.close()


async def test_the_wait_that_starts_listening_returns_at_once_then_notifies_are_heard(
    db: PostgresDatabase,
) -> None:
    # A run stored before the LISTEN notified no one: the first wait must send the dispatcher to
    # look at once rather than leave that run to the next scan.
    runs, task_id = PostgresTaskRunRepository(db=db), await a_task_id(db)
    await runs.add(TaskRun(task_id=task_id))
    wakeup = PostgresWakeup(db=db)
    try:
        started = time.monotonic()
        assert await wakeup.wait(10) is True
        assert time.monotonic() - started < 2

        waiting = asyncio.create_task(wakeup.wait(10))
        await runs.add(TaskRun(task_id=task_id))

        assert await asyncio.wait_for(waiting, 5) is True
    finally:
        await wakeup.close()
