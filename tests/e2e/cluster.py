"""Separate `scheduler` role processes on a private PostgreSQL schema and a broker namespace."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aio_pika
import httpx
import psycopg
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from psycopg.conninfo import make_conninfo

from scheduler_infrastructure.postgres.wakeup import CHANNEL
from tests.e2e.standalone import ADMIN_KEY, Standalone

POSTGRES_URL = os.environ.get("SCHEDULER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BROKER_URLS = {
    "redis": os.environ.get("SCHEDULER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "rabbitmq": os.environ.get("SCHEDULER_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
}


@contextmanager
def private_schema() -> Iterator[str]:
    """The conninfo of a new empty schema on the test server, dropped afterwards."""
    name = f"e2e_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL does not answer at {POSTGRES_URL}: {exc}; start it (see TOOLCHAIN.md)")
    with admin:
        admin.execute(f"CREATE SCHEMA {name}")
    try:
        yield make_conninfo(POSTGRES_URL, options=f"-c search_path={name}")
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {name} CASCADE")


def dispatch_listeners(database_url: str) -> int:
    """How many connections LISTEN for dispatch wake-ups on the schema of `database_url`.

    A dispatcher logs "dispatcher started" before its first pass and LISTENs only once that pass
    is over: a run made pending in between wakes no one and waits for the next scan.
    """
    with psycopg.connect(database_url, autocommit=True) as connection:
        row = connection.execute("SELECT left(%s || '.' || current_schema(), 63)", (CHANNEL,)).fetchone()
        assert row is not None
        listening = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle' AND query = %s",
            (f'LISTEN "{row[0]}"',),
        ).fetchone()
    return int(listening[0]) if listening else 0


#: Quick heartbeats, sweeps and scans, so that tests of workers and recovery wait little.
WORKER_SETTINGS = {
    "SCHEDULER_WORKER__HEARTBEAT_INTERVAL_SECONDS": "0.5",
    "SCHEDULER_DISPATCHER__WORKER_TIMEOUT_SECONDS": "3",
    "SCHEDULER_DISPATCHER__SWEEP_INTERVAL_SECONDS": "0.5",
    "SCHEDULER_DISPATCHER__LEASE_SECONDS": "2",
    "SCHEDULER_DISPATCHER__SCAN_INTERVAL_SECONDS": "0.2",
}


def cluster_env(database_url: str, broker: str, namespace: str) -> dict[str, str]:
    """Settings of every process of one test cluster."""
    return {
        "SCHEDULER_DATABASE__URL": database_url,
        "SCHEDULER_QUEUE__URL": BROKER_URLS[broker],
        "SCHEDULER_QUEUE__NAMESPACE": namespace,
        "SCHEDULER_DISPATCHER__SCAN_INTERVAL_SECONDS": "5",
    }


@contextmanager
def migrated_cluster(workdir: Path, broker: str = "redis") -> Iterator[dict[str, str]]:
    """The settings of a cluster on a fresh, migrated schema and broker namespace (with
    `WORKER_SETTINGS`), both removed afterwards."""
    with private_schema() as database_url, broker_namespace(broker) as namespace:
        env = {**cluster_env(database_url, broker, namespace), **WORKER_SETTINGS}
        migrated = scheduler("migrate", env=env, cwd=workdir)
        assert migrated.returncode == 0, migrated.stderr
        yield env


def make_key(env: dict[str, str], workdir: Path, role: str) -> str:
    made = scheduler("apikey", "create", "--name", f"e2e-{role}", "--role", role, env=env, cwd=workdir)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


#: The samples of a Prometheus exposition, by name and labels.
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, key: str | None = None) -> Samples:
    """The samples `url` exposes (a `/metrics` answering 200)."""
    answer = httpx.get(url, headers={"X-API-Key": key} if key else {}, timeout=5)
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def refusal_line(result: subprocess.CompletedProcess[str]) -> str:
    """The line a refused command wrote: it failed, with one line on stderr, `error: ...`."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    return lines[0]


def scheduler(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a one-shot `scheduler` command."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    return subprocess.run(
        [sys.executable, "-m", "scheduler_app", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**clean, **env},
        check=False,
    )


class RoleProcess(Standalone):
    """A long-running `scheduler api`, `scheduler dispatcher` or `scheduler worker` process."""

    READY_LINES = {"dispatcher": "dispatcher started", "worker": "worker registered"}

    def __init__(self, role: str, workdir: Path, env: dict[str, str], *, args: tuple[str, ...] = ()) -> None:
        super().__init__(workdir / "data", admin_key=ADMIN_KEY, env=env, label=role)
        self.role = role
        self.args = args

    def command(self) -> list[str]:
        base = [sys.executable, "-m", "scheduler_app", self.role, *self.args]
        return [*base, "--port", str(self.port)] if self.role == "api" else base

    def ready(self) -> bool:
        if self.role == "api":
            return self._healthy()
        self.check_alive()
        return self.READY_LINES[self.role] in self.logs()


@contextmanager
def broker_namespace(broker: str) -> Iterator[str]:
    """A fresh namespace on the shared broker; every stream, queue and exchange in it is removed after."""
    namespace = f"e2e-{secrets.token_hex(4)}."
    try:
        yield namespace
    finally:
        if broker == "redis":
            _drop_redis_keys(namespace)
        else:
            asyncio.run(_drop_rabbitmq_objects(namespace))


def _drop_redis_keys(namespace: str) -> None:
    client = redis.Redis.from_url(BROKER_URLS["redis"])
    with client:
        keys = list(client.scan_iter(match=f"{namespace}*"))
        if keys:
            client.delete(*keys)


async def _drop_rabbitmq_objects(namespace: str) -> None:
    def names(kind: str) -> list[str]:
        listed = subprocess.run(
            ["rabbitmqctl", f"list_{kind}", "name", "--no-table-headers", "--quiet"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return [name for name in listed.stdout.split() if name.startswith(namespace)]

    connection = await aio_pika.connect(BROKER_URLS["rabbitmq"])
    async with connection:
        channel = await connection.channel()
        for queue in names("queues"):
            await channel.queue_delete(queue)
        for exchange in names("exchanges"):
            await channel.exchange_delete(exchange)
