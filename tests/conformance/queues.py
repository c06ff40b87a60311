"""The message queues under contract: how each is opened, restarted and cleaned up, and how a
consumer of it dies.

A broker here is what the queue objects of one test share: for Redis and RabbitMQ a namespace
(stream and queue names) of the shared server, each `open()` a new connection; for the
in-process queue the one queue object, since in one process the queue *is* the broker.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika

from scheduler_domain import Message, worker_command_key
from scheduler_errors import Unavailable
from scheduler_infrastructure import InMemoryMessageQueue, RabbitMQQueue, RedisStreamsQueue
from scheduler_testing import FakeClock, a_dispatch
from tests.integration.brokers.servers import (
    AMQP_URL,
    REDIS_URL,
    PrivateRedis,
    close_amqp_connections,
    delete_redis_keys,
    unreachable,
)

TASK_KEY = "task.shell"
OTHER_KEY = "task.http"
COMMAND_KEY = worker_command_key("w-1")
KEYS = (TASK_KEY, OTHER_KEY, COMMAND_KEY)
MAX_DELIVERIES = 3
CLAIM_IDLE_MS = 300  # Redis: how long an entry of a dead consumer stays pending before it is reclaimed
DEADLINE = 10.0

#: A consumer in a process of its own: takes one message, says which, and holds it unsettled.
DYING_CONSUMER = """
import asyncio, sys
from scheduler_infrastructure import RabbitMQQueue, RedisStreamsQueue

async def main(kind, url, namespace, key, claim_idle_ms):
    if kind == "redis":
        queue = await RedisStreamsQueue.connect(
            url, namespace=namespace, claim_idle_ms=int(claim_idle_ms), block_ms=100
        )
    else:
        queue = await RabbitMQQueue.connect(url, namespace=namespace, connection_name=namespace + "dying")
    delivery = await anext(aiter(queue.consume([key], prefetch=1)))
    print(delivery.message.id, flush=True)
    await asyncio.Event().wait()

asyncio.run(main(*sys.argv[1:]))
"""


def a_message(run_id: int, **fields: Any) -> Message:
    """A run dispatch for `run_id`."""
    return Message(payload=a_dispatch(run_id=run_id), **fields)


def run_id_of(delivery: Any) -> int:
    """The run a delivered dispatch is for."""
    run_id: int = delivery.message.payload.run_id
    return run_id


async def take(deliveries: AsyncIterator[Any], within: float = DEADLINE) -> Any:
    """The next delivery, failing the test if none comes within the deadline."""
    async with asyncio.timeout(within):
        return await anext(deliveries)


async def nothing_within(deliveries: AsyncIterator[Any], seconds: float = 0.3) -> bool:
    """True when no delivery arrives within `seconds` (the iterator stays usable)."""
    try:
        async with asyncio.timeout(seconds):
            await anext(deliveries)
    except TimeoutError:
        return True
    return False


async def until(condition: Callable[[], Awaitable[bool]], within: float = DEADLINE) -> None:
    """Return once the async `condition` holds; `TimeoutError` after `within` seconds."""
    async with asyncio.timeout(within):
        while not await condition():
            await asyncio.sleep(0.02)


async def kill_consumer_holding(kind: str, url: str, namespace: str, routing_key: str) -> str:
    """Start a consumer process, wait until it holds a message, SIGKILL it; the message's id."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        DYING_CONSUMER,
        kind,
        url,
        namespace,
        routing_key,
        str(CLAIM_IDLE_MS),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(DEADLINE):
            line = await process.stdout.readline()
    finally:
        process.kill()  # no clean-up of any kind: the connection just drops
        await process.wait()
    message_id = line.decode().strip()
    assert message_id, "the consumer process died before it took a message"
    return message_id


