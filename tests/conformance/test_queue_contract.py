"""The message-queue contract, against the in-process queue, Redis Streams and RabbitMQ.

Each test has its own streams / queues (a random namespace) and removes them. Redis and
RabbitMQ are the shared servers of `SCHEDULER_TEST_REDIS_URL` / `SCHEDULER_TEST_AMQP_URL`; a
server that does not answer fails the test. A consumer that dies is a process killed with
SIGKILL while it holds a message (Redis reclaims the entry after the idle timeout, RabbitMQ
redelivers when the connection drops); in one process, it is a consumer task cancelled while it
holds an unsettled delivery that nothing references any more. The restart test runs on a
private redis-server and on RabbitMQ connections the broker closes. Two behaviours of a broker
have no in-process counterpart and are not run against it: messages outliving the queue object
(in one process the object is the broker), and a broker restart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from scheduler_domain import Message
from scheduler_errors import InvalidInput, Unavailable
from scheduler_testing import a_dispatch
from tests.conformance.queues import (
    COMMAND_KEY,
    DEADLINE,
    MAX_DELIVERIES,
    OTHER_KEY,
    TASK_KEY,
    Broker,
    RabbitMQBroker,
    RedisBroker,
    a_broker,
    a_message,
    nothing_within,
    run_id_of,
    take,
    until,
)
from tests.integration.brokers.servers import PrivateRedis

DEAD_TASK_KEY = f"dead_letter.{TASK_KEY}"


@pytest.fixture(params=["memory", "redis", "rabbitmq"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    """Each implementation in turn, on a namespace of its own."""
    chosen = a_broker(request.param)
    try:
        yield chosen
    finally:
        await chosen.cleanup()


@pytest.fixture
async def queue(broker: Broker) -> Any:
    """A queue object on the broker."""
    return await broker.open()


@pytest.fixture(params=["redis", "rabbitmq"])
async def server_broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    """The implementations whose messages live in a server, outside the queue object."""
    chosen = a_broker(request.param)
    try:
        yield chosen
    finally:
        await chosen.cleanup()


@pytest.fixture(params=["redis", "rabbitmq"])
async def restartable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Broker]:
    """A private redis-server that the test restarts; RabbitMQ connections the broker closes."""
    if request.param == "rabbitmq":
        chosen: RedisBroker | RabbitMQBroker = RabbitMQBroker()
        server = None
    else:
        server = PrivateRedis(tmp_path / "redis")
        await server.start()
        chosen = RedisBroker(server.url, server=server)
    try:
        yield chosen
    finally:
        await chosen.cleanup()
        if server is not None:
            await server.stop()


async def test_highest_priority_first_then_first_in_first_out(queue: Any) -> None:
    for run_id, priority in ((1, 0), (2, 3), (3, 1), (4, 3), (5, 0)):
        await queue.publish(TASK_KEY, a_message(run_id), priority=priority)
    deliveries = queue.consume([TASK_KEY], prefetch=10)

    order = []
    for _ in range(5):
        delivery = await take(deliveries)
        order.append(run_id_of(delivery))
        await delivery.ack()

    assert order == [2, 4, 3, 1, 5]


async def test_each_message_goes_to_exactly_one_of_competing_consumers(broker: Broker) -> None:
    queues = [await broker.open() for _ in range(3)]
    sent = [a_message(run_id) for run_id in range(200)]
    for message in sent:
        await queues[0].publish(TASK_KEY, message)
    seen: list[tuple[int, str]] = []
    all_seen = asyncio.Event()

    async def consume(index: int, queue: Any) -> None:
        async for delivery in queue.consume([TASK_KEY], prefetch=5):
            seen.append((index, delivery.message.id))
            await delivery.ack()
            if len(seen) >= len(sent):
                all_seen.set()
            await asyncio.sleep(0)  # a turn for the others, as real work would give

    consumers = [asyncio.create_task(consume(index, queue)) for index, queue in enumerate(queues)]
    try:
        async with asyncio.timeout(DEADLINE):
            await all_seen.wait()
    finally:
        for consumer in consumers:
            consumer.cancel()
        await asyncio.wait(consumers)

    assert Counter(message_id for _, message_id in seen) == Counter(message.id for message in sent)
    assert {index for index, _ in seen} == {0, 1, 2}


async def test_an_unacked_message_is_delivered_again_after_its_consumer_dies(broker: Broker) -> None:
    queue = await broker.open()
    await queue.publish(TASK_KEY, a_message(1))

    held_by_the_dead = await broker.kill_consumer_holding(TASK_KEY)
    again = await take(queue.consume([TASK_KEY], prefetch=1))

    assert again.message.id == held_by_the_dead
    assert again.delivery_count == 2
    await again.ack()


async def test_expired_messages_are_dropped_not_delivered(broker: Broker, queue: Any) -> None:
    now = broker.clock.now()
    await queue.publish(TASK_KEY, a_message(1, expires_at=now + timedelta(seconds=10)), priority=3)
    await queue.publish(TASK_KEY, a_message(2, expires_at=now + timedelta(seconds=60)))
    broker.clock.advance(10)

    delivery = await take(queue.consume([TASK_KEY], prefetch=5))
    await delivery.ack()

    assert run_id_of(delivery) == 2
    await until(lambda: _depths_are(queue, {TASK_KEY: 0, DEAD_TASK_KEY: 0}))


async def test_a_message_refused_too_often_is_dead_lettered(queue: Any) -> None:
    await queue.publish(TASK_KEY, a_message(1), priority=2)
    deliveries = queue.consume([TASK_KEY], prefetch=1)

    counts = []
    for _ in range(MAX_DELIVERIES):
        delivery = await take(deliveries)
        counts.append(delivery.delivery_count)
        await delivery.nack(requeue=True)
    dead = await take(queue.consume([DEAD_TASK_KEY], prefetch=1))

    assert counts == [1, 2, 3]
    assert (run_id_of(dead), dead.routing_key, dead.delivery_count) == (1, DEAD_TASK_KEY, 1)
    await dead.ack()
    await until(lambda: _depths_are(queue, {TASK_KEY: 0, DEAD_TASK_KEY: 0}))


async def test_a_nack_without_requeue_dead_letters_at_once(queue: Any) -> None:
    sent = a_message(1)
    await queue.publish(TASK_KEY, sent)

    await (await take(queue.consume([TASK_KEY], prefetch=1))).nack(requeue=False)
    dead = await take(queue.consume([DEAD_TASK_KEY], prefetch=1))

    assert dead.message == sent
    await dead.nack(requeue=False)  # a dead letter refused again is dropped, not nested
    await until(lambda: _depths_are(queue, {TASK_KEY: 0, DEAD_TASK_KEY: 0}))


async def test_the_envelope_and_its_headers_travel_intact(broker: Broker, queue: Any) -> None:
    sent = a_message(
        7,
        correlation_id="request-42",
        retry_count=2,
        expires_at=broker.clock.now() + timedelta(hours=1),
        headers={
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "tracestate": "congo=t61rcWkgMzE",
        },
    )
    await queue.publish(TASK_KEY, sent, priority=1)

    delivery = await take(queue.consume([TASK_KEY], prefetch=1))
    await delivery.ack()

    assert delivery.message == sent
    assert delivery.routing_key == TASK_KEY


async def test_a_consumer_never_holds_more_than_its_prefetch(queue: Any) -> None:
    for run_id in range(1, 6):
        await queue.publish(TASK_KEY, a_message(run_id))
    deliveries = queue.consume([TASK_KEY], prefetch=2)

    held = [await take(deliveries), await take(deliveries)]
    await until(lambda: _depths_are(queue, {TASK_KEY: 3}))
    assert await nothing_within(deliveries)

    await held[0].ack()
    third = await take(deliveries)

    assert [run_id_of(delivery) for delivery in (*held, third)] == [1, 2, 3]
    assert await nothing_within(deliveries)
    for delivery in (held[1], third):
        await delivery.ack()


async def test_the_prefetch_bounds_a_consumer_of_several_keys(queue: Any) -> None:
    await queue.publish(TASK_KEY, a_message(1))
    await queue.publish(OTHER_KEY, a_message(2))
    deliveries = queue.consume([TASK_KEY, OTHER_KEY], prefetch=1)

    first = await take(deliveries)
    assert await nothing_within(deliveries)  # a cancelled `anext` leaves the iterator usable
    await first.ack()
    second = await take(deliveries)
    await second.ack()

    assert {run_id_of(first), run_id_of(second)} == {1, 2}


async def test_one_queue_object_serves_two_consumers_at_once(queue: Any) -> None:
    """The worker's shape: its task keys with a prefetch, its own command key beside them."""
    tasks = queue.consume([TASK_KEY, OTHER_KEY], prefetch=2)
    commands = queue.consume([COMMAND_KEY], prefetch=1)
    waiting_command = asyncio.create_task(take(commands))
    await queue.publish(COMMAND_KEY, a_message(100))
    for run_id, key in ((1, TASK_KEY), (2, OTHER_KEY)):
        await queue.publish(key, a_message(run_id))

    command = await waiting_command
    runs = [await take(tasks), await take(tasks)]

    assert (command.routing_key, run_id_of(command)) == (COMMAND_KEY, 100)
    assert {(delivery.routing_key, run_id_of(delivery)) for delivery in runs} == {
        (TASK_KEY, 1),
        (OTHER_KEY, 2),
    }
    for delivery in (command, *runs):
        await delivery.ack()
    await until(lambda: _depths_are(queue, {TASK_KEY: 0, OTHER_KEY: 0, COMMAND_KEY: 0}))


