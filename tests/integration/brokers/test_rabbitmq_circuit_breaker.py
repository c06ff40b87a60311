"""The RabbitMQ queue behind the circuit breaker, cut off by a proxy: publishes wait out
`publish_timeout` for a reconnection until `failure_threshold` of them failed, then fail at once;
once the broker is back and aio-pika has reconnected, a trial publish closes the breaker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest

from scheduler_errors import Unavailable
from scheduler_infrastructure import RabbitMQQueue
from scheduler_infrastructure.breaker import BreakerState, CircuitBreaker, CircuitOpen
from tests.conformance.queues import a_message, run_id_of, take
from tests.integration.breakers import fail_until_open, metered, refusals, shown, timed, until_it_succeeds
from tests.integration.brokers.servers import AMQP_URL, unreachable
from tests.integration.tcp_proxy import TcpProxy

KEY = "task.shell"
PUBLISH_TIMEOUT = 1.0
THRESHOLD = 2
RESET_TIMEOUT = 0.5


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    async with TcpProxy.to(AMQP_URL) as proxy:
        yield proxy


@pytest.fixture
def breaker() -> CircuitBreaker:
    return CircuitBreaker("rabbitmq", failure_threshold=THRESHOLD, reset_timeout=RESET_TIMEOUT)


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex[:10]}."


@pytest.fixture
async def queue(proxy: TcpProxy, breaker: CircuitBreaker, namespace: str) -> AsyncIterator[RabbitMQQueue]:
    """A queue reaching the broker through the proxy, in the test's namespace (removed after)."""
    try:
        queue = await RabbitMQQueue.connect(
            proxy.url(AMQP_URL),
            namespace=namespace,
            connection_name=namespace,
            reconnect_interval=0.2,
            publish_timeout=PUBLISH_TIMEOUT,
            breaker=breaker,
        )
    except Unavailable as exc:
        unreachable("RabbitMQ", AMQP_URL, exc)
    yield queue
    await queue.close()
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for name in (KEY, f"dead_letter.{KEY}"):
            await channel.queue_delete(namespace + name)
        await channel.exchange_delete(namespace + "scheduler")


async def test_publishes_fail_at_once_while_open_and_resume_after_a_trial(
    queue: RabbitMQQueue, proxy: TcpProxy, breaker: CircuitBreaker
) -> None:
    metrics = metered(breaker)
    await queue.publish(KEY, a_message(1))

    await proxy.refuse()
    slow = await fail_until_open(breaker, lambda: queue.publish(KEY, a_message(2)), within=30)
    refused = await refusals(lambda: queue.publish(KEY, a_message(3)), 20)

    assert len(slow) == THRESHOLD
    assert min(slow) >= PUBLISH_TIMEOUT * 0.9  # what a publish cost: a wait for a reconnection
    assert max(refused) < PUBLISH_TIMEOUT / 10
    assert shown(metrics, "rabbitmq") == (1.0, 1.0)
    _, refusal = await timed(lambda: queue.depth(KEY))
    assert isinstance(refusal, CircuitOpen)
    assert str(refusal).startswith("rabbitmq is unavailable: its circuit breaker is open after 2 failures")

    await proxy.restore()
    await until_it_succeeds(lambda: queue.publish(KEY, a_message(4)), within=30)

    assert breaker.state is BreakerState.CLOSED
    assert shown(metrics, "rabbitmq") == (0.0, 1.0)
    deliveries = queue.consume([KEY], prefetch=2)
    received = [await take(deliveries) for _ in range(2)]
    assert sorted(run_id_of(delivery) for delivery in received) == [1, 4]
    for delivery in received:
        await delivery.ack()
    assert await queue.ping()


async def test_a_refusal_by_the_broker_is_no_outage(
    queue: RabbitMQQueue, proxy: TcpProxy, breaker: CircuitBreaker, namespace: str
) -> None:
    await queue.publish(KEY, a_message(1))  # declares the queue
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(namespace + KEY)  # nothing is bound under the key: returned

    for run_id in range(2, 2 + THRESHOLD * 3):
        with pytest.raises(Unavailable, match=KEY):
            await queue.publish(KEY, a_message(run_id))

    assert breaker.state is BreakerState.CLOSED
    await proxy.refuse()  # whereas a broker that is gone does, from the first failure on
    opened = await fail_until_open(breaker, lambda: queue.publish(KEY, a_message(99)), within=30)
    assert len(opened) == THRESHOLD
