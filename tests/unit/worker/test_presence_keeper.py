"""The worker's presence: registered at start, heartbeats with its load, gone at stop."""

from __future__ import annotations

import asyncio

import pytest

from scheduler_domain import WorkerInfo, WorkerStatus
from scheduler_errors import Unauthenticated, Unavailable
from scheduler_testing import FakeWorkerPresence, eventually
from scheduler_worker.presence import PresenceKeeper

WORKER = WorkerInfo(id="w1", hostname="host")


def keeper(presence: FakeWorkerPresence, load: int = 2) -> PresenceKeeper:
    return PresenceKeeper(presence=presence, worker=WORKER, load=lambda: load, interval_seconds=0.01)


async def test_registers_beats_with_the_load_and_deregisters_on_stop() -> None:
    presence = FakeWorkerPresence()
    keeping = keeper(presence, load=3)
    running = asyncio.create_task(keeping.run())

    await eventually(lambda: len(presence.beats) >= 3, within=2)
    keeping.stop()
    async with asyncio.timeout(2):
        await running

    assert presence.beats[0] == ("w1", 3, None)
    assert presence.beats[-1] == ("w1", 3, WorkerStatus.DRAINING)
    assert presence.workers == {}


async def test_an_api_that_does_not_answer_is_retried_while_the_worker_goes_on() -> None:
    presence = FakeWorkerPresence()
    presence.fail_with = Unavailable("api down")
    keeping = keeper(presence)
    running = asyncio.create_task(keeping.run())
    await asyncio.sleep(0.05)  # some failed attempts
    assert not keeping.registered.is_set()

    presence.fail_with = None

    await eventually(lambda: keeping.registered.is_set() and len(presence.beats) >= 1, within=3)
    keeping.stop()
    async with asyncio.timeout(2):
        await running


async def test_a_forgotten_worker_registers_again() -> None:
    presence = FakeWorkerPresence()
    keeping = keeper(presence)
    running = asyncio.create_task(keeping.run())
    await eventually(lambda: presence.registrations == 1 and presence.beats, within=2)

    presence.workers.clear()  # e.g. removed by an operator

    await eventually(lambda: presence.registrations == 2, within=2)
    keeping.stop()
    async with asyncio.timeout(2):
        await running


async def test_a_refused_key_ends_run_with_the_error() -> None:
    presence = FakeWorkerPresence()
    presence.fail_with = Unauthenticated("bad key")

    with pytest.raises(Unauthenticated):
        async with asyncio.timeout(2):
            await keeper(presence).run()


async def test_stop_before_registering_returns_promptly() -> None:
    presence = FakeWorkerPresence()
    presence.fail_with = Unavailable("api down")
    keeping = keeper(presence)
    running = asyncio.create_task(keeping.run())
    await asyncio.sleep(0.02)

    keeping.stop()

    async with asyncio.timeout(1):
        await running
    assert presence.registrations == 0


async def test_check_in_registers_once_and_run_does_not_register_again() -> None:
    presence = FakeWorkerPresence()
    keeping = keeper(presence)

    await keeping.check_in()
    running = asyncio.create_task(keeping.run())
    await eventually(lambda: len(presence.beats) >= 1, within=2)
    keeping.stop()
    async with asyncio.timeout(2):
        await running

    assert presence.registrations == 1


async def test_check_in_raises_a_refused_key_but_leaves_an_unanswering_api_to_run() -> None:
    refused, unanswering = FakeWorkerPresence(), FakeWorkerPresence()
    refused.fail_with = Unauthenticated("bad key")
    unanswering.fail_with = Unavailable("down")

    with pytest.raises(Unauthenticated):
        await keeper(refused).check_in()
    await keeper(unanswering).check_in()
