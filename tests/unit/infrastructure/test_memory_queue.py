"""The in-process message queue: ordering, competing consumers, prefetch, requeue, dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from scheduler_domain import Message
from scheduler_errors import InvalidInput, Unavailable
from scheduler_infrastructure import InMemoryDelivery, InMemoryMessageQueue
from scheduler_testing import FakeClock, a_dispatch

KEY = "task.shell"
DEADLINE = 5.0


def a_message(run_id: int, **fields: Any) -> Message:
    return Message(payload=a_dispatch(run_id=run_id), **fields)


def run_id_of(delivery: InMemoryDelivery) -> int:
    return delivery.message.payload.run_id


async def take(deliveries: AsyncIterator[InMemoryDelivery]) -> InMemoryDelivery:
    """The next delivery, failing the test if none comes within the deadline."""
    async with asyncio.timeout(DEADLINE):
        return await anext(deliveries)


async def nothing_within(deliveries: AsyncIterator[InMemoryDelivery], seconds: float = 0.05) -> bool:
    """True when no delivery arrives within `seconds` (the iterator stays usable)."""
    try:
        async with asyncio.timeout(seconds):
            await anext(deliveries)
    except TimeoutError:
        return True
    return False


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def queue(clock: FakeClock) -> AsyncIterator[InMemoryMessageQueue]:
    messages = InMemoryMessageQueue(max_deliveries=3, clock=clock)
    yield messages
    await messages.close()


async def test_highest_priority_first_then_first_in_first_out(queue: InMemoryMessageQueue) -> None:
    for run_id, priority in ((1, 0), (2, 3), (3, 1), (4, 3), (5, 0)):
        await queue.publish(KEY, a_message(run_id), priority=priority)
    deliveries = queue.consume([KEY], prefetch=10)

    order = [run_id_of(await take(deliveries)) for _ in range(5)]

    assert order == [2, 4, 3, 1, 5]


async def test_a_consumer_of_several_keys_gets_the_best_message_of_all(queue: InMemoryMessageQueue) -> None:
    await queue.publish("task.http", a_message(1), priority=1)
    await queue.publish(KEY, a_message(2), priority=2)
    await queue.publish("task.python", a_message(3), priority=2)
    await queue.publish("task.http", a_message(4), priority=1)
    deliveries = queue.consume([KEY, "task.http"], prefetch=10)

    received = [(d.routing_key, run_id_of(d)) for d in [await take(deliveries) for _ in range(3)]]

    assert received == [(KEY, 2), ("task.http", 1), ("task.http", 4)]
    assert queue.depth("task.python") == 1


async def test_messages_travel_encoded(queue: InMemoryMessageQueue) -> None:
    sent = a_message(1, headers={"traceparent": "00-abc-def-01"})
    await queue.publish(KEY, sent)

    received = (await take(queue.consume([KEY], prefetch=1))).message

    assert received == sent
    assert received is not sent


async def test_a_payload_a_broker_could_not_carry_is_refused(queue: InMemoryMessageQueue) -> None:
    message = Message(payload=a_dispatch(arguments={"handle": object()}))

    with pytest.raises(InvalidInput, match="payload"):
        await queue.publish(KEY, message)
    assert queue.depth(KEY) == 0


async def test_competing_consumers_each_get_different_messages(queue: InMemoryMessageQueue) -> None:
    first = queue.consume([KEY], prefetch=1)
    second = queue.consume([KEY], prefetch=1)
    for run_id in range(1, 41):
        await queue.publish(KEY, a_message(run_id))

    a = await take(first)
    b = await take(second)  # `first` holds its prefetch of one, so this one must go elsewhere
    seen = [run_id_of(a), run_id_of(b)]
    all_seen = asyncio.Event()

    async def drain(deliveries: AsyncIterator[InMemoryDelivery], held: InMemoryDelivery) -> None:
        await held.ack()
        async for delivery in deliveries:
            seen.append(run_id_of(delivery))
            await delivery.ack()
            if len(seen) >= 40:
                all_seen.set()

    consumers = [asyncio.create_task(drain(first, a)), asyncio.create_task(drain(second, b))]
    async with asyncio.timeout(DEADLINE):
        await all_seen.wait()
        await queue.close()
        await asyncio.gather(*consumers)

    assert run_id_of(a) != run_id_of(b)
    assert sorted(seen) == list(range(1, 41))


async def test_a_consumer_never_holds_more_than_its_prefetch(queue: InMemoryMessageQueue) -> None:
    for run_id in range(1, 6):
        await queue.publish(KEY, a_message(run_id))
    deliveries = queue.consume([KEY], prefetch=2)

    held = [await take(deliveries), await take(deliveries)]
    assert await nothing_within(deliveries)
    assert queue.depth(KEY) == 3

    await held[0].ack()
    third = await take(deliveries)

    assert run_id_of(third) == 3
    assert await nothing_within(deliveries)


async def test_a_requeued_message_comes_back_first_and_counts_deliveries(queue: InMemoryMessageQueue) -> None:
    await queue.publish(KEY, a_message(1))
    await queue.publish(KEY, a_message(2))
    deliveries = queue.consume([KEY], prefetch=1)

    first = await take(deliveries)
    await first.nack(requeue=True)
    again = await take(deliveries)

    assert run_id_of(again) == 1
    assert again.message.id == first.message.id
    assert (first.delivery_count, again.delivery_count) == (1, 2)


async def test_a_message_refused_too_often_is_dead_lettered(queue: InMemoryMessageQueue) -> None:
    await queue.publish(KEY, a_message(1), priority=2)
    deliveries = queue.consume([KEY], prefetch=1)

    counts = []
    for _ in range(3):  # the queue's max_deliveries
        delivery = await take(deliveries)
        counts.append(delivery.delivery_count)
        await delivery.nack(requeue=True)

    assert counts == [1, 2, 3]
    assert await nothing_within(deliveries)
    assert queue.depth(f"dead_letter.{KEY}") == 1
    dead = await take(queue.consume([f"dead_letter.{KEY}"], prefetch=1))
    assert run_id_of(dead) == 1


async def test_a_nack_without_requeue_dead_letters_at_once(queue: InMemoryMessageQueue) -> None:
    await queue.publish(KEY, a_message(1))

    await (await take(queue.consume([KEY], prefetch=1))).nack(requeue=False)

    assert queue.depth(KEY) == 0
    assert queue.depth(f"dead_letter.{KEY}") == 1


async def test_an_acked_message_is_gone(queue: InMemoryMessageQueue) -> None:
    await queue.publish(KEY, a_message(1))
    deliveries = queue.consume([KEY], prefetch=1)

    delivery = await take(deliveries)
    await delivery.ack()

    assert await nothing_within(deliveries)
    with pytest.raises(RuntimeError, match="already"):
        await delivery.nack(requeue=True)
    assert queue.depth(KEY) == 0


async def test_expired_messages_are_dropped_not_delivered(
    queue: InMemoryMessageQueue, clock: FakeClock
) -> None:
    await queue.publish(KEY, a_message(1, expires_at=clock.now() + timedelta(seconds=10)), priority=3)
    await queue.publish(KEY, a_message(2, expires_at=clock.now() + timedelta(seconds=60)))
    clock.advance(10)

    delivery = await take(queue.consume([KEY], prefetch=5))

    assert run_id_of(delivery) == 2
    assert queue.depth(KEY) == 0
    assert queue.depth(f"dead_letter.{KEY}") == 0


async def test_close_ends_every_consumer_and_keeps_unsettled_messages(queue: InMemoryMessageQueue) -> None:
    await queue.publish(KEY, a_message(1))
    busy = queue.consume([KEY], prefetch=1)
    held = await take(busy)

    async def consume_all(deliveries: AsyncIterator[InMemoryDelivery]) -> int:
        return len([d async for d in deliveries])

    waiting = [
        asyncio.create_task(consume_all(queue.consume([key], prefetch=1))) for key in (KEY, "task.http")
    ]
    await queue.close()

    async with asyncio.timeout(DEADLINE):
        assert await asyncio.gather(*waiting) == [0, 0]
        assert await consume_all(busy) == 0
    assert not await queue.ping()
    with pytest.raises(Unavailable):
        await queue.publish(KEY, a_message(2))
    await held.nack(requeue=True)
    assert queue.depth(KEY) == 1


async def test_ping_answers_until_closed(queue: InMemoryMessageQueue) -> None:
    assert await queue.ping()


def test_a_prefetch_below_one_is_refused(queue: InMemoryMessageQueue) -> None:
    with pytest.raises(InvalidInput, match="prefetch"):
        queue.consume([KEY], prefetch=0)
