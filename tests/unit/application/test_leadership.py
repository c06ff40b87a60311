"""Leadership over the fake lease: gained, renewed, lost when silent, released on stop."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from scheduler_application import DISPATCHER_LEASE, Leadership
from scheduler_errors import Unavailable
from scheduler_testing import FakeClock, FakeLeaseRepository, eventually

LEASE = 9.0


class Monotonic:
    """A monotonic clock the test moves (the instance's own sense of elapsed time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Elections:
    """Instances sharing one lease store, with the store's clock and each instance's monotonic clock."""

    def __init__(self) -> None:
        self.store_clock = FakeClock()
        self.leases = FakeLeaseRepository(self.store_clock.now)
        self.monotonic = Monotonic()

    def instance(self, holder: str, leases: FakeLeaseRepository | None = None) -> Leadership:
        return Leadership(
            leases=leases or self.leases, holder=holder, lease_seconds=LEASE, monotonic=self.monotonic
        )

    def advance(self, seconds: float) -> None:
        self.store_clock.advance(seconds)
        self.monotonic.now += seconds


class UnreachableLeases(FakeLeaseRepository):
    """A lease store that can be made to stop answering."""

    down = False

    async def try_acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        if self.down:
            raise Unavailable("database down")
        return await super().try_acquire(name, holder, ttl)

    async def release(self, name: str, holder: str) -> None:
        if self.down:
            raise Unavailable("database down")
        await super().release(name, holder)


@pytest.fixture
def elections() -> Elections:
    return Elections()


async def test_the_first_instance_to_ask_leads_and_keeps_leading_by_renewing(elections: Elections) -> None:
    first, second = elections.instance("a"), elections.instance("b")

    assert await first.renew()
    assert not await second.renew()
    for _ in range(5):
        elections.advance(LEASE / 3)
        assert await first.renew()
        assert not await second.renew()

    assert await elections.leases.holder(DISPATCHER_LEASE) == "a"
    assert first.is_leader
    assert not second.is_leader


async def test_another_instance_takes_over_once_the_silent_leader_lease_expires(
    elections: Elections, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scheduler_application.leadership")
    leader, standby = elections.instance("a"), elections.instance("b")
    await leader.renew()

    elections.advance(LEASE - 0.5)
    assert not await standby.renew()
    elections.advance(1)  # the leader died: nobody renewed for longer than the lease

    assert not leader.is_leader
    assert await standby.renew()
    assert not await leader.renew()
    assert await elections.leases.holder(DISPATCHER_LEASE) == "b"
    messages = [(r.message, getattr(r, "holder", None)) for r in caplog.records]
    assert messages == [("gained leadership", "a"), ("gained leadership", "b"), ("lost leadership", "a")]


async def test_a_leader_that_cannot_reach_the_store_stops_leading_when_its_lease_would_expire(
    elections: Elections,
) -> None:
    leases = UnreachableLeases(elections.store_clock.now)
    leader = elections.instance("a", leases)
    await leader.renew()
    leases.down = True

    elections.advance(LEASE - 0.1)
    assert await leader.renew()  # cannot renew, but nobody else can have the lease yet
    elections.advance(0.2)
    assert not await leader.renew()


async def test_release_hands_the_lease_over_at_once(elections: Elections) -> None:
    leader, standby = elections.instance("a"), elections.instance("b")
    await leader.renew()

    await leader.release()

    assert not leader.is_leader
    assert await elections.leases.holder(DISPATCHER_LEASE) is None
    assert await standby.renew()


async def test_hold_keeps_the_lease_until_stopped_then_releases_it() -> None:
    leases = FakeLeaseRepository()
    leadership = Leadership(leases=leases, holder="a", lease_seconds=0.3)
    holding = asyncio.create_task(leadership.hold())

    await eventually(lambda: leadership.is_leader)
    first_expiry = leases.rows[DISPATCHER_LEASE][1]
    # renewed every third of the lease time: the expiry moves on without anyone asking
    await eventually(lambda: leases.rows[DISPATCHER_LEASE][1] > first_expiry, within=2)
    assert leadership.is_leader

    leadership.stop()
    async with asyncio.timeout(1):
        await holding
    assert not leadership.is_leader
    assert leases.rows == {}