async def test_close_ends_every_consumer_promptly(queue: Any) -> None:
    await queue.publish(TASK_KEY, a_message(1))
    busy = queue.consume([TASK_KEY], prefetch=1)
    held = await take(busy)  # unsettled through the close

    async def count(deliveries: AsyncIterator[Any]) -> int:
        return len([delivery async for delivery in deliveries])

    idle = [asyncio.create_task(count(queue.consume([key], prefetch=1))) for key in (TASK_KEY, COMMAND_KEY)]
    await asyncio.sleep(0)  # the idle consumers are waiting when the queue closes
    await queue.close()

    async with asyncio.timeout(2.0):
        assert await asyncio.gather(*idle) == [0, 0]
        assert await count(busy) == 0
    assert not await queue.ping()
    with pytest.raises(Unavailable):
        await queue.publish(TASK_KEY, a_message(2))
    assert run_id_of(held) == 1


async def test_messages_outlive_a_closed_queue_object(server_broker: Broker) -> None:
    closing = await server_broker.open()
    sent = [a_message(run_id) for run_id in range(1, 6)]
    for message in sent:
        await closing.publish(TASK_KEY, message)
    held = await take(closing.consume([TASK_KEY], prefetch=1))

    await closing.close()
    with pytest.raises(Unavailable):
        await held.ack()
    reopened = await server_broker.open()
    deliveries = reopened.consume([TASK_KEY], prefetch=5)
    received = [await take(deliveries) for _ in sent]

    assert sorted(delivery.message.id for delivery in received) == sorted(message.id for message in sent)
    for delivery in received:
        await delivery.ack()


