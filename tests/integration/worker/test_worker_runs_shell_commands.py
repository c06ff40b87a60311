"""The worker with the real shell executor: commands run, are cancelled and are stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from scheduler_domain import CancelRun, Message, RunOutcome, RunStatus, worker_command_key
from scheduler_foundation import ExecutorRegistry
from scheduler_testing import FakeMessageQueue, FakeRunReporter, a_dispatch
from scheduler_worker import ShellExecutor, Worker


class Setup:
    def __init__(self) -> None:
        self.queue = FakeMessageQueue()
        self.reporter = FakeRunReporter()
        self.worker = Worker(
            worker_id="w1",
            queue=self.queue,
            reporter=self.reporter,
            executors=ExecutorRegistry([ShellExecutor(kill_grace_seconds=0.5)]),
            task_types=["shell"],
            concurrency=2,
            drain_grace_seconds=0.5,
        )
        self.task: asyncio.Task[None] | None = None

    async def run(self, run_id: int, command: str, **fields: object) -> None:
        await self.queue.publish("task.shell", Message(payload=a_dispatch(command, run_id=run_id, **fields)))

    def outcome(self, run_id: int) -> RunOutcome | None:
        return self.reporter.outcome_of(run_id)


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    made = Setup()
    made.task = asyncio.create_task(made.worker.run())
    yield made
    made.worker.stop()
    try:
        async with asyncio.timeout(10):
            await made.task
    finally:
        made.task.cancel()


async def read_pids(pidfile: Path, count: int, wait_until) -> list[int]:
    await wait_until(lambda: pidfile.exists() and len(pidfile.read_text().split()) >= count)
    return [int(pid) for pid in pidfile.read_text().split()]


async def test_a_command_runs_and_its_output_is_reported(setup: Setup, wait_until) -> None:
    await setup.run(12, 'echo "run $SCHEDULER_RUN_ID attempt $SCHEDULER_ATTEMPT"', attempt=2)

    await wait_until(lambda: setup.outcome(12) is not None)
    outcome = setup.outcome(12)
    assert outcome is not None
    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result is not None
    assert outcome.result["stdout"] == "run 12 attempt 2\n"
    assert setup.reporter.started == [(12, 2, "w1")]


async def test_a_command_past_its_timeout_is_reported_timed_out(setup: Setup, wait_until) -> None:
    await setup.run(12, "sleep 30", timeout_seconds=1)

    await wait_until(lambda: setup.outcome(12) is not None, within=10)
    outcome = setup.outcome(12)
    assert outcome is not None
    assert outcome.status is RunStatus.TIMED_OUT


async def test_a_cancel_command_kills_the_process_group(
    setup: Setup, tmp_path: Path, wait_until, is_dead
) -> None:
    pidfile = tmp_path / "pids"
    await setup.run(12, f"echo $$ >{pidfile}; sleep 30 & echo $! >>{pidfile}; sleep 30")
    pids = await read_pids(pidfile, 2, wait_until)

    await setup.queue.publish(worker_command_key("w1"), Message(payload=CancelRun(run_id=12, attempt=1)))

    await wait_until(lambda: setup.outcome(12) is not None)
    assert setup.outcome(12) == RunOutcome(status=RunStatus.CANCELLED, error_message="cancelled by request")
    assert [pid for pid in pids if not is_dead(pid)] == []


async def test_stop_kills_commands_that_outlive_the_grace_and_returns(
    setup: Setup, tmp_path: Path, wait_until, is_dead
) -> None:
    pidfile = tmp_path / "pids"
    await setup.run(12, f"echo $$ >{pidfile}; sleep 30 & echo $! >>{pidfile}; sleep 30")
    await setup.run(13, "echo quick")
    pids = await read_pids(pidfile, 2, wait_until)
    await wait_until(lambda: setup.outcome(13) is not None)

    setup.worker.stop()

    assert setup.task is not None
    async with asyncio.timeout(5):
        await setup.task
    assert setup.outcome(12) == RunOutcome(status=RunStatus.FAILED, error_message="worker shutting down")
    assert [pid for pid in pids if not is_dead(pid)] == []
