"""The dispatcher's metrics endpoint: a real HTTP server on a loopback port, stopped cleanly."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from scheduler_observability.metrics import Metrics
from scheduler_observability.metrics_endpoint import MetricsEndpoint


async def test_it_serves_the_process_metrics_until_stopped() -> None:
    metrics = Metrics()
    metrics.runs_ended.labels("shell", "succeeded").inc(3)
    endpoint = MetricsEndpoint(metrics, host="127.0.0.1", port=0)
    endpoint.start()
    serving = asyncio.create_task(endpoint.run())
    url = f"http://127.0.0.1:{endpoint.port}/metrics"
    try:
        async with httpx.AsyncClient() as client:
            answer = await client.get(url)
    finally:
        endpoint.stop()
        await asyncio.wait_for(serving, timeout=5)

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {family.name: family for family in text_string_to_metric_families(answer.text)}
    ended = {tuple(sorted(s.labels.items())): s.value for s in families["scheduler_runs_ended"].samples}
    assert ended == {(("status", "succeeded"), ("task_type", "shell")): 3.0}
    assert "process_resident_memory_bytes" in families
    with socket.socket() as probe:  # nothing listens there any more (TIME_WAIT aside)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", endpoint.port))


def test_a_taken_port_fails_at_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        endpoint = MetricsEndpoint(Metrics(), host="127.0.0.1", port=taken.getsockname()[1])

        with pytest.raises(OSError, match="in use"):
            endpoint.start()