async def test_publishing_and_consuming_survive_a_broker_restart(restartable: Broker) -> None:
    assert isinstance(restartable, RedisBroker | RabbitMQBroker)
    queue = await restartable.open()
    seen: list[str] = []
    grown = asyncio.Event()

    async def consume() -> None:
        async for delivery in queue.consume([TASK_KEY], prefetch=1):
            seen.append(delivery.message.id)
            with contextlib.suppress(Unavailable):  # settling across the restart may fail: it comes again
                await delivery.ack()
            grown.set()

    async def seen_all(messages: list[Any]) -> None:
        async with asyncio.timeout(DEADLINE):
            while not {message.id for message in messages} <= set(seen):
                grown.clear()
                await grown.wait()

    before = [a_message(run_id) for run_id in range(1, 6)]
    after = [a_message(run_id) for run_id in range(6, 11)]
    await queue.publish(OTHER_KEY, a_message(99))
    held = await take(queue.consume([OTHER_KEY], prefetch=1))
    consumer = asyncio.create_task(consume())
    try:
        for message in before:
            await queue.publish(TASK_KEY, message)
        await seen_all(before)

        await restartable.restart()
        for message in after:
            await queue.publish(TASK_KEY, message)
        await seen_all(before + after)
        try:
            await held.ack()  # Redis kept the pending entry in its file
        except Unavailable:  # RabbitMQ took the message back with the connection: it comes again
            again = await take(queue.consume([OTHER_KEY], prefetch=1))
            assert again.message.id == held.message.id
            await again.ack()
    finally:
        consumer.cancel()
        await asyncio.wait({consumer})

    assert set(seen) == {message.id for message in before + after}


async def test_a_prefetch_below_one_is_refused(queue: Any) -> None:
    with pytest.raises(InvalidInput, match="prefetch"):
        queue.consume([TASK_KEY], prefetch=0)


async def test_a_payload_a_broker_could_not_carry_is_refused(queue: Any) -> None:
    with pytest.raises(InvalidInput, match="payload"):
        await queue.publish(TASK_KEY, Message(payload=a_dispatch(arguments={"handle": object()})))


async def _depths_are(queue: Any, expected: dict[str, int]) -> bool:
    depths = {}
    for key in expected:
        depth = queue.depth(key)
        depths[key] = await depth if asyncio.iscoroutine(depth) else depth
    return depths == expected
