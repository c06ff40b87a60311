"""The contract of the lease repository, for every implementation (see conftest.py).

Expiry is judged by each store's own clock (the fake's is the system clock), so the tests that
need a lease to expire give it a fraction of a second and wait until the store says it is free.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from scheduler_domain import LeaseRepository
from tests.conformance.contract_stores import Stores

LONG = timedelta(seconds=60)
SHORT = timedelta(seconds=0.3)


async def until_free(leases: LeaseRepository, name: str, within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while await leases.holder(name) is not None:
            await asyncio.sleep(0.02)


async def test_a_free_lease_is_acquired(stores: Stores) -> None:
    assert await stores.leases.holder("leader") is None

    assert await stores.leases.try_acquire("leader", "a", LONG)

    assert await stores.leases.holder("leader") == "a"


async def test_the_holder_renews_its_lease(stores: Stores) -> None:
    await stores.leases.try_acquire("leader", "a", SHORT)

    assert await stores.leases.try_acquire("leader", "a", LONG)

    # had the renewal not extended it, the short lease would have run out by now
    await asyncio.sleep(SHORT.total_seconds() + 0.1)
    assert await stores.leases.holder("leader") == "a"


async def test_a_valid_lease_is_refused_to_another_holder(stores: Stores) -> None:
    await stores.leases.try_acquire("leader", "a", LONG)

    assert not await stores.leases.try_acquire("leader", "b", LONG)

    assert await stores.leases.holder("leader") == "a"
    assert await stores.leases.try_acquire("leader", "a", LONG)


async def test_an_expired_lease_is_taken_over(stores: Stores) -> None:
    await stores.leases.try_acquire("leader", "a", SHORT)
    await until_free(stores.leases, "leader")

    assert await stores.leases.try_acquire("leader", "b", LONG)

    assert await stores.leases.holder("leader") == "b"
    assert not await stores.leases.try_acquire("leader", "a", LONG)


async def test_a_released_lease_is_free_at_once(stores: Stores) -> None:
    await stores.leases.try_acquire("leader", "a", LONG)

    await stores.leases.release("leader", "a")

    assert await stores.leases.holder("leader") is None
    assert await stores.leases.try_acquire("leader", "b", LONG)


async def test_only_the_holder_can_release(stores: Stores) -> None:
    await stores.leases.try_acquire("leader", "a", LONG)

    await stores.leases.release("leader", "b")
    await stores.leases.release("other", "a")

    assert await stores.leases.holder("leader") == "a"


async def test_leases_of_different_names_are_independent(stores: Stores) -> None:
    assert await stores.leases.try_acquire("sweeps", "a", LONG)
    assert await stores.leases.try_acquire("alerts", "b", LONG)

    assert await stores.leases.holder("sweeps") == "a"
    assert await stores.leases.holder("alerts") == "b"


async def test_of_many_asking_at_once_exactly_one_gets_the_lease(stores: Stores) -> None:
    holders = [f"h{n}" for n in range(8)]

    granted = await asyncio.gather(*(stores.leases.try_acquire("leader", h, LONG) for h in holders))

    assert sum(granted) == 1
    assert await stores.leases.holder("leader") == holders[granted.index(True)]
