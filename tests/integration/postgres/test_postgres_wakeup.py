"""LISTEN/NOTIFY wake-ups reach a dispatcher waiting in another connection pool (another process)."""

from __future__ import annotations

import asyncio
import time

from scheduler_infrastructure import PostgresDatabase, PostgresWakeup
from tests.integration.postgres.server import migrated_database


async def test_a_notify_from_one_pool_wakes_a_waiter_on_another(db: PostgresDatabase) -> None:
    async with migrated_database(max_size=2) as other:
        api_side, dispatcher_side = PostgresWakeup(db=other), PostgresWakeup(db=db)
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
