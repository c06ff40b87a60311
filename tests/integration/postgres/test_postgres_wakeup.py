"""LISTEN/NOTIFY wake-ups reach a dispatcher waiting in another connection pool (another process)."""

from __future__ import annotations

import asyncio
import time

from scheduler_infrastructure import PostgresDatabase, PostgresWakeup
from scheduler_infrastructure.postgres.database import Connection
from scheduler_infrastructure.postgres.wakeup import schema_channel
from tests.integration.postgres.server import fresh_schema, migrated_database, open_database


async def test_a_notify_from_one_pool_wakes_a_waiter_on_another() -> None:
    async with (
        fresh_schema() as schema,
        open_database(schema, max_size=2) as api_pool,
        open_database(schema, max_size=2) as dispatcher_pool,
    ):
        api_side, dispatcher_side = PostgresWakeup(db=api_pool), PostgresWakeup(db=dispatcher_pool)
        try:
            assert await dispatcher_side.wait(0.05) is False  # starts listening; nothing sent yet
            waiting = asyncio.create_task(dispatcher_side.wait(10))
            started = time.monotonic()

            api_side.notify()

            assert await asyncio.wait_for(waiting, 5) is True
            assert time.monotonic() - started < 2
        finally:
            await api_side.close()
            await dispatcher_side.close()


async def test_a_notify_wakes_only_the_dispatchers_of_its_own_schema(db: PostgresDatabase) -> None:
    async with migrated_database(max_size=2) as other_schema:
        here, elsewhere = PostgresWakeup(db=db), PostgresWakeup(db=other_schema)
        try:
            assert await elsewhere.wait(0.05) is False  # starts listening
            assert await here.wait(0.05) is False
            waiting_here = asyncio.create_task(here.wait(10))
            waiting_elsewhere = asyncio.create_task(elsewhere.wait(0.5))

            here.notify()

            assert await asyncio.wait_for(waiting_here, 5) is True
            assert await waiting_elsewhere is False
        finally:
            await here.close()
            await elsewhere.close()


async def test_wait_returns_false_after_its_deadline_without_a_notify(db: PostgresDatabase) -> None:
    wakeup = PostgresWakeup(db=db)
    try:
        started = time.monotonic()
        assert await wakeup.wait(0.2) is False
        assert 0.15 < time.monotonic() - started < 2
    finally:
        await wakeup.close()


async def test_a_lost_listener_connection_is_replaced(db: PostgresDatabase) -> None:
    wakeup = PostgresWakeup(db=db)
    try:
        await wakeup.wait(0.01)
        async with db.session() as session:
            await session.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid()"
            )
        assert await wakeup.wait(0.2) is False  # notices the loss, backs off

        waiting = asyncio.create_task(wakeup.wait(10))
        async with asyncio.timeout(5):
            while not waiting.done():  # a NOTIFY sent before the new LISTEN is lost: send until heard
                wakeup.notify()
                await asyncio.sleep(0.05)

        assert waiting.result() is True
    finally:
        await wakeup.close()


async def _heard(listener: Connection, within: float) -> int:
    """How many NOTIFYs arrive on `listener` within `within` seconds."""
    return len([note async for note in listener.notifies(timeout=within)])


async def test_a_burst_of_wake_ups_goes_out_as_two_notifies_one_at_once_one_after_the_interval(
    db: PostgresDatabase,
) -> None:
    listener = await db.dedicated_connection()
    wakeup = PostgresWakeup(db=db, min_interval=0.2)
    try:
        await listener.execute(f'LISTEN "{await schema_channel(listener)}"')

        for _ in range(50):
            wakeup.notify()
        first = [note async for note in listener.notifies(timeout=5, stop_after=1)]
        wakeup.notify()  # while the first is out, or within the interval after it

        assert len(first) == 1
        assert await _heard(listener, 1) == 1  # all the others, as one after the interval
    finally:
        await wakeup.close()
        await listener.close()


async def test_close_sends_a_wake_up_still_held_back(db: PostgresDatabase) -> None:
    listener = await db.dedicated_connection()
    wakeup = PostgresWakeup(db=db, min_interval=0.05)
    try:
        await listener.execute(f'LISTEN "{await schema_channel(listener)}"')
        wakeup.notify()
        wakeup.notify()

        await wakeup.close()

        assert await _heard(listener, 0.5) == 2
    finally:
        await listener.close()