class MemoryBroker:
    """The in-process queue: one object, which every `open` returns."""

    kind = "memory"

    def __init__(self) -> None:
        self.clock = FakeClock()
        self._queue = InMemoryMessageQueue(max_deliveries=MAX_DELIVERIES, clock=self.clock)

    async def open(self) -> InMemoryMessageQueue:
        return self._queue

    async def kill_consumer_holding(self, routing_key: str) -> str:
        """In one process a consumer dies with its task: cancelled while it holds an unsettled
        delivery, which nothing references any more."""
        held: list[str] = []
        taken = asyncio.Event()

        async def consumer() -> None:
            delivery = await anext(aiter(self._queue.consume([routing_key], prefetch=1)))
            held.append(delivery.message.id)
            taken.set()
            await asyncio.Event().wait()

        task = asyncio.create_task(consumer())
        async with asyncio.timeout(DEADLINE):
            await taken.wait()
        task.cancel()
        await asyncio.wait({task})
        del task
        gc.collect()
        return held[0]

    async def cleanup(self) -> None:
        await self._queue.close()


class RedisBroker:
    """A namespace of streams on a Redis server; each `open` is a new connection and consumer."""

    kind = "redis"

    def __init__(self, url: str = REDIS_URL, *, server: PrivateRedis | None = None) -> None:
        self.url = url
        self.namespace = f"test-{uuid.uuid4().hex[:10]}:"
        self.clock = FakeClock()
        self._server = server
        self._opened: list[RedisStreamsQueue] = []

    async def open(self, **options: Any) -> RedisStreamsQueue:
        settings: dict[str, Any] = {
            "namespace": self.namespace,
            "max_deliveries": MAX_DELIVERIES,
            "claim_idle_ms": CLAIM_IDLE_MS,
            "block_ms": 100,
            "clock": self.clock,
            **options,
        }
        try:
            queue = await RedisStreamsQueue.connect(self.url, **settings)
        except Unavailable as exc:
            unreachable("Redis", self.url, exc)
        self._opened.append(queue)
        return queue

    async def kill_consumer_holding(self, routing_key: str) -> str:
        return await kill_consumer_holding("redis", self.url, self.namespace, routing_key)

    async def restart(self) -> None:
        """Restart the private server (stop with SIGTERM, start on the same port and file)."""
        assert self._server is not None, "only a private redis-server is restarted"
        await self._server.restart()

    async def cleanup(self) -> None:
        for queue in self._opened:
            await queue.close()
        await delete_redis_keys(self.url, f"{self.namespace}*")


class RabbitMQBroker:
    """A namespace of exchange and queues on a RabbitMQ broker; each `open` a new connection, all
    of them with the namespace as connection name."""

    kind = "rabbitmq"

    def __init__(self, url: str = AMQP_URL) -> None:
        self.url = url
        self.namespace = f"test-{uuid.uuid4().hex[:10]}."
        self.clock = FakeClock()
        self._opened: list[RabbitMQQueue] = []

    async def open(self, **options: Any) -> RabbitMQQueue:
        settings: dict[str, Any] = {
            "namespace": self.namespace,
            "connection_name": self.namespace,
            "max_deliveries": MAX_DELIVERIES,
            "reconnect_interval": 0.2,
            "clock": self.clock,
            **options,
        }
        try:
            queue = await RabbitMQQueue.connect(self.url, **settings)
        except Unavailable as exc:
            unreachable("RabbitMQ", self.url, exc)
        self._opened.append(queue)
        return queue

    async def kill_consumer_holding(self, routing_key: str) -> str:
        return await kill_consumer_holding("rabbitmq", self.url, self.namespace, routing_key)

    async def restart(self) -> None:
        """What clients see of a broker restart: the broker closes every connection."""
        assert await close_amqp_connections(self.namespace) > 0, "no connection to close"

    async def cleanup(self) -> None:
        for queue in self._opened:
            await queue.close()
        connection = await aio_pika.connect(self.url)
        try:
            channel = await connection.channel()
            for key in KEYS:
                for name in (key, f"dead_letter.{key}"):
                    await channel.queue_delete(self.namespace + name)
            await channel.exchange_delete(self.namespace + "scheduler")
        finally:
            await connection.close()


Broker = MemoryBroker | RedisBroker | RabbitMQBroker


def a_broker(kind: str) -> Broker:
    """The broker of `kind` on the shared servers."""
    brokers: dict[str, Callable[[], Broker]] = {
        "memory": MemoryBroker,
        "redis": RedisBroker,
        "rabbitmq": RabbitMQBroker,
    }
    return brokers[kind]()
