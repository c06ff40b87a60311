"""The coalescer sends a lone item at once and shares one flush among the items that pile up."""

from __future__ import annotations

import asyncio

import pytest

from scheduler_foundation import Coalescer


class Recorder:
    """A flush that records its batches and waits on a gate, so a test decides when it returns."""

    def __init__(self, errors: dict[str, BaseException] | None = None) -> None:
        self.batches: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.errors = errors or {}

    async def __call__(self, items: list[str]) -> list[BaseException | None]:
        self.batches.append(items)
        await self.gate.wait()
        return [self.errors.get(item) for item in items]


async def test_a_lone_item_is_flushed_at_once_and_alone() -> None:
    flush = Recorder()
    await asyncio.wait_for(Coalescer(flush).submit("a"), timeout=1)
    assert flush.batches == [["a"]]


async def test_items_submitted_during_a_flush_go_out_together_in_the_next() -> None:
    flush = Recorder()
    flush.gate.clear()
    coalescer = Coalescer(flush)
    first = asyncio.create_task(coalescer.submit("a"))
    await asyncio.sleep(0)  # the first flush starts and holds at the gate
    others = [asyncio.create_task(coalescer.submit(item)) for item in ("b", "c", "d")]
    await asyncio.sleep(0)
    assert flush.batches == [["a"]]
    flush.gate.set()
    await asyncio.wait_for(asyncio.gather(first, *others), timeout=1)
    assert flush.batches == [["a"], ["b", "c", "d"]]


async def test_batches_are_cut_at_the_maximum() -> None:
    flush = Recorder()
    flush.gate.clear()
    coalescer = Coalescer(flush, max_batch=2)
    submitted = [asyncio.create_task(coalescer.submit(item)) for item in "abcde"]
    await asyncio.sleep(0)
    flush.gate.set()
    await asyncio.wait_for(asyncio.gather(*submitted), timeout=1)
    assert flush.batches == [["a", "b"], ["c", "d"], ["e"]]


async def test_each_submitter_hears_its_own_error() -> None:
    flush = Recorder(errors={"bad": ValueError("no")})
    flush.gate.clear()
    coalescer = Coalescer(flush)
    good = asyncio.create_task(coalescer.submit("good"))
    bad = asyncio.create_task(coalescer.submit("bad"))
    await asyncio.sleep(0)
    flush.gate.set()
    await asyncio.wait_for(good, timeout=1)
    with pytest.raises(ValueError, match="no"):
        await asyncio.wait_for(bad, timeout=1)


async def test_a_failed_flush_fails_every_item_it_carried_and_the_next_one_goes_on() -> None:
    calls: list[list[str]] = []

    async def flaky(items: list[str]) -> None:
        calls.append(items)
        if len(calls) == 1:
            raise ConnectionError("broker gone")

    coalescer = Coalescer(flaky)
    with pytest.raises(ConnectionError):
        await coalescer.submit("a")
    await asyncio.wait_for(coalescer.submit("b"), timeout=1)
    assert calls == [["a"], ["b"]]


async def test_a_cancelled_submitter_does_not_break_the_flush_of_the_others() -> None:
    flush = Recorder()
    flush.gate.clear()
    coalescer = Coalescer(flush)
    first = asyncio.create_task(coalescer.submit("a"))
    await asyncio.sleep(0)
    second = asyncio.create_task(coalescer.submit("b"))
    third = asyncio.create_task(coalescer.submit("c"))
    await asyncio.sleep(0)
    second.cancel()
    flush.gate.set()
    await asyncio.wait_for(asyncio.gather(first, third), timeout=1)
    assert second.cancelled()
    assert flush.batches == [["a"], ["b", "c"]]


async def test_drain_waits_for_what_was_submitted() -> None:
    flush = Recorder()
    flush.gate.clear()
    coalescer = Coalescer(flush)
    submitted = asyncio.create_task(coalescer.submit("a"))
    await asyncio.sleep(0)
    draining = asyncio.create_task(coalescer.drain())
    await asyncio.sleep(0)
    assert not draining.done()
    flush.gate.set()
    await asyncio.wait_for(asyncio.gather(submitted, draining), timeout=1)
