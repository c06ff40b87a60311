"""The app's executors: the Python pool is sized by `worker.python_processes`, else `concurrency`."""

from __future__ import annotations

import contextlib
import os

import pytest

from scheduler_app.executors import executor_registry
from scheduler_config import load_config
from scheduler_domain import RunStatus, TaskType
from scheduler_testing import a_dispatch
from scheduler_worker import PythonExecutor

PID = a_dispatch(
    "tests.worker_fixtures.functions:pid", executor="python", task_type=TaskType.PYTHON, timeout_seconds=30
)


@pytest.mark.parametrize(("settings", "processes"), [({"PYTHON_PROCESSES": "2"}, 2), ({}, 3)])
async def test_the_python_pool_has_the_configured_size(settings: dict[str, str], processes: int) -> None:
    env = {"SCHEDULER_WORKER__CONCURRENCY": "3"} | {f"SCHEDULER_WORKER__{k}": v for k, v in settings.items()}
    config = load_config(env)
    registry = contextlib.asynccontextmanager(executor_registry)(config, dict(os.environ))
    async with registry as executors:
        python = executors.get("python")
        assert isinstance(python, PythonExecutor)
        assert len(python.pids) == processes  # started with the worker, before any run

        outcome = await python.execute(PID)

        assert outcome.status is RunStatus.SUCCEEDED
        assert len(python.pids) == processes


async def test_a_process_that_serves_no_python_tasks_starts_no_python_processes() -> None:
    config = load_config({"SCHEDULER_WORKER__TASK_TYPES": "shell,http"})
    registry = contextlib.asynccontextmanager(executor_registry)(config, dict(os.environ))
    async with registry as executors:
        python = executors.get("python")
        assert isinstance(python, PythonExecutor)
        assert python.pids == frozenset()
