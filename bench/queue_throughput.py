"""Message-queue throughput: publish, and publish-consume-ack, for each adapter.

    uv run python bench/queue_throughput.py [--count 10000] [--adapters memory,redis,rabbitmq]

For each adapter, on a namespace of its own that is removed afterwards:

* publish, 1 in flight: one producer awaiting each `publish` (what the dispatcher does);
* publish, 32 in flight: the same producer with 32 publishes outstanding;
* publish-consume-ack: one producer (1 in flight) and one consumer (prefetch 64, acking each
  message) running together, timed from the first publish to the last ack.

Each phase stops after `--count` messages or `--max-seconds`, whichever comes first. For Redis,
`redis-benchmark` (XADD on a throwaway key, 50 clients and 1 client) runs in the same go as
the ceiling. Servers: `SCHEDULER_TEST_REDIS_URL`, `SCHEDULER_TEST_AMQP_URL` (the test defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import aio_pika
from redis.asyncio import Redis

from scheduler_domain import Message, RunDispatch, TaskType
from scheduler_infrastructure import InMemoryMessageQueue, RabbitMQQueue, RedisStreamsQueue

REDIS_URL = os.environ.get("SCHEDULER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("SCHEDULER_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PUBLISH_KEY = "task.shell"
ROUND_TRIP_KEY = "task.http"
IN_FLIGHT = 32
PREFETCH = 64


def a_dispatch(run_id: int) -> Message:
    """A realistic run dispatch (about 330 bytes on the wire)."""
    return Message(
        payload=RunDispatch(
            run_id=run_id,
            task_id=42,
            attempt=1,
            task_type=TaskType.SHELL,
            executor="shell",
            command="/usr/local/bin/nightly-report --region eu-west-1",
            arguments={"retries": 3},
            timeout_seconds=600,
        ),
        headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    )


async def publish_rate(queue: Any, count: int, max_seconds: float, in_flight: int) -> float:
    """Messages per second for `count` publishes with `in_flight` outstanding."""
    sent = 0
    started = time.perf_counter()
    deadline = started + max_seconds

    async def producer() -> None:
        nonlocal sent
        while sent < count and time.perf_counter() < deadline:
            sent += 1
            await queue.publish(PUBLISH_KEY, a_dispatch(sent))

    await asyncio.gather(*(producer() for _ in range(in_flight)))
    return sent / (time.perf_counter() - started)


async def round_trip_rate(queue: Any, count: int, max_seconds: float) -> float:
    """Messages per second through publish, delivery and ack, one producer and one consumer."""
    started = time.perf_counter()
    deadline = started + max_seconds
    published = asyncio.Event()
    sent = 0

    async def producer() -> None:
        nonlocal sent
        while sent < count and time.perf_counter() < deadline:
            sent += 1
            await queue.publish(ROUND_TRIP_KEY, a_dispatch(sent))
        published.set()

    async def consumer() -> int:
        acked = 0
        deliveries = queue.consume([ROUND_TRIP_KEY], prefetch=PREFETCH)
        while acked < count and not (published.is_set() and acked >= sent):
            try:
                async with asyncio.timeout(max(deadline - time.perf_counter(), 0.1)):
                    delivery = await anext(deliveries)
            except TimeoutError:
                break
            await delivery.ack()
            acked += 1
        return acked

    _, acked = await asyncio.gather(producer(), consumer())
    return acked / (time.perf_counter() - started)


@asynccontextmanager
async def memory_queue() -> AsyncIterator[Any]:
    queue = InMemoryMessageQueue()
    yield queue
    await queue.close()


@asynccontextmanager
async def redis_queue() -> AsyncIterator[Any]:
    namespace = f"bench-{uuid.uuid4().hex[:8]}:"
    queue = await RedisStreamsQueue.connect(REDIS_URL, namespace=namespace)
    try:
        yield queue
    finally:
        await queue.close()
        client = Redis.from_url(REDIS_URL)
        keys = [key async for key in client.scan_iter(match=f"{namespace}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@asynccontextmanager
async def rabbitmq_queue() -> AsyncIterator[Any]:
    namespace = f"bench-{uuid.uuid4().hex[:8]}."
    queue = await RabbitMQQueue.connect(AMQP_URL, namespace=namespace, connection_name=namespace)
    try:
        yield queue
    finally:
        await queue.close()
        connection = await aio_pika.connect(AMQP_URL)
        channel = await connection.channel()
        for key in (PUBLISH_KEY, ROUND_TRIP_KEY):
            for name in (key, f"dead_letter.{key}"):
                await channel.queue_delete(namespace + name)
        await channel.exchange_delete(namespace + "scheduler")
        await connection.close()


ADAPTERS: dict[str, Callable[[], Any]] = {
    "memory": memory_queue,
    "redis": redis_queue,
    "rabbitmq": rabbitmq_queue,
}


async def measure(adapter: str, count: int, max_seconds: float) -> list[float]:
    async with ADAPTERS[adapter]() as queue:
        return [
            await publish_rate(queue, count, max_seconds, in_flight=1),
            await publish_rate(queue, count, max_seconds, in_flight=IN_FLIGHT),
            await round_trip_rate(queue, count, max_seconds),
        ]


def redis_benchmark_xadd(count: int, clients: int) -> float:
    """`redis-benchmark` XADD requests per second on a throwaway stream, deleted afterwards."""
    parts = urlsplit(REDIS_URL)
    key = f"bench:xadd:{uuid.uuid4().hex[:8]}"
    command = ["redis-benchmark", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)]
    command += ["-q", "-n", str(count), "-c", str(clients), "XADD", key, "*", "f", "v"]
    try:
        output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout
    finally:
        subprocess.run(
            ["redis-cli", "-h", command[2], "-p", command[4], "DEL", key], capture_output=True, check=False
        )
    rates = re.findall(r"([\d.]+) requests per second", output)
    return float(rates[-1])


def machine() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    cpu = models[0] if models else platform.processor()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


async def main(arguments: argparse.Namespace) -> None:
    print(f"machine: {machine()}")
    print(f"messages per phase: up to {arguments.count} (or {arguments.max_seconds} s)\n")
    print(
        "| adapter | publish, 1 in flight (msg/s) | publish, 32 in flight (msg/s) "
        "| publish-consume-ack (msg/s) |"
    )
    print("|---|---:|---:|---:|")
    for adapter in arguments.adapters.split(","):
        rates = await measure(adapter, arguments.count, arguments.max_seconds)
        print(f"| {adapter} | " + " | ".join(f"{rate:,.0f}" for rate in rates) + " |")
    if "redis" in arguments.adapters:
        print("\nceiling, redis-benchmark XADD on the same server:")
        for clients in (50, 1):
            rate = redis_benchmark_xadd(arguments.ceiling_count, clients)
            print(f"  -n {arguments.ceiling_count} -c {clients}: {rate:,.0f} XADD/s")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000, help="messages per phase")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="time cap per phase")
    parser.add_argument("--ceiling-count", type=int, default=100_000, help="redis-benchmark requests")
    parser.add_argument("--adapters", default="memory,redis,rabbitmq")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
