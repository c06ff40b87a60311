"""The in-process dispatch wake-up: a notification is never lost, and is consumed once."""

from __future__ import annotations

import asyncio

from scheduler_foundation import DispatchWakeup, DispatchWakeupListener
from scheduler_infrastructure import LocalWakeup

DEADLINE = 5.0


async def test_a_notify_before_the_wait_returns_at_once() -> None:
    wakeup = LocalWakeup()
    wakeup.notify()

    async with asyncio.timeout(DEADLINE):
        assert await wakeup.wait(max_wait=3600) is True


async def test_a_notify_during_the_wait_wakes_the_waiter() -> None:
    wakeup = LocalWakeup()
    waiter = asyncio.create_task(wakeup.wait(max_wait=3600))
    await asyncio.sleep(0)  # let the waiter start waiting; the outcome is the same if it has not

    wakeup.notify()

    async with asyncio.timeout(DEADLINE):
        assert await waiter is True


async def test_without_a_notify_the_wait_ends_after_max_wait() -> None:
    wakeup = LocalWakeup()

    async with asyncio.timeout(DEADLINE):
        assert await wakeup.wait(max_wait=0.01) is False


async def test_notifications_coalesce_and_are_consumed_by_one_wait() -> None:
    wakeup = LocalWakeup()
    wakeup.notify()
    wakeup.notify()

    async with asyncio.timeout(DEADLINE):
        assert await wakeup.wait(max_wait=1) is True
        assert await wakeup.wait(max_wait=0.01) is False


async def test_a_zero_wait_only_reports_a_pending_notification() -> None:
    wakeup = LocalWakeup()

    assert await wakeup.wait(max_wait=0) is False
    wakeup.notify()
    assert await wakeup.wait(max_wait=0) is True


async def test_one_object_serves_both_ports() -> None:
    wakeup = LocalWakeup()
    sender: DispatchWakeup = wakeup
    listener: DispatchWakeupListener = wakeup

    sender.notify()

    assert await listener.wait(max_wait=0) is True
