"""A `scheduler api` process cut off its PostgreSQL (by a proxy in front of the real server): once
its breaker opens, requests are answered 503 at once with `Retry-After`, `/ready` and `/metrics`
say so, and the process serves again as soon as a trial call finds the database back."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from psycopg.conninfo import make_conninfo

from tests.e2e.cluster import (
    BROKER_URLS,
    POSTGRES_URL,
    RoleProcess,
    Samples,
    broker_namespace,
    private_schema,
    scheduler,
    scrape,
)
from tests.e2e.standalone import wait_for
from tests.integration.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

CONNECT_TIMEOUT = 2.0
STATE = ("scheduler_circuit_breaker_state", frozenset({("component", "postgresql")}))
OPENED = ("scheduler_circuit_breaker_opened_total", frozenset({("component", "postgresql")}))


class ProxyThread:
    """A `TcpProxy` on an event loop of its own thread, driven from a synchronous test."""

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        parts = urlsplit(url)
        self.proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
        self._do(self.proxy.start())

    def refuse(self) -> None:
        self._do(self.proxy.refuse())

    def restore(self) -> None:
        self._do(self.proxy.restore())

    def close(self) -> None:
        self._do(self.proxy.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _do(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=30)


@pytest.fixture
def api_behind_a_proxy(tmp_path: Path) -> Iterator[tuple[RoleProcess, ProxyThread]]:
    proxy = ProxyThread(POSTGRES_URL)
    try:
        with private_schema() as database_url, broker_namespace("redis") as namespace:
            through_proxy = make_conninfo(database_url, host="127.0.0.1", port=proxy.proxy.port)
            env = {
                "SCHEDULER_DATABASE__URL": through_proxy,
                "SCHEDULER_DATABASE__CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT),
                "SCHEDULER_QUEUE__URL": BROKER_URLS["redis"],
                "SCHEDULER_QUEUE__NAMESPACE": namespace,
                "SCHEDULER_CIRCUIT_BREAKER__FAILURE_THRESHOLD": "3",
                "SCHEDULER_CIRCUIT_BREAKER__RESET_TIMEOUT_SECONDS": "1",
                "SCHEDULER_API__KEY_CACHE_SECONDS": "60",
            }
            migrated = scheduler("migrate", env=env, cwd=tmp_path)
            assert migrated.returncode == 0, migrated.stderr
            api = RoleProcess("api", tmp_path, env).start()
            try:
                yield api, proxy
            finally:
                api.stop(timeout=20)
    finally:
        proxy.close()


def test_requests_fail_at_once_while_the_breaker_is_open_and_succeed_once_it_closes(
    api_behind_a_proxy: tuple[RoleProcess, ProxyThread],
) -> None:
    api, proxy = api_behind_a_proxy
    metrics_url = f"{api.url}/metrics"
    with api.client() as client:
        assert client.get("/api/v1/tasks").status_code == 200
        proxy.refuse()

        opened = wait_for(
            lambda: (answer := client.get("/api/v1/tasks")).headers.get("retry-after") and answer,
            timeout=60,
            what="a 503 with Retry-After: the breaker open",
        )
        took = []
        for _ in range(5):
            started = time.monotonic()
            answer = client.get("/api/v1/tasks")
            took.append(time.monotonic() - started)
            assert answer.status_code == 503
        started = time.monotonic()
        ready = client.get("/ready")
        ready_took = time.monotonic() - started
        samples: Samples = scrape(metrics_url)

        assert opened.status_code == 503
        assert opened.headers["content-type"].startswith("application/problem+json")
        assert opened.headers["retry-after"] == "1"  # the reset timeout, 1 s, at most
        assert "postgresql is unavailable: its circuit breaker is open" in opened.json()["detail"]
        assert max(took) < CONNECT_TIMEOUT / 4
        assert ready.status_code == 503
        assert ready.json()["components"]["database"] == "down"
        assert ready_took < CONNECT_TIMEOUT / 4
        assert samples[STATE] == 1
        assert samples[OPENED] == 1

        proxy.restore()
        wait_for(
            lambda: client.get("/api/v1/tasks").status_code == 200,
            timeout=60,
            what="the API to answer from the database again",
        )
        samples = scrape(metrics_url)
        assert client.get("/ready").status_code == 200

    assert samples[STATE] == 0
    assert samples[OPENED] == 1
    events = [json.loads(line) for line in api.logs().splitlines() if line.startswith("{")]
    breaker_events = [event for event in events if event["logger"] == "scheduler_infrastructure.breaker"]
    assert [(event["level"], event["component"]) for event in breaker_events] == [
        ("warning", "postgresql"),
        ("info", "postgresql"),
    ]
