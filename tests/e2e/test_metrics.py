"""`/metrics` of real processes: standalone's on its API, a cluster's on its API and its dispatchers."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from tests.e2e.cluster import RoleProcess, Samples, make_key, refusal_line, scheduler, scrape
from tests.e2e.standalone import Api, free_port, running_standalone, wait_for

pytestmark = pytest.mark.e2e


def ended(samples: Samples, status: str) -> float:
    key = ("scheduler_runs_ended_total", frozenset({("task_type", "shell"), ("status", status)}))
    return samples.get(key, 0.0)


def test_standalone_shows_its_runs_and_state_without_a_credential(tmp_path: Path) -> None:
    with running_standalone(tmp_path / "data") as standalone, standalone.client() as client:
        api = Api(client)
        api.run_each(["true", "false"])

        samples = wait_for(
            lambda: (found := scrape(f"{standalone.url}/metrics")) and ended(found, "failed") == 1 and found,
            timeout=10,
            what="the failed run to be counted",
        )

    assert ended(samples, "succeeded") == 1
    assert samples[("scheduler_tasks", frozenset({("status", "active")}))] == 2
    assert samples[("scheduler_workers", frozenset({("status", "online")}))] == 1
    assert samples[("scheduler_runs", frozenset({("status", "pending")}))] == 0


def test_a_clusters_dispatchers_count_each_end_once_and_its_api_shows_the_state(
    cluster_settings: dict[str, str], tmp_path: Path
) -> None:
    env = {**cluster_settings, "SCHEDULER_API__METRICS_PUBLIC": "false"}
    ports = [free_port(), free_port()]
    api_process = RoleProcess("api", tmp_path, env).start()
    processes = [api_process]
    try:
        for port in ports:
            settings = {**env, "SCHEDULER_DISPATCHER__METRICS_PORT": str(port)}
            processes.append(RoleProcess("dispatcher", tmp_path, settings).start())
        worker_env = {**env, "SCHEDULER_WORKER__API_KEY": make_key(env, tmp_path, "worker")}
        worker_args = ("--worker-id", "w-metrics", "--api-url", api_process.url)
        processes.append(RoleProcess("worker", tmp_path, worker_env, args=worker_args).start())
        with api_process.client() as client:
            api = Api(client)
            api.run_each(["true"] * 5 + ["false"], timeout=30)

        def counted() -> list[Samples]:
            found = [scrape(f"http://127.0.0.1:{port}/metrics") for port in ports]
            return found if sum(ended(samples, "failed") for samples in found) == 1 else []

        per_dispatcher = wait_for(counted, timeout=10, what="the dispatchers to count the failed run")
        assert sum(ended(samples, "succeeded") for samples in per_dispatcher) == 5
        dispatched = ("scheduler_runs_dispatched_total", frozenset({("task_type", "shell")}))
        assert sum(samples.get(dispatched, 0.0) for samples in per_dispatcher) == 6

        for samples in per_dispatcher:  # each dispatcher's pool, in use or idle
            in_pool = ("in_use", "idle")
            pool = [("scheduler_db_pool_connections", frozenset({("state", s)})) for s in in_pool]
            assert sum(samples[key] for key in pool) >= 1
            assert samples[("scheduler_db_pool_requests_total", frozenset())] > 0
        refused = httpx.get(f"{api_process.url}/metrics", timeout=5)
        assert refused.status_code == 401
        state = scrape(f"{api_process.url}/metrics", api_process.admin_key)
        assert state[("scheduler_tasks", frozenset({("status", "active")}))] == 2
        assert state[("scheduler_workers", frozenset({("status", "online")}))] == 1
        assert state[("scheduler_runs", frozenset({("status", "running")}))] == 0
        assert state[("scheduler_api_key_lookups_total", frozenset({("found", "cached")}))] > 0
    finally:
        for process in reversed(processes):
            process.stop(timeout=20)


def test_a_dispatcher_whose_metrics_port_is_taken_says_so_in_one_line(
    cluster_settings: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**cluster_settings, "SCHEDULER_DISPATCHER__METRICS_PORT": str(port)}

        result = scheduler("dispatcher", env=env, cwd=tmp_path)

    line = refusal_line(result)
    assert "dispatcher.metrics_port" in line
    assert f"127.0.0.1:{port}" in line
