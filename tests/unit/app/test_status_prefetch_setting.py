"""`queue.prefetch` is how many status reports a dispatcher holds while it applies them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from dependency_injector import containers, providers

from scheduler_app.containers.basics import Core
from scheduler_app.containers.parts import Roles
from scheduler_config import load_config
from scheduler_testing import FakeDelivery, FakeMessageQueue


class RecordingQueue(FakeMessageQueue):
    """A fake queue that remembers the prefetch each consumer asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.prefetches: list[int] = []

    async def consume(self, routing_keys: Sequence[str], *, prefetch: int) -> AsyncIterator[FakeDelivery]:
        self.prefetches.append(prefetch)
        async for delivery in super().consume(routing_keys, prefetch=prefetch):
            yield delivery


class Messaging(containers.DeclarativeContainer):
    queue = providers.Singleton(RecordingQueue)


class NoReports(containers.DeclarativeContainer):
    status_reports = providers.Object(None)  # no report arrives in these tests


@pytest.mark.parametrize(("env", "prefetch"), [({}, 256), ({"SCHEDULER_QUEUE__PREFETCH": "32"}, 32)])
async def test_the_status_applier_consumes_with_the_configured_prefetch(
    env: dict[str, str], prefetch: int
) -> None:
    messaging = Messaging()
    applier = Roles(
        core=Core(config=load_config(env)), messaging=messaging, use_cases=NoReports()
    ).status_applier()
    queue = messaging.queue()

    running = asyncio.create_task(applier.run())
    async with asyncio.timeout(5):
        while not queue.prefetches:
            await asyncio.sleep(0.01)
    applier.stop()
    await asyncio.wait_for(running, 5)

    assert queue.prefetches == [prefetch]
