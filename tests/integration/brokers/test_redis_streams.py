"""What the Redis Streams queue does beyond the shared contract: its stream layout, bounded
streams, reclaiming, keeping held work, recovering lost groups, and its own lifecycle."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from scheduler_errors import Unavailable
from scheduler_infrastructure import RedisStreamsQueue
from tests.conformance.queues import a_message, nothing_within, run_id_of, take, until
from tests.integration.brokers.servers import (
    REDIS_URL,
    PrivateRedis,
    delete_redis_keys,
    free_port,
    unreachable,
)

KEY = "task.shell"
CLAIM_IDLE_MS = 300

Opener = Callable[..., Awaitable[RedisStreamsQueue]]


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex[:10]}:"


@pytest.fixture
async def open_queue(namespace: str) -> AsyncIterator[Opener]:
    """`await open_queue(**options)`: a queue object on the shared server, in the test's namespace."""
    opened: list[RedisStreamsQueue] = []

    async def open_queue(url: str = REDIS_URL, **options: Any) -> RedisStreamsQueue:
        settings = {"namespace": namespace, "claim_idle_ms": CLAIM_IDLE_MS, "block_ms": 100, **options}
        try:
            queue = await RedisStreamsQueue.connect(url, **settings)
        except Unavailable as exc:
            unreachable("Redis", url, exc)
        opened.append(queue)
        return queue

    yield open_queue
    for queue in opened:
        await queue.close()
    await delete_redis_keys(REDIS_URL, f"{namespace}*")


@pytest.fixture
async def raw() -> AsyncIterator[Redis]:
    """A plain client on the shared server, to look at and tamper with the streams."""
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def test_priorities_are_served_highest_first_across_keys(open_queue: Opener) -> None:
    queue = await open_queue()
    await queue.publish("task.http", a_message(1), priority=1)
    await queue.publish(KEY, a_message(2), priority=2)
    await queue.publish("task.python", a_message(3), priority=2)
    await queue.publish("task.http", a_message(4), priority=1)
    deliveries = queue.consume([KEY, "task.http"], prefetch=10)

    received = [await take(deliveries) for _ in range(3)]

    assert [(d.routing_key, run_id_of(d)) for d in received] == [(KEY, 2), ("task.http", 1), ("task.http", 4)]
    assert await queue.depth("task.python") == 1


async def test_each_priority_level_has_its_own_stream(open_queue: Opener, raw: Redis, namespace: str) -> None:
    queue = await open_queue()
    await queue.publish(KEY, a_message(1), priority=0)
    await queue.publish(KEY, a_message(2), priority=3)
    await queue.publish(KEY, a_message(3), priority=9)  # clamped to the top level

    lengths = [await raw.xlen(f"{namespace}mq:{KEY}:{level}") for level in range(4)]

    assert lengths == [1, 0, 0, 2]


async def test_a_full_stream_refuses_more_until_one_is_acked(open_queue: Opener) -> None:
    queue = await open_queue(max_stream_length=2)
    await queue.publish(KEY, a_message(1))
    await queue.publish(KEY, a_message(2))

    with pytest.raises(Unavailable, match="full"):
        await queue.publish(KEY, a_message(3))
    await queue.publish(KEY, a_message(4), priority=1)  # another level, another stream
    deliveries = queue.consume([KEY], prefetch=1)
    acked = []
    for _ in range(2):
        delivery = await take(deliveries)
        await delivery.ack()
        acked.append(run_id_of(delivery))
    await queue.publish(KEY, a_message(5))

    assert acked == [4, 1]
    assert await queue.depth(KEY) == 2


async def test_publishes_made_together_share_round_trips_and_each_hears_its_own_refusal(
    open_queue: Opener,
) -> None:
    queue = await open_queue(max_stream_length=3)
    outcomes = await asyncio.gather(
        *(queue.publish(KEY, a_message(run_id)) for run_id in range(1, 6)), return_exceptions=True
    )

    assert outcomes[:3] == [None, None, None]
    assert all(isinstance(outcome, Unavailable) and "full" in str(outcome) for outcome in outcomes[3:])
    deliveries = queue.consume([KEY], prefetch=5)
    assert [run_id_of(await take(deliveries)) for _ in range(3)] == [1, 2, 3]


async def test_publishing_goes_on_after_the_server_forgot_the_scripts(open_queue: Opener, raw: Redis) -> None:
    queue = await open_queue()
    await queue.publish(KEY, a_message(1))
    await raw.script_flush()

    await queue.publish(KEY, a_message(2))

    deliveries = queue.consume([KEY], prefetch=2)
    assert sorted([run_id_of(await take(deliveries)) for _ in range(2)]) == [1, 2]


async def test_a_held_message_is_not_reclaimed_while_its_holder_lives(open_queue: Opener) -> None:
    holder, other = await open_queue(), await open_queue()
    await holder.publish(KEY, a_message(1))
    held = await take(holder.consume([KEY], prefetch=1))

    # three idle timeouts: without the holder refreshing it, the other would reclaim it
    assert await nothing_within(other.consume([KEY], prefetch=1), seconds=3 * CLAIM_IDLE_MS / 1000)
    await held.ack()

    assert held.delivery_count == 1
    assert await holder.depth(KEY) == 0


