"""Separate `scheduler` role processes on a private PostgreSQL schema and a broker namespace."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

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


def cluster_env(database_url: str, broker: str, namespace: str) -> dict[str, str]:
    """Settings of every process of one test cluster."""
    return {
        "SCHEDULER_DATABASE__URL": database_url,
        "SCHEDULER_QUEUE__URL": BROKER_URLS[broker],
        "SCHEDULER_QUEUE__NAMESPACE": namespace,
        "SCHEDULER_DISPATCHER__SCAN_INTERVAL_SECONDS": "5",
    }


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
    """A long-running `scheduler api` or `scheduler dispatcher` process."""

    def __init__(self, role: str, workdir: Path, env: dict[str, str]) -> None:
        super().__init__(workdir / "data", admin_key=ADMIN_KEY, env=env)
        self.role = role

    def command(self) -> list[str]:
        base = [sys.executable, "-m", "scheduler_app", self.role]
        return [*base, "--port", str(self.port)] if self.role == "api" else base

    def ready(self) -> bool:
        if self.role == "api":
            return self._healthy()
        self.check_alive()
        return "dispatcher started" in self.logs()
