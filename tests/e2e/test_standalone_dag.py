"""A diamond of shell tasks in `scheduler standalone`: A, then B and C, then D; a failing B skips D."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.e2e.standalone import Api, wait_for

pytestmark = pytest.mark.e2e


def a_diamond(api: Api, *, b_command: str = "sleep 0.2") -> dict[str, dict[str, Any]]:
    """A -> B, A -> C, B and C -> D."""
    tasks: dict[str, dict[str, Any]] = {}
    for name, command, upstream in (
        ("a", "sleep 0.2", ""),
        ("b", b_command, "a"),
        ("c", "sleep 0.3", "a"),
        ("d", "echo done", "bc"),
    ):
        dependencies = [tasks[up]["id"] for up in upstream]
        tasks[name] = api.create_task(name=f"dag-{name}", command=command, dependencies=dependencies)
    return tasks


def only_run(api: Api, task: dict[str, Any], statuses: set[str]) -> dict[str, Any]:
    """The single run of `task`, once it has reached one of `statuses`."""

    def ended() -> dict[str, Any] | None:
        runs = api.runs_of(task["id"])
        assert len(runs) <= 1, runs
        return runs[0] if runs and runs[0]["status"] in statuses else None

    return wait_for(ended, timeout=30, what=f"the run of {task['name']} to reach {sorted(statuses)}")


def at(run: dict[str, Any], field: str) -> datetime:
    return datetime.fromisoformat(run[field])


def test_a_diamond_runs_a_then_b_and_c_then_d_in_one_wave(api: Api) -> None:
    tasks = a_diamond(api)

    root = api.trigger(tasks["a"]["id"])
    d = only_run(api, tasks["d"], {"succeeded", "failed", "skipped"})
    a, b, c = (only_run(api, tasks[name], {"succeeded"}) for name in "abc")

    assert d["status"] == "succeeded"
    assert d["result"]["stdout"] == "done\n"
    assert at(a, "completed_at") <= min(at(b, "started_at"), at(c, "started_at"))
    assert max(at(b, "completed_at"), at(c, "completed_at")) <= at(d, "started_at")
    assert {run["wave_id"] for run in (a, b, c, d)} == {root["id"]}
    assert [run["trigger"] for run in (a, b, c, d)] == ["manual", "dependency", "dependency", "dependency"]
    assert not any(run["waiting"] for run in (a, b, c, d))


def test_a_failing_b_skips_d_with_the_reason(api: Api) -> None:
    tasks = a_diamond(api, b_command="exit 1")

    root = api.trigger(tasks["a"]["id"])
    d = only_run(api, tasks["d"], {"succeeded", "failed", "skipped"})
    b = only_run(api, tasks["b"], {"failed"})
    c = only_run(api, tasks["c"], {"succeeded"})

    assert d["status"] == "skipped"
    assert d["error_message"] == f"upstream task {tasks['b']['id']} (run {b['id']}) failed"
    assert d["started_at"] is None
    assert d["wave_id"] == c["wave_id"] == root["id"]
