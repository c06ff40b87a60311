"""What the RabbitMQ queue does beyond the shared contract: its topology, message properties,
publisher confirms, counting broker redeliveries, and giving back what the broker pushed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import pytest

from scheduler_errors import Unavailable
from scheduler_infrastructure import RabbitMQQueue
from tests.conformance.queues import a_message, kill_consumer_holding, run_id_of, take
from tests.integration.brokers.servers import AMQP_URL, free_port, rabbitmqctl, unreachable

KEY = "task.shell"
DEAD_KEY = f"dead_letter.{KEY}"

Opener = Callable[..., Awaitable[RabbitMQQueue]]


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex[:10]}."


@pytest.fixture
async def raw() -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A plain channel on the broker, to look at and tamper with the queues."""
    try:
        connection = await aio_pika.connect(AMQP_URL)
    except (OSError, aio_pika.exceptions.AMQPError) as exc:
        unreachable("RabbitMQ", AMQP_URL, exc)
    yield await connection.channel()
    await connection.close()


@pytest.fixture
async def open_queue(namespace: str, raw: aio_pika.abc.AbstractChannel) -> AsyncIterator[Opener]:
    """`await open_queue(**options)`: a queue object on the broker, in the test's namespace."""
    opened: list[RabbitMQQueue] = []

    async def open_queue(**options: Any) -> RabbitMQQueue:
        settings = {
            "namespace": namespace,
            "connection_name": namespace,
            "reconnect_interval": 0.2,
            **options,
        }
        try:
            queue = await RabbitMQQueue.connect(AMQP_URL, **settings)
        except Unavailable as exc:
            unreachable("RabbitMQ", AMQP_URL, exc)
        opened.append(queue)
        return queue

    yield open_queue
    for queue in opened:
        await queue.close()
    for name in (KEY, DEAD_KEY):
        await raw.queue_delete(namespace + name)
    await raw.exchange_delete(namespace + "scheduler")


async def test_the_topology_is_durable_with_priorities_and_dead_letters(
    open_queue: Opener, namespace: str
) -> None:
    queue = await open_queue()
    await queue.publish(KEY, a_message(1))

    exchanges = await rabbitmqctl(
        "list_exchanges", "name", "type", "durable", "--quiet", "--no-table-headers"
    )
    queues = await rabbitmqctl("list_queues", "name", "durable", "arguments", "--quiet", "--no-table-headers")
    described = {line.split("\t")[0]: line.split("\t")[1:] for line in queues.splitlines()}

    assert f"{namespace}scheduler\ttopic\ttrue" in exchanges.splitlines()
    durable, arguments = described[namespace + KEY]
    assert durable == "true"
    assert '{"x-max-priority",3}' in arguments
    assert f'{{"x-dead-letter-exchange","{namespace}scheduler"}}' in arguments
    assert f'{{"x-dead-letter-routing-key","{DEAD_KEY}"}}' in arguments
    assert described[namespace + DEAD_KEY] == ["true", '[{"x-max-priority",3}]']


async def test_messages_are_persistent_and_carry_their_priority_and_id(
    open_queue: Opener, raw: aio_pika.abc.AbstractChannel, namespace: str
) -> None:
    queue = await open_queue()
    sent = a_message(1, correlation_id="request-9")
    await queue.publish(KEY, sent, priority=7)  # above x-max-priority: sent as 3

    stored = await (await raw.get_queue(namespace + KEY, ensure=False)).get(timeout=5)
    await stored.ack()

    assert stored.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert (stored.priority, stored.message_id, stored.correlation_id) == (3, sent.id, "request-9")
    assert (stored.type, stored.headers) == ("run.dispatch", {"x-scheduler-deliveries": 0})


async def test_a_message_the_broker_returns_is_unavailable(
    open_queue: Opener, raw: aio_pika.abc.AbstractChannel, namespace: str
) -> None:
    queue = await open_queue(publish_timeout=5.0)
    await queue.publish(KEY, a_message(1))
    await raw.queue_delete(namespace + KEY)  # nothing is bound under the key any more

    with pytest.raises(Unavailable, match=KEY):
        await queue.publish(KEY, a_message(2))


async def test_a_queue_declared_otherwise_is_unavailable(
    open_queue: Opener, raw: aio_pika.abc.AbstractChannel, namespace: str
) -> None:
    await raw.declare_queue(namespace + KEY, durable=True)  # no priority, no dead letters
    queue = await open_queue(publish_timeout=5.0)

    with pytest.raises(Unavailable, match="PRECONDITION_FAILED"):
        await queue.publish(KEY, a_message(1))


async def test_a_message_whose_consumer_died_too_often_is_dead_lettered(
    open_queue: Opener, namespace: str
) -> None:
    queue = await open_queue(max_deliveries=1)
    await queue.publish(KEY, a_message(1))

    killed_with = await kill_consumer_holding("rabbitmq", AMQP_URL, namespace, KEY)  # its one delivery
    consuming = asyncio.create_task(take(queue.consume([KEY], prefetch=1)))  # takes the redelivery
    dead = await take(queue.consume([DEAD_KEY], prefetch=1))

    assert (dead.message.id, dead.delivery_count) == (killed_with, 1)
    assert not consuming.done()
    consuming.cancel()
    assert await queue.depth(KEY) == 0


async def test_closing_an_iterator_gives_back_what_the_broker_pushed_uncounted(open_queue: Opener) -> None:
    first, second = await open_queue(), await open_queue()
    for run_id in (1, 2, 3):
        await first.publish(KEY, a_message(run_id))
    deliveries = first.consume([KEY], prefetch=5)
    held = await take(deliveries)  # the broker pushed all three

    await deliveries.aclose()  # type: ignore[attr-defined]
    others = second.consume([KEY], prefetch=5)
    rest = [await take(others), await take(others)]

    assert sorted(run_id_of(d) for d in rest) == [2, 3]
    assert [d.delivery_count for d in rest] == [1, 1]
    await held.ack()  # its channel stays open while it is held


async def test_a_broker_that_does_not_answer_is_unavailable_and_the_password_stays_secret() -> None:
    url = f"amqp://guest:hunter2@127.0.0.1:{free_port()}/"

    with pytest.raises(Unavailable) as raised:
        await RabbitMQQueue.connect(url, publish_timeout=2.0)

    assert "hunter2" not in str(raised.value)
    assert "127.0.0.1" in str(raised.value)
