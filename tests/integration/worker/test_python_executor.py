"""The Python executor, against real pool processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from scheduler_domain import RunDispatch, RunStatus
from scheduler_errors import InvalidInput
from scheduler_testing import a_dispatch
from scheduler_worker import PythonExecutor

FUNCTIONS = "tests.worker_fixtures.functions"


def a_call(function: str, **fields: object) -> RunDispatch:
    fields.setdefault("executor", "python")
    return a_dispatch(f"{FUNCTIONS}:{function}", **fields)


async def warm(executor: PythonExecutor, size: int = 2) -> None:
    """Have every process of the pool answer a call, so none is still starting."""
    calls = [executor.execute(a_call("add", arguments={"a": 1, "b": 1})) for _ in range(size)]
    assert {outcome.status for outcome in await asyncio.gather(*calls)} == {RunStatus.SUCCEEDED}


@pytest.fixture
async def python(is_dead) -> AsyncIterator[PythonExecutor]:
    executor = PythonExecutor(pool_size=2, kill_grace_seconds=0.5)
    yield executor
    pids = executor.pids
    await executor.close()
    assert [pid for pid in pids if not is_dead(pid)] == []


async def test_a_sync_function_gets_the_arguments_and_its_value_is_the_result(python: PythonExecutor) -> None:
    outcome = await python.execute(a_call("add", arguments={"a": 2, "b": 40}))

    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result is not None
    assert outcome.result["return_value"] == 42
    assert outcome.result["duration_seconds"] >= 0


async def test_an_async_function_is_run_to_its_end(python: PythonExecutor) -> None:
    outcome = await python.execute(a_call("greet_later", arguments={"name": "ada", "delay": 0.01}))

    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result is not None
    assert outcome.result["return_value"] == "hello ada"


async def test_the_run_identity_goes_to_functions_that_ask_for_it(python: PythonExecutor) -> None:
    named = await python.execute(a_call("identity", run_id=41, attempt=3))
    open_ended = await python.execute(a_call("everything", run_id=41, attempt=3, arguments={"x": [1, "y"]}))

    assert named.result is not None
    assert named.result["return_value"] == {"run_id": 41, "attempt": 3}
    assert open_ended.result is not None
    # not through **kwargs: such functions often pass them on, and would break on the extra names
    assert open_ended.result["return_value"] == {"x": [1, "y"]}


async def test_the_run_identity_is_in_the_environment_during_the_call(python: PythonExecutor) -> None:
    first = await python.execute(a_call("environment", run_id=41, task_id=7, attempt=3))
    second = await python.execute(a_call("environment", run_id=42, task_id=7, attempt=1))

    assert first.result is not None
    assert first.result["return_value"] == {
        "SCHEDULER_RUN_ID": "41",
        "SCHEDULER_TASK_ID": "7",
        "SCHEDULER_ATTEMPT": "3",
        "SCHEDULER_SECRET": None,
    }
    assert second.result is not None
    assert second.result["return_value"]["SCHEDULER_RUN_ID"] == "42"


async def test_processes_start_from_the_base_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_SECRET", "worker key")
    executor = PythonExecutor(
        pool_size=1, kill_grace_seconds=0.5, base_environment={"PATH": os.environ["PATH"]}
    )
    try:
        outcome = await executor.execute(a_call("environment"))
    finally:
        await executor.close()

    assert outcome.result is not None
    assert outcome.result["return_value"]["SCHEDULER_SECRET"] is None


async def test_a_value_json_cannot_hold_is_kept_as_its_repr(python: PythonExecutor) -> None:
    outcome = await python.execute(a_call("unencodable"))

    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result is not None
    assert outcome.result["return_value"] == "{1, 2}"


async def test_values_and_arguments_larger_than_one_read_of_the_pipe_go_through_whole(
    python: PythonExecutor,
) -> None:
    # 300 kB each way: the pipe is read 64 KiB at a time, so each message spans several reads.
    big = await python.execute(a_call("large", arguments={"size": 300_000}))
    echoed = await python.execute(a_call("add", arguments={"a": "y" * 300_000, "b": "z"}))

    assert big.result is not None
    assert echoed.result is not None
    assert big.result["return_value"] == "x" * 300_000
    assert echoed.result["return_value"] == "y" * 300_000 + "z"


async def test_a_large_value_is_cut_to_the_limit() -> None:
    executor = PythonExecutor(pool_size=1, kill_grace_seconds=0.5, result_limit_bytes=100)
    try:
        outcome = await executor.execute(a_call("large", arguments={"size": 10_000}))
    finally:
        await executor.close()

    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result is not None
    assert outcome.result["return_value"] == '"' + "x" * 99
    assert outcome.result["return_value_truncated"] is True


async def test_an_exception_fails_the_run_with_its_type_message_and_traceback(python: PythonExecutor) -> None:
    outcome = await python.execute(a_call("fail", arguments={"message": "disk on fire"}))

    assert outcome.status is RunStatus.FAILED
    assert outcome.retryable is True
    assert outcome.error_message == f"{FUNCTIONS}.Boom: disk on fire"
    assert outcome.result is not None
    assert outcome.result["exception_type"] == f"{FUNCTIONS}.Boom"
    assert outcome.result["exception_message"] == "disk on fire"
    assert outcome.result["traceback"].startswith("Traceback (most recent call last):")
    assert "raise Boom(message)" in outcome.result["traceback"]
    assert "_python_child" not in outcome.result["traceback"]


async def test_a_long_traceback_keeps_its_tail() -> None:
    executor = PythonExecutor(pool_size=1, kill_grace_seconds=0.5, traceback_limit_chars=60)
    try:
        outcome = await executor.execute(a_call("fail", arguments={"message": "disk on fire"}))
    finally:
        await executor.close()

    assert outcome.result is not None
    traceback = outcome.result["traceback"]
    assert traceback.startswith("...\n")
    assert traceback.endswith(f"{FUNCTIONS}.Boom: disk on fire\n")
    assert len(traceback) == len("...\n") + 60


@pytest.mark.parametrize(
    ("command", "arguments", "complaint"),
    [
        ("tests.worker_fixtures.no_such_module:f", {}, "cannot import tests.worker_fixtures.no_such_module"),
        (f"{FUNCTIONS}:no_such_function", {}, f"{FUNCTIONS}:no_such_function does not exist"),
        (f"{FUNCTIONS}:not_callable", {}, f"{FUNCTIONS}:not_callable is not callable"),
        (f"{FUNCTIONS}:add", {"a": 1}, "cannot take these arguments: missing a required argument: 'b'"),
        (f"{FUNCTIONS}:add", {"a": 1, "b": 2, "c": 3}, "cannot take these arguments"),
        (f"{FUNCTIONS}:identity", {"scheduler_run_id": 1}, "'scheduler_run_id' is set by the scheduler"),
        (f"{FUNCTIONS}.add", {}, "is not of the form package.module:function"),
        ("os:path:join", {}, "is not of the form package.module:function"),
        ("1module:f", {}, "is not of the form package.module:function"),
    ],
)
async def test_a_target_that_cannot_be_called_fails_for_good(
    python: PythonExecutor, command: str, arguments: dict[str, object], complaint: str
) -> None:
    outcome = await python.execute(a_dispatch(command, executor="python", arguments=arguments))

    assert outcome.status is RunStatus.FAILED
    assert outcome.retryable is False
    assert outcome.error_message is not None
    assert complaint in outcome.error_message


async def test_a_timeout_kills_the_process_and_a_fresh_one_takes_its_place(
    python: PythonExecutor, tmp_path: Path, is_dead
) -> None:
    started, finished = tmp_path / "started", tmp_path / "finished"
    await warm(python)
    before = python.pids

    outcome = await python.execute(
        a_call(
            "sleep_then_touch",
            timeout_seconds=1,
            arguments={"seconds": 30, "started": str(started), "finished": str(finished)},
        )
    )

    assert outcome.status is RunStatus.TIMED_OUT
    assert outcome.error_message == "timed out after 1 s"
    killed = int(started.read_text())
    assert is_dead(killed)
    assert not finished.exists()
    assert before - python.pids == {killed}
    assert len(python.pids - before) == 1
    after = await python.execute(a_call("add", arguments={"a": 2, "b": 3}))
    assert after.result is not None
    assert after.result["return_value"] == 5


async def test_cancelling_the_run_kills_its_process_within_a_second(
    python: PythonExecutor, tmp_path: Path, wait_until, is_dead
) -> None:
    started = tmp_path / "started"
    running = asyncio.create_task(
        python.execute(
            a_call(
                "sleep_then_touch",
                arguments={"seconds": 30, "started": str(started), "finished": str(tmp_path / "f")},
            )
        )
    )
    await wait_until(lambda: started.exists() and started.read_text() != "")
    pid = int(started.read_text())

    cancelled_at = time.monotonic()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    assert time.monotonic() - cancelled_at < 1
    assert is_dead(pid)
    assert pid not in python.pids
    assert len(python.pids) == 2


async def test_a_process_the_function_started_is_stopped_too(
    python: PythonExecutor, tmp_path: Path, wait_until, is_dead
) -> None:
    pidfile = tmp_path / "sleeper"
    running = asyncio.create_task(
        python.execute(a_call("start_sleeper", arguments={"pidfile": str(pidfile)}))
    )
    await wait_until(lambda: pidfile.exists() and pidfile.read_text() != "", within=10)

    running.cancel()

    with pytest.raises(asyncio.CancelledError):
        await running
    assert is_dead(int(pidfile.read_text()))


async def test_a_process_that_dies_fails_its_run_and_is_replaced(python: PythonExecutor, is_dead) -> None:
    await warm(python)
    before = python.pids

    outcome = await python.execute(a_call("exit_process", arguments={"code": 3}))

    assert outcome.status is RunStatus.FAILED
    assert outcome.retryable is True
    assert outcome.error_message == "the Python process ended without answering (exit code 3)"
    assert len(python.pids) == 2
    assert [pid for pid in before - python.pids if not is_dead(pid)] == []
    assert (await python.execute(a_call("pid"))).status is RunStatus.SUCCEEDED


async def test_an_answer_that_cannot_be_read_fails_the_run_at_once_and_replaces_the_process(
    python: PythonExecutor, is_dead
) -> None:
    await warm(python)
    before = python.pids

    outcome = await python.execute(a_call("garble_the_pipe", timeout_seconds=30))

    assert outcome.status is RunStatus.FAILED  # not timed out: nothing waits for an answer any more
    assert outcome.error_message is not None
    assert outcome.error_message.startswith("the Python process ended without answering")
    assert [pid for pid in before - python.pids if not is_dead(pid)] == []
    assert len(python.pids) == 2
    assert (await python.execute(a_call("pid"))).status is RunStatus.SUCCEEDED


async def test_processes_are_reused_and_calls_beyond_the_pool_wait_for_one(
    python: PythonExecutor, tmp_path: Path, wait_until
) -> None:
    markers, release = tmp_path / "markers", tmp_path / "release"
    markers.mkdir()
    calls = [
        asyncio.create_task(
            python.execute(a_call("hold", arguments={"markers": str(markers), "release": str(release)}))
        )
        for _ in range(4)
    ]
    await wait_until(lambda: len(list(markers.iterdir())) == 2)

    release.write_text("")
    outcomes = await asyncio.gather(*calls)

    # A call that had to wait started only once one of the first two had been released.
    assert sorted(marker.read_text() for marker in markers.iterdir()) == ["early", "early", "late", "late"]
    pids = {outcome.result["return_value"] for outcome in outcomes if outcome.result is not None}
    assert pids == python.pids


async def test_close_stops_every_process_and_later_runs_fail(python: PythonExecutor, is_dead) -> None:
    await python.execute(a_call("add", arguments={"a": 1, "b": 1}))
    pids = python.pids
    assert len(pids) == 2

    await python.close()

    assert [pid for pid in pids if not is_dead(pid)] == []
    assert python.pids == frozenset()
    outcome = await python.execute(a_call("add", arguments={"a": 1, "b": 1}))
    assert outcome.status is RunStatus.FAILED
    assert outcome.error_message == "the Python executor is closed"


async def test_close_stops_a_running_call(
    python: PythonExecutor, tmp_path: Path, wait_until, is_dead
) -> None:
    started = tmp_path / "started"
    running = asyncio.create_task(
        python.execute(
            a_call(
                "sleep_then_touch",
                arguments={"seconds": 30, "started": str(started), "finished": str(tmp_path / "f")},
            )
        )
    )
    await wait_until(lambda: started.exists() and started.read_text() != "")

    await python.close()

    outcome = await asyncio.wait_for(running, 5)
    assert outcome.status is RunStatus.FAILED
    assert is_dead(int(started.read_text()))


async def test_nothing_starts_before_the_first_run() -> None:
    executor = PythonExecutor(pool_size=3, kill_grace_seconds=0.5)

    assert executor.pids == frozenset()
    await executor.close()


def test_a_pool_needs_a_process() -> None:
    with pytest.raises(InvalidInput):
        PythonExecutor(pool_size=0, kill_grace_seconds=1)


ORPHANING_WORKER = """
import asyncio, json, sys
from scheduler_testing import a_dispatch
from scheduler_worker import PythonExecutor

async def main():
    executor = PythonExecutor(pool_size=2, kill_grace_seconds=0.5)
    await executor.execute(a_dispatch("tests.worker_fixtures.functions:pid", executor="python"))
    print(json.dumps(sorted(executor.pids)), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_pool_processes_do_not_outlive_a_killed_worker(wait_until, is_dead) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", ORPHANING_WORKER],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[3],
    )
    try:
        assert worker.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(worker.stdout.readline), 20)
        pids = json.loads(line)
        assert len(pids) == 2

        worker.send_signal(signal.SIGKILL)

        await wait_until(lambda: all(is_dead(pid) for pid in pids), within=5)
    finally:
        worker.kill()
        worker.wait()
