"""Traces of real processes: a run's spans, from the API request through the dispatcher to the worker,
share one trace, whether the three are one `standalone` process or three processes of a cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cluster import RoleProcess, make_key
from tests.e2e.standalone import Api, Standalone, running_standalone, wait_for

pytestmark = pytest.mark.e2e

TRACING = {"SCHEDULER_TRACING__EXPORTER": "console"}
TRIGGER = "POST /api/v1/tasks/{task_id}/trigger"


def spans_of(*processes: Standalone) -> list[dict[str, Any]]:
    """The spans the processes wrote to stdout (the console exporter: one JSON object per line)."""
    lines = [line for process in processes for line in process.output().splitlines()]
    return [json.loads(line) for line in lines if line.startswith('{"name"')]


def chain_of(spans: list[dict[str, Any]], run_id: int) -> dict[str, dict[str, Any]] | None:
    """The request, dispatch and execution spans of `run_id`, once all three are written."""
    runs = [s for s in spans if s["attributes"].get("scheduler.run_id") == run_id]
    found = {s["name"]: s for s in runs} | {s["name"]: s for s in spans if s["name"] == TRIGGER}
    return found if {"run.dispatch", "run.execute", TRIGGER} <= set(found) else None


def assert_one_trace(chain: dict[str, dict[str, Any]]) -> None:
    request, dispatch, execute = chain[TRIGGER], chain["run.dispatch"], chain["run.execute"]
    assert request["parent_id"] is None
    assert dispatch["parent_id"] == request["context"]["span_id"]
    assert execute["parent_id"] == dispatch["context"]["span_id"]
    assert len({span["context"]["trace_id"] for span in (request, dispatch, execute)}) == 1
    assert execute["attributes"]["scheduler.status"] == "succeeded"
    assert request["attributes"]["http.response.status_code"] == 202


def test_a_standalone_run_is_one_trace_and_its_logs_name_it(tmp_path: Path) -> None:
    with running_standalone(tmp_path / "data", TRACING) as standalone, standalone.client() as client:
        api = Api(client)
        run = api.trigger(api.create_task(name="traced", command="echo hi")["id"])
        api.wait_run(run["id"], {"succeeded", "failed"})
        chain = wait_for(
            lambda: chain_of(spans_of(standalone), run["id"]), timeout=10, what="the run's spans"
        )
        logs = [json.loads(line) for line in standalone.logs().splitlines() if line.startswith("{")]

    assert_one_trace(chain)
    started = [
        entry for entry in logs if entry.get("event") == "run started" and entry.get("run_id") == run["id"]
    ]
    assert [entry["trace_id"] for entry in started] == [chain["run.execute"]["context"]["trace_id"][2:]]
    assert started[0]["span_id"] == chain["run.execute"]["context"]["span_id"][2:]


def test_a_cluster_run_is_one_trace_across_the_api_the_dispatcher_and_the_worker(
    cluster_settings: dict[str, str], tmp_path: Path
) -> None:
    env = {**cluster_settings, **TRACING}
    api_process = RoleProcess("api", tmp_path, env).start()
    processes = [api_process, RoleProcess("dispatcher", tmp_path, env).start()]
    try:
        worker_env = {**env, "SCHEDULER_WORKER__API_KEY": make_key(env, tmp_path, "worker")}
        args = ("--worker-id", "w-traced", "--api-url", api_process.url)
        processes.append(RoleProcess("worker", tmp_path, worker_env, args=args).start())
        with api_process.client() as client:
            api = Api(client)
            run = api.trigger(api.create_task(name="traced", command="echo hi")["id"])
            api.wait_run(run["id"], {"succeeded", "failed"}, timeout=30)
        chain = wait_for(
            lambda: chain_of(spans_of(*processes), run["id"]), timeout=10, what="the run's spans"
        )
    finally:
        for process in reversed(processes):
            process.stop(timeout=20)

    assert_one_trace(chain)
    by_process = {span["name"]: process.role for process in processes for span in spans_of(process)}
    assert (by_process[TRIGGER], by_process["run.dispatch"], by_process["run.execute"]) == (
        "api",
        "dispatcher",
        "worker",
    )
