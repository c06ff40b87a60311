"""The shell executor, against real subprocesses."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from scheduler_domain import RunStatus
from scheduler_testing import a_dispatch
from scheduler_worker import ShellExecutor


@pytest.fixture
def shell() -> ShellExecutor:
    return ShellExecutor(kill_grace_seconds=0.5)


async def read_pids(pidfile: Path, count: int, wait_until) -> list[int]:
    await wait_until(lambda: pidfile.exists() and len(pidfile.read_text().split()) >= count)
    return [int(pid) for pid in pidfile.read_text().split()]


async def test_a_succeeding_command_reports_both_outputs(shell: ShellExecutor) -> None:
    outcome = await shell.execute(a_dispatch("echo out; echo err >&2"))

    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.exit_code == 0
    assert outcome.error_message is None
    assert outcome.result is not None
    assert outcome.result["stdout"] == "out\n"
    assert outcome.result["stderr"] == "err\n"
    assert outcome.result["stdout_truncated"] is False
    assert outcome.result["stderr_truncated"] is False
    assert outcome.result["stdout_bytes"] == 4
    assert outcome.result["duration_seconds"] >= 0


async def test_a_non_zero_exit_code_fails_the_run(shell: ShellExecutor) -> None:
    outcome = await shell.execute(a_dispatch("echo partial; exit 3"))

    assert outcome.status is RunStatus.FAILED
    assert outcome.exit_code == 3
    assert outcome.error_message == "exit code 3"
    assert outcome.result is not None
    assert outcome.result["stdout"] == "partial\n"


async def test_a_command_killed_by_a_signal_fails_saying_which(shell: ShellExecutor) -> None:
    outcome = await shell.execute(a_dispatch("kill -9 $$"))

    assert outcome.status is RunStatus.FAILED
    assert outcome.error_message == "killed by signal 9"


async def test_an_unknown_command_fails_with_the_shell_exit_code(shell: ShellExecutor) -> None:
    outcome = await shell.execute(a_dispatch("no-such-command-here"))

    assert outcome.status is RunStatus.FAILED
    assert outcome.exit_code == 127


async def test_the_command_sees_its_env_and_the_run_identity(shell: ShellExecutor) -> None:
    job = a_dispatch(
        'printf "%s|%s|%s|%s" "$GREETING" "$SCHEDULER_RUN_ID" "$SCHEDULER_TASK_ID" "$SCHEDULER_ATTEMPT"',
        run_id=41,
        task_id=7,
        attempt=3,
        arguments={"env": {"GREETING": "hello world"}},
    )

    outcome = await shell.execute(job)

    assert outcome.result is not None
    assert outcome.result["stdout"] == "hello world|41|7|3"


async def test_the_run_identity_cannot_be_overridden_by_the_task(shell: ShellExecutor) -> None:
    job = a_dispatch(
        'printf "%s" "$SCHEDULER_RUN_ID"', run_id=5, arguments={"env": {"SCHEDULER_RUN_ID": "99"}}
    )

    outcome = await shell.execute(job)

    assert outcome.result is not None
    assert outcome.result["stdout"] == "5"


async def test_the_worker_environment_is_inherited(
    shell: ShellExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_THE_WORKER", "inherited")

    outcome = await shell.execute(a_dispatch('printf "%s" "$FROM_THE_WORKER"'))

    assert outcome.result is not None
    assert outcome.result["stdout"] == "inherited"


async def test_a_base_environment_replaces_the_worker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_SECRET", "do-not-leak")
    shell = ShellExecutor(base_environment={"PATH": os.environ["PATH"], "ONLY": "this"})

    outcome = await shell.execute(a_dispatch('printf "%s|%s" "$WORKER_SECRET" "$ONLY"'))

    assert outcome.result is not None
    assert outcome.result["stdout"] == "|this"


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        (["A=1"], "must be a mapping"),
        ({"A": 1}, "must be a string"),
        ({"A=B": "1"}, "not a valid variable name"),
        ({"": "1"}, "not a valid variable name"),
    ],
)
async def test_a_malformed_env_fails_the_run_without_raising(
    shell: ShellExecutor, env: object, complaint: str
) -> None:
    outcome = await shell.execute(a_dispatch("echo never", arguments={"env": env}))

    assert outcome.status is RunStatus.FAILED
    assert outcome.error_message is not None
    assert "arguments.env" in outcome.error_message
    assert complaint in outcome.error_message
    assert outcome.retryable is False


async def test_the_command_runs_in_the_requested_directory(shell: ShellExecutor, tmp_path: Path) -> None:
    outcome = await shell.execute(a_dispatch("pwd", arguments={"cwd": str(tmp_path)}))

    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result is not None
    assert outcome.result["stdout"].strip() == str(tmp_path)


async def test_a_missing_directory_fails_the_run_saying_so(shell: ShellExecutor, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    outcome = await shell.execute(a_dispatch("pwd", arguments={"cwd": str(missing)}))

    assert outcome.status is RunStatus.FAILED
    assert outcome.error_message == f"working directory {str(missing)!r} does not exist"


async def test_a_cwd_that_is_not_a_path_fails_the_run(shell: ShellExecutor) -> None:
    outcome = await shell.execute(a_dispatch("pwd", arguments={"cwd": 42}))

    assert outcome.status is RunStatus.FAILED
    assert outcome.error_message == "arguments.cwd: must be a directory path"


async def test_a_shell_that_cannot_start_fails_the_run() -> None:
    shell = ShellExecutor(shell="/nonexistent/sh")

    outcome = await shell.execute(a_dispatch("echo hi"))

    assert outcome.status is RunStatus.FAILED
    assert outcome.error_message is not None
    assert outcome.error_message.startswith("cannot start /nonexistent/sh")


async def test_the_command_reads_nothing_from_stdin(shell: ShellExecutor) -> None:
    outcome = await shell.execute(a_dispatch("cat; echo done", timeout_seconds=5))

    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result is not None
    assert outcome.result["stdout"] == "done\n"


async def test_output_past_the_cap_is_cut_and_flagged() -> None:
    shell = ShellExecutor(output_limit_bytes=1000)

    outcome = await shell.execute(a_dispatch("head -c 100000 /dev/zero | tr '\\0' a; echo small >&2"))

    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result is not None
    assert outcome.result["stdout"] == "a" * 1000
    assert outcome.result["stdout_truncated"] is True
    assert outcome.result["stdout_bytes"] == 100_000
    assert outcome.result["stderr"] == "small\n"
    assert outcome.result["stderr_truncated"] is False


async def test_a_child_writing_far_past_the_cap_on_both_streams_never_blocks() -> None:
    # Each stream carries 2 MB, far beyond a pipe's buffer: a child left blocked on a full pipe
    # would never exit and the run would time out instead of succeeding.
    shell = ShellExecutor(output_limit_bytes=1000)
    command = "head -c 2000000 /dev/zero >&2 & head -c 2000000 /dev/zero; wait"

    outcome = await shell.execute(a_dispatch(command, timeout_seconds=20))

    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result is not None
    assert outcome.result["stdout_bytes"] == 2_000_000
    assert outcome.result["stderr_bytes"] == 2_000_000
    assert outcome.result["stdout_truncated"] is True
    assert outcome.result["stderr_truncated"] is True
    assert len(outcome.result["stdout"]) == 1000


async def test_output_cut_inside_a_character_is_decoded_with_a_replacement() -> None:
    shell = ShellExecutor(output_limit_bytes=3)

    outcome = await shell.execute(a_dispatch("printf 'a\\303\\251\\303\\251'"))

    assert outcome.result is not None
    assert outcome.result["stdout"] == "a\N{LATIN SMALL LETTER E WITH ACUTE}"
    assert outcome.result["stdout_truncated"] is True


async def test_a_timeout_kills_the_whole_process_group(shell: ShellExecutor, tmp_path: Path, is_dead) -> None:
    pidfile = tmp_path / "pids"
    job = a_dispatch(
        f"echo before; echo $$ >{pidfile}; sleep 30 & echo $! >>{pidfile}; sleep 30", timeout_seconds=1
    )

    outcome = await shell.execute(job)

    assert outcome.status is RunStatus.TIMED_OUT
    assert outcome.error_message == "timed out after 1 s"
    assert outcome.result is not None
    assert outcome.result["stdout"] == "before\n"
    shell_pid, background_pid = (int(pid) for pid in pidfile.read_text().split())
    assert is_dead(shell_pid)
    assert is_dead(background_pid)


async def test_a_command_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path, is_dead) -> None:
    shell = ShellExecutor(kill_grace_seconds=0.5)
    pidfile = tmp_path / "pids"
    began = time.monotonic()

    outcome = await shell.execute(
        a_dispatch(f"trap '' TERM; sleep 30 & echo $! >{pidfile}; sleep 30", timeout_seconds=1)
    )

    assert outcome.status is RunStatus.TIMED_OUT
    assert time.monotonic() - began >= 1.5
    assert is_dead(int(pidfile.read_text()))


async def test_sigterm_comes_first_so_the_command_can_clean_up() -> None:
    shell = ShellExecutor(kill_grace_seconds=5)
    command = "trap 'echo cleaned up; exit 0' TERM; while :; do sleep 0.1; done"

    outcome = await shell.execute(a_dispatch(command, timeout_seconds=1))

    assert outcome.status is RunStatus.TIMED_OUT
    assert outcome.result is not None
    assert outcome.result["stdout"] == "cleaned up\n"


async def test_background_jobs_left_behind_are_stopped_when_the_command_ends(
    shell: ShellExecutor, tmp_path: Path, is_dead
) -> None:
    pidfile = tmp_path / "pids"

    outcome = await asyncio.wait_for(shell.execute(a_dispatch(f"sleep 30 & echo $! >{pidfile}")), 10)

    assert outcome.status is RunStatus.SUCCEEDED
    assert is_dead(int(pidfile.read_text()))


async def test_cancelling_kills_the_process_group_and_re_raises(
    shell: ShellExecutor, tmp_path: Path, is_dead, wait_until
) -> None:
    pidfile = tmp_path / "pids"
    job = a_dispatch(f"echo $$ >{pidfile}; sleep 30 & echo $! >>{pidfile}; sleep 30", timeout_seconds=60)
    execution = asyncio.create_task(shell.execute(job))
    pids = await read_pids(pidfile, 2, wait_until)

    execution.cancel()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(execution, 10)
    assert [pid for pid in pids if not is_dead(pid)] == []


async def test_a_second_cancellation_still_waits_for_the_group_to_die(
    tmp_path: Path, is_dead, wait_until
) -> None:
    shell = ShellExecutor(kill_grace_seconds=0.5)
    pidfile, termfile = tmp_path / "pids", tmp_path / "term"
    # The shell notes SIGTERM and carries on, so only the SIGKILL after the grace ends it.
    command = f"echo $$ >{pidfile}; trap 'echo term >>{termfile}' TERM; while :; do sleep 0.1; done"
    execution = asyncio.create_task(shell.execute(a_dispatch(command, timeout_seconds=60)))
    (pid,) = await read_pids(pidfile, 1, wait_until)

    execution.cancel()
    await wait_until(termfile.exists)
    execution.cancel()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(execution, 10)
    assert is_dead(pid)
