"""The Redis Streams queue behind the circuit breaker, cut off by a proxy that stops answering:
after `failure_threshold` timeouts, publishes fail at once, the consumer waits instead of
crashing, and the first trial after the server answers again closes the breaker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from scheduler_errors import Unavailable
from scheduler_infrastructure import RedisStreamsQueue
from scheduler_infrastructure.breaker import BreakerState, CircuitBreaker, CircuitOpen
from tests.conformance.queues import a_message, run_id_of
from tests.integration.breakers import fail_until_open, metered, refusals, shown, timed, until_it_succeeds
from tests.integration.brokers.servers import REDIS_URL, delete_redis_keys, unreachable
from tests.integration.tcp_proxy import TcpProxy

KEY = "task.shell"
SOCKET_TIMEOUT = 0.5
THRESHOLD = 2
RESET_TIMEOUT = 0.5
DEADLINE = 10.0


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    async with TcpProxy.to(REDIS_URL) as proxy:
        yield proxy


@pytest.fixture
def breaker() -> CircuitBreaker:
    return CircuitBreaker("redis", failure_threshold=THRESHOLD, reset_timeout=RESET_TIMEOUT)


@pytest.fixture
async def queue(proxy: TcpProxy, breaker: CircuitBreaker) -> AsyncIterator[RedisStreamsQueue]:
    """A queue reaching Redis through the proxy; its client gives up on a silent server after
    `SOCKET_TIMEOUT` (three tries), as `connect`'s does after 11 s."""
    namespace = f"test-{uuid.uuid4().hex[:10]}:"
    client = Redis.from_url(
        proxy.url(REDIS_URL),
        socket_connect_timeout=SOCKET_TIMEOUT,
        socket_timeout=SOCKET_TIMEOUT,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
    )
    queue = RedisStreamsQueue(client=client, namespace=namespace, block_ms=100, breaker=breaker)
    if not await queue.ping():
        unreachable("Redis", REDIS_URL, ConnectionError("no answer through the proxy"))
    yield queue
    await queue.close()
    await delete_redis_keys(REDIS_URL, f"{namespace}*")


async def test_publishes_fail_at_once_while_open_and_resume_after_a_trial(
    queue: RedisStreamsQueue, proxy: TcpProxy, breaker: CircuitBreaker
) -> None:
    metrics = metered(breaker)
    received: asyncio.Queue[int] = asyncio.Queue()

    async def consume() -> None:
        async for delivery in queue.consume([KEY], prefetch=4):
            await delivery.ack()
            received.put_nowait(run_id_of(delivery))

    consumer = asyncio.create_task(consume())
    await queue.publish(KEY, a_message(1))
    assert await asyncio.wait_for(received.get(), DEADLINE) == 1

    await proxy.black_hole()
    slow = await fail_until_open(breaker, lambda: queue.publish(KEY, a_message(2)), within=60)
    refused = await refusals(lambda: queue.publish(KEY, a_message(3)), 20)

    assert slow[0] >= SOCKET_TIMEOUT  # what a publish cost before it opened: a read that timed out
    assert max(refused) < SOCKET_TIMEOUT / 10
    assert shown(metrics, "redis") == (1.0, 1.0)
    _, refusal = await timed(lambda: queue.depth(KEY))
    assert isinstance(refusal, CircuitOpen)
    assert str(refusal).startswith("redis is unavailable: its circuit breaker is open after")
    assert not await queue.ping()
    assert not consumer.done()  # the consumer waits for the breaker; it does not fail

    await proxy.restore()
    await until_it_succeeds(lambda: queue.publish(KEY, a_message(4)), within=30)

    assert breaker.state is BreakerState.CLOSED
    assert shown(metrics, "redis") == (0.0, 1.0)
    assert await asyncio.wait_for(received.get(), DEADLINE) == 4  # consumed and acked again
    assert not consumer.done()
    consumer.cancel()
    await asyncio.wait({consumer})
    assert await queue.depth(KEY) == 0


async def test_a_consumer_alone_opens_it_and_waits_it_out(
    queue: RedisStreamsQueue, proxy: TcpProxy, breaker: CircuitBreaker
) -> None:
    deliveries = queue.consume([KEY], prefetch=1)
    fetch = asyncio.create_task(anext(deliveries))
    await asyncio.sleep(0)

    await proxy.refuse()
    async with asyncio.timeout(DEADLINE):
        while breaker.state is BreakerState.CLOSED:
            await asyncio.sleep(0.01)
    assert not fetch.done()  # backing off or waiting for the breaker, not failed

    await proxy.restore()
    await until_it_succeeds(lambda: queue.publish(KEY, a_message(7)), within=30)
    delivery = await asyncio.wait_for(fetch, DEADLINE)

    assert run_id_of(delivery) == 7
    await delivery.ack()
    assert breaker.times_opened == 1


async def test_a_full_stream_is_no_outage(proxy: TcpProxy, breaker: CircuitBreaker) -> None:
    namespace = f"test-{uuid.uuid4().hex[:10]}:"
    queue = await RedisStreamsQueue.connect(
        proxy.url(REDIS_URL), namespace=namespace, max_stream_length=1, breaker=breaker
    )
    try:
        await queue.publish(KEY, a_message(1))
        for run_id in range(2, 2 + THRESHOLD * 3):
            with pytest.raises(Unavailable, match="full"):
                await queue.publish(KEY, a_message(run_id))

        assert breaker.state is BreakerState.CLOSED
        await proxy.refuse()  # whereas a server that is gone does, from the first failure on
        opened = await fail_until_open(breaker, lambda: queue.publish(KEY, a_message(99)), within=30)
        assert len(opened) == THRESHOLD
    finally:
        await queue.close()
        await delete_redis_keys(REDIS_URL, f"{namespace}*")
