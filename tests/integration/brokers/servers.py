"""The brokers the tests run against: the shared servers, a private redis-server, forced disconnects.

The shared servers are named by `SCHEDULER_TEST_REDIS_URL` and `SCHEDULER_TEST_AMQP_URL`. A
server that does not answer fails the test with the command that starts it: never a skip, so
CI cannot pass without them. Tests never restart the shared servers; a restart test starts its
own redis-server on a free loopback port, and a RabbitMQ "restart" is the broker closing the
connection (`rabbitmqctl close_connection`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
from pathlib import Path
from typing import NoReturn

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

REDIS_URL = os.environ.get("SCHEDULER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("SCHEDULER_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")

REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)
RABBITMQ_START = "rabbitmq-server -detached"
DEADLINE = 10.0


def unreachable(broker: str, url: str, exc: BaseException) -> NoReturn:
    """Fail the test: the broker at `url` does not answer."""
    env, start = (
        ("SCHEDULER_TEST_REDIS_URL", REDIS_START)
        if broker == "Redis"
        else ("SCHEDULER_TEST_AMQP_URL", RABBITMQ_START)
    )
    pytest.fail(
        f"{broker} at {url} does not answer ({exc}). These tests need it: start it with\n"
        f"    {start}\nor point {env} at a running one.",
        pytrace=False,
    )


async def delete_redis_keys(url: str, pattern: str) -> None:
    """Delete every key matching `pattern`."""
    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivateRedis:
    """A redis-server of the test's own; `persistent`: with an append-only file, so a restart
    keeps its data."""

    def __init__(self, directory: Path, *, persistent: bool = True) -> None:
        self._directory = directory
        self._persistent = persistent
        self._port = free_port()
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"redis://127.0.0.1:{self._port}/0"

    async def start(self) -> None:
        """Start it and return once it answers."""
        self._directory.mkdir(parents=True, exist_ok=True)
        self._process = await asyncio.create_subprocess_exec(
            "redis-server",
            "--bind", "127.0.0.1",
            "--port", str(self._port),
            "--save", "",
            "--appendonly", "yes" if self._persistent else "no",
            "--appendfsync", "always",
            "--dir", str(self._directory),
            "--logfile", str(self._directory / "redis.log"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await self._until_it_answers()

    async def stop(self) -> None:
        """Shut it down the way an operator would (SIGTERM: it syncs its file and exits)."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(DEADLINE):
            await process.wait()

    async def restart(self) -> None:
        """Stop and start it again on the same port and file."""
        await self.stop()
        await self.start()

    async def _until_it_answers(self) -> None:
        client = Redis.from_url(self.url)
        try:
            async with asyncio.timeout(DEADLINE):
                while True:
                    try:
                        if await client.ping():
                            return
                    except (RedisError, OSError):  # not listening yet, or loading its file
                        await asyncio.sleep(0.02)
        finally:
            await client.aclose()


async def close_amqp_connections(connection_name: str) -> int:
    """Have the broker close every connection named `connection_name`; how many it closed."""
    listing = await rabbitmqctl(
        "list_connections", "pid", "client_properties", "--quiet", "--no-table-headers"
    )
    named = f'{{"connection_name",{json.dumps(connection_name)}}}'  # as the broker prints the property
    pids = [line.split("\t", 1)[0] for line in listing.splitlines() if named in line]
    for pid in pids:
        await rabbitmqctl("close_connection", pid, "closed by a broker restart test")
    return len(pids)


async def rabbitmqctl(*arguments: str) -> str:
    """Run `rabbitmqctl` with `arguments`; its output."""
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", *arguments, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(30):
        out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(arguments)} failed: {err.decode()}")
    return out.decode()
