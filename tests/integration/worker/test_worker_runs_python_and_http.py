"""The worker with the HTTP and Python executors: runs are executed, reported and cancelled."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from scheduler_domain import CancelRun, Message, RunOutcome, RunStatus, TaskType, worker_command_key
from scheduler_foundation import ExecutorRegistry
from scheduler_testing import FakeMessageQueue, FakeRunReporter, a_dispatch
from scheduler_worker import HttpExecutor, PythonExecutor, Worker
from tests.worker_fixtures.http_server import serving

FUNCTIONS = "tests.worker_fixtures.functions"


class Setup:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.queue = FakeMessageQueue()
        self.reporter = FakeRunReporter()
        self.python = PythonExecutor(pool_size=2, kill_grace_seconds=0.5)
        self.worker = Worker(
            worker_id="w1",
            queue=self.queue,
            reporter=self.reporter,
            executors=ExecutorRegistry([self.python, HttpExecutor(client=client)]),
            task_types=["python", "http"],
            concurrency=2,
            drain_grace_seconds=0.5,
        )

    async def run(self, run_id: int, executor: str, command: str, **fields: object) -> None:
        dispatch = a_dispatch(
            command, run_id=run_id, executor=executor, task_type=TaskType(executor), **fields
        )
        await self.queue.publish(f"task.{executor}", Message(payload=dispatch))

    def outcome(self, run_id: int) -> RunOutcome | None:
        return self.reporter.outcome_of(run_id)


@pytest.fixture
async def setup(is_dead) -> AsyncIterator[Setup]:
    async with httpx.AsyncClient() as client:
        made = Setup(client)
        task = asyncio.create_task(made.worker.run())
        yield made
        made.worker.stop()
        try:
            async with asyncio.timeout(10):
                await task
        finally:
            task.cancel()
            pids = made.python.pids
            await made.python.close()
            assert [pid for pid in pids if not is_dead(pid)] == []


async def test_python_and_http_runs_are_executed_and_reported(setup: Setup, wait_until) -> None:
    with serving() as server:
        await setup.run(1, "python", f"{FUNCTIONS}:add", arguments={"a": 20, "b": 22})
        await setup.run(2, "http", server.url("/hook"), arguments={"method": "POST", "body": {"n": 1}})

        await wait_until(lambda: setup.outcome(1) is not None and setup.outcome(2) is not None, within=10)

    python_outcome, http_outcome = setup.outcome(1), setup.outcome(2)
    assert python_outcome is not None
    assert python_outcome.status is RunStatus.SUCCEEDED
    assert python_outcome.result is not None
    assert python_outcome.result["return_value"] == 42
    assert http_outcome is not None
    assert http_outcome.status is RunStatus.SUCCEEDED
    assert http_outcome.result is not None
    assert json.loads(http_outcome.result["body"])["body"] == '{"n":1}'


async def test_a_cancel_command_stops_a_python_run_within_a_second(
    setup: Setup, tmp_path: Path, wait_until, is_dead
) -> None:
    started = tmp_path / "started"
    arguments = {"seconds": 30, "started": str(started), "finished": str(tmp_path / "finished")}
    await setup.run(12, "python", f"{FUNCTIONS}:sleep_then_touch", arguments=arguments)
    await wait_until(lambda: started.exists() and started.read_text() != "", within=10)
    pid = int(started.read_text())

    cancelled_at = time.monotonic()
    await setup.queue.publish(worker_command_key("w1"), Message(payload=CancelRun(run_id=12, attempt=1)))

    await wait_until(lambda: setup.outcome(12) is not None, within=5)
    assert time.monotonic() - cancelled_at < 1
    assert setup.outcome(12) == RunOutcome(status=RunStatus.CANCELLED, error_message="cancelled by request")
    assert is_dead(pid)
