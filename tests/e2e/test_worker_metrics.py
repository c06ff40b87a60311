"""`scheduler worker`'s own `/metrics`: the runs it reported finished, their durations, its slots."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cluster import RoleProcess, Samples, make_key, refusal_line, scheduler, scrape
from tests.e2e.standalone import Api, free_port, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def api_process(cluster_settings: dict[str, str], tmp_path: Path) -> Iterator[RoleProcess]:
    process = RoleProcess("api", tmp_path, cluster_settings).start()
    try:
        yield process
    finally:
        process.stop(timeout=20)


def finished(samples: Samples, status: str) -> float:
    return samples.get(("scheduler_worker_runs_finished_total", frozenset({("status", status)})), 0.0)


def durations(samples: Samples) -> float:
    """How many run durations the worker observed, of every status."""
    count = "scheduler_worker_run_duration_seconds_count"
    return sum(value for (name, _), value in samples.items() if name == count)


def settled(samples: Samples) -> bool:
    """Both runs counted, and none held any more (the worker acks a run after reporting it)."""
    return durations(samples) == 2 and samples[("scheduler_worker_runs_active", frozenset())] == 0


def test_a_worker_shows_the_runs_it_finished_and_its_slots(
    cluster_settings: dict[str, str], api_process: RoleProcess, tmp_path: Path
) -> None:
    port = free_port()
    worker_env = {
        **cluster_settings,
        "SCHEDULER_WORKER__API_KEY": make_key(cluster_settings, tmp_path, "worker"),
        "SCHEDULER_WORKER__METRICS_PORT": str(port),
    }
    worker_args = ("--worker-id", "w-metrics", "--api-url", api_process.url)
    processes = [RoleProcess("dispatcher", tmp_path, cluster_settings).start()]
    try:
        processes.append(RoleProcess("worker", tmp_path, worker_env, args=worker_args).start())
        with api_process.client() as client:
            api = Api(client)
            api.run_each(["true", "false"], timeout=30)

        samples = wait_for(
            lambda: (found := scrape(f"http://127.0.0.1:{port}/metrics")) and settled(found) and found,
            timeout=10,
            what="the worker to count both runs and hold none",
        )
    finally:
        for process in reversed(processes):
            process.stop(timeout=20)

    assert (finished(samples, "succeeded"), finished(samples, "failed")) == (1, 1)
    assert samples[("scheduler_worker_concurrency", frozenset())] == 4
    assert ("process_resident_memory_bytes", frozenset()) in samples


def test_a_worker_whose_metrics_port_is_taken_says_so_in_one_line_and_does_not_register(
    cluster_settings: dict[str, str], api_process: RoleProcess, tmp_path: Path
) -> None:
    env = {**cluster_settings, "SCHEDULER_WORKER__API_KEY": make_key(cluster_settings, tmp_path, "worker")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = scheduler(
            "worker",
            *("--worker-id", "w-refused", "--api-url", api_process.url),
            env={**env, "SCHEDULER_WORKER__METRICS_PORT": str(port)},
            cwd=tmp_path,
        )

    line = refusal_line(result)
    assert "worker.metrics_port" in line
    assert f"127.0.0.1:{port}" in line
    with api_process.client() as client:
        assert client.get("/api/v1/workers/w-refused").status_code == 404
