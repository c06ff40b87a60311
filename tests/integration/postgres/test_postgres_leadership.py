"""Leader election on the real server: two instances on separate pools, as two dispatchers would be."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from scheduler_application import Leadership
from scheduler_infrastructure import PostgresLeaseRepository, migrate_postgres
from tests.integration.postgres.server import open_database

LEASE_SECONDS = 0.6


@pytest.fixture
async def pair(schema: str) -> AsyncIterator[tuple[Leadership, Leadership]]:
    """Two instances, each with its own pool on the same migrated schema."""
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(open_database(schema, max_size=2))
        second = await stack.enter_async_context(open_database(schema, max_size=2))
        await migrate_postgres(first)
        yield (
            Leadership(leases=PostgresLeaseRepository(db=first), holder="a", lease_seconds=LEASE_SECONDS),
            Leadership(leases=PostgresLeaseRepository(db=second), holder="b", lease_seconds=LEASE_SECONDS),
        )


async def test_one_instance_leads_and_the_other_takes_over_after_the_lease_expires(
    pair: tuple[Leadership, Leadership],
) -> None:
    leader, standby = pair
    assert await leader.renew()
    assert not await standby.renew()
    for _ in range(4):  # renewing keeps it, well past one lease time
        await asyncio.sleep(LEASE_SECONDS / 3)
        assert await leader.renew()
        assert not await standby.renew()

    died = time.monotonic()  # the leader stops renewing, as if killed
    async with asyncio.timeout(LEASE_SECONDS * 5):
        while not await standby.renew():
            await asyncio.sleep(0.02)
    took_over_after = time.monotonic() - died

    assert LEASE_SECONDS * 0.5 < took_over_after < LEASE_SECONDS + 0.5
    assert not leader.is_leader
    assert not await leader.renew()


async def test_a_released_lease_is_taken_over_at_once(pair: tuple[Leadership, Leadership]) -> None:
    leader, standby = pair
    await leader.renew()

    await leader.release()

    assert await standby.renew()
    assert not await leader.renew()


async def test_hold_renews_until_stopped_and_releases(pair: tuple[Leadership, Leadership]) -> None:
    leader, standby = pair
    holding = asyncio.create_task(leader.hold())
    async with asyncio.timeout(2):
        while not leader.is_leader:
            await asyncio.sleep(0.01)

    await asyncio.sleep(LEASE_SECONDS * 2)
    assert not await standby.renew()

    leader.stop()
    async with asyncio.timeout(2):
        await holding
    assert await standby.renew()