async def test_a_message_reclaimed_too_often_is_dead_lettered(
    open_queue: Opener, raw: Redis, namespace: str
) -> None:
    queue = await open_queue(max_deliveries=2)
    await queue.publish(KEY, a_message(1))
    stream = f"{namespace}mq:{KEY}:0"
    await raw.xgroup_create(stream, "scheduler", id="0")
    [[_, [(entry_id, _)]]] = await raw.xreadgroup("scheduler", "ghost-1", {stream: ">"}, count=1)
    await raw.xclaim(stream, "scheduler", "ghost-2", 0, [entry_id])  # delivered twice, settled never

    consuming = asyncio.create_task(take(queue.consume([KEY], prefetch=1)))  # reclaims it: a third time
    dead = await take(queue.consume([f"dead_letter.{KEY}"], prefetch=1))

    assert (run_id_of(dead), dead.delivery_count) == (1, 1)
    assert not consuming.done()
    assert await raw.xlen(stream) == 0
    consuming.cancel()


async def test_consuming_recreates_a_group_the_server_lost(
    open_queue: Opener, raw: Redis, namespace: str
) -> None:
    queue = await open_queue()
    deliveries = queue.consume([KEY], prefetch=1)
    await queue.publish(KEY, a_message(1))
    await (await take(deliveries)).ack()

    await raw.xgroup_destroy(f"{namespace}mq:{KEY}:0", "scheduler")
    await queue.publish(KEY, a_message(2))

    assert run_id_of(await take(deliveries)) == 2


async def test_consuming_resumes_after_a_restart_that_lost_everything(tmp_path: Path, namespace: str) -> None:
    server = PrivateRedis(tmp_path / "redis", persistent=False)
    await server.start()
    queue = await RedisStreamsQueue.connect(server.url, namespace=namespace, block_ms=100)
    try:
        deliveries = queue.consume([KEY], prefetch=1)
        waiting = asyncio.create_task(take(deliveries))
        await server.restart()
        await queue.publish(KEY, a_message(1))

        assert run_id_of(await waiting) == 1
    finally:
        await queue.close()
        await server.stop()


async def test_closing_an_iterator_gives_back_what_it_took_uncounted(open_queue: Opener) -> None:
    first, second = await open_queue(), await open_queue()
    for run_id in (1, 2, 3):
        await first.publish(KEY, a_message(run_id))
    deliveries = first.consume([KEY], prefetch=5)
    held = await take(deliveries)  # the iterator took all three from Redis

    await deliveries.aclose()  # type: ignore[attr-defined]
    others = second.consume([KEY], prefetch=5)
    rest = [await take(others), await take(others)]

    assert sorted(run_id_of(d) for d in rest) == [2, 3]
    assert [d.delivery_count for d in rest] == [1, 1]
    assert run_id_of(held) == 1


async def test_close_stops_every_background_task(open_queue: Opener) -> None:
    queue = await open_queue()
    await queue.publish(KEY, a_message(1))
    await take(queue.consume([KEY], prefetch=1))

    await queue.close()

    assert not [task for task in asyncio.all_tasks() if task.get_name() == "redis-queue-keepalive"]
    assert not await queue.ping()


async def test_a_server_that_does_not_answer_is_unavailable_and_the_password_stays_secret() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"

    with pytest.raises(Unavailable, match=r"does not answer|failed") as raised:
        await RedisStreamsQueue.connect(url)

    assert "hunter2" not in str(raised.value)
    assert "127.0.0.1" in str(raised.value)


async def test_a_consumer_that_read_its_streams_to_the_end_waits_for_more_without_fetching_again(
    tmp_path: Path, namespace: str
) -> None:
    server = PrivateRedis(tmp_path / "redis", persistent=False)  # its command counts are ours alone
    await server.start()
    queue = await RedisStreamsQueue.connect(server.url, namespace=namespace, block_ms=5_000)
    stats = Redis.from_url(server.url)
    try:
        deliveries = queue.consume([KEY], prefetch=4)

        async def one_message_to_an_idle_consumer(run_id: int) -> None:
            waiting = asyncio.create_task(take(deliveries))
            await until(lambda: _blocked_in_xread(stats))  # idle, as a consumer between messages is
            await queue.publish(KEY, a_message(run_id))
            await (await waiting).ack()

        await one_message_to_an_idle_consumer(0)  # the scripts loaded, the first look done
        messages = 10
        scripts_before = await _script_calls(stats)
        for run_id in range(1, messages + 1):
            await one_message_to_an_idle_consumer(run_id)

        fetches = await _script_calls(stats) - scripts_before - messages  # less one publish each
        assert fetches == messages  # one per message; asking again after each would be twice that
    finally:
        await stats.aclose()
        await queue.close()
        await server.stop()


async def _script_calls(client: Redis) -> int:
    return int((await client.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0))


async def _blocked_in_xread(client: Redis) -> bool:
    return any(entry["cmd"] == "xread" and "b" in entry["flags"] for entry in await client.client_list())
