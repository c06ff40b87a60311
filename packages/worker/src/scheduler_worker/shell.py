"""The shell executor: runs a task's command with `/bin/sh -c` in a process group of its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping
from typing import Any

from scheduler_domain import RunDispatch, RunOutcome, RunStatus
from scheduler_errors import InvalidInput
from scheduler_worker._child import Child
from scheduler_worker._process_group import terminate_group

#: How long to keep reading output once the process group is gone.
_OUTPUT_SETTLE_SECONDS = 1.0


class ShellExecutor:
    """Runs `job.command` with a shell and reports its exit status and captured output.

    The command runs in a new session, so timeouts and cancellation can stop everything it
    started: SIGTERM to the whole process group, then SIGKILL after `kill_grace_seconds`.
    `job.arguments` may carry `env` (a mapping of str to str, added to the environment) and
    `cwd` (the working directory). The command also sees `SCHEDULER_RUN_ID`,
    `SCHEDULER_TASK_ID` and `SCHEDULER_ATTEMPT`, so it can make itself idempotent.
    """

    def __init__(
        self,
        *,
        output_limit_bytes: int = 1024 * 1024,
        kill_grace_seconds: float = 5.0,
        shell: str = "/bin/sh",
        base_environment: Mapping[str, str] | None = None,
    ) -> None:
        """`base_environment` is what every command inherits (default: this process's own)."""
        if output_limit_bytes < 0:
            raise InvalidInput.for_field("output_limit_bytes", "must not be negative")
        if kill_grace_seconds < 0:
            raise InvalidInput.for_field("kill_grace_seconds", "must not be negative")
        self._output_limit = output_limit_bytes
        self._kill_grace = kill_grace_seconds
        self._shell = shell
        self._base_environment = base_environment

    @property
    def name(self) -> str:
        """`shell`."""
        return "shell"

    @staticmethod
    def check_task(command: str, arguments: Mapping[str, Any]) -> None:
        """`InvalidInput` naming what a run would refuse: an `env` that is not a mapping of
        variable names to strings, a `cwd` that is not a path (its existence is the worker's)."""
        _extra_environment(arguments)
        _working_directory(arguments)

    async def execute(self, job: RunDispatch) -> RunOutcome:
        """Run the command to its end, its timeout, or the cancellation of the awaiting task."""
        settings = self._launch_settings(job)
        if isinstance(settings, RunOutcome):
            return settings
        environment, cwd = settings
        started = time.monotonic()
        try:
            child = await Child.start(
                [self._shell, "-c", job.command], env=environment, cwd=cwd, output_limit=self._output_limit
            )
        except OSError as exc:
            return _failed(f"cannot start {self._shell}: {exc}")
        return await self._supervise(child, job.timeout_seconds, started)

    async def _supervise(self, child: Child, timeout_seconds: int, started: float) -> RunOutcome:
        try:
            timed_out = await self._wait(child, timeout_seconds)
            await child.finish_output(within_seconds=_OUTPUT_SETTLE_SECONDS)
        except asyncio.CancelledError:
            await self._stop_shielded(child)
            raise
        result = child.result(time.monotonic() - started)
        if timed_out:
            return RunOutcome(
                status=RunStatus.TIMED_OUT,
                result=result,
                error_message=f"timed out after {timeout_seconds} s",
            )
        return _ended(child.returncode, result)

    async def _wait(self, child: Child, timeout_seconds: int) -> bool:
        """Wait for the command; True when it ran out of time and was stopped."""
        done, _ = await asyncio.wait({child.exited}, timeout=timeout_seconds)
        # Also once it ended: background jobs it left behind would outlive the run.
        await terminate_group(child.pid, child.exited, self._kill_grace)
        return not done

    async def _stop_shielded(self, child: Child) -> None:
        cleanup = asyncio.create_task(self._stop(child))
        while not cleanup.done():
            # A repeated cancellation must not leave the process group running: the caller
            # gets its CancelledError once the group is gone, at most the grace period later.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(cleanup)
        cleanup.result()

    async def _stop(self, child: Child) -> None:
        await terminate_group(child.pid, child.exited, self._kill_grace)
        await child.finish_output(within_seconds=_OUTPUT_SETTLE_SECONDS)

    def _launch_settings(self, job: RunDispatch) -> tuple[dict[str, str], str | None] | RunOutcome:
        """The environment and working directory of the command, or why it cannot start."""
        try:
            environment = self._environment(job)
            cwd = _working_directory(job.arguments)
        except InvalidInput as exc:
            return _failed(exc.detail, retryable=False)
        if cwd is not None and not os.path.isdir(cwd):
            return _failed(f"working directory {cwd!r} does not exist")
        return environment, cwd

    def _environment(self, job: RunDispatch) -> dict[str, str]:
        # Commands inherit the worker's environment unless the app passes a curated base, which
        # keeps the worker's own credentials out of every task.
        base = os.environ if self._base_environment is None else self._base_environment
        environment = dict(base)
        environment.update(_extra_environment(job.arguments))
        environment.update(
            SCHEDULER_RUN_ID=str(job.run_id),
            SCHEDULER_TASK_ID=str(job.task_id),
            SCHEDULER_ATTEMPT=str(job.attempt),
        )
        return environment


def _extra_environment(arguments: Mapping[str, Any]) -> dict[str, str]:
    extra = arguments.get("env", {})
    if not isinstance(extra, Mapping):
        raise InvalidInput.for_field("arguments.env", "must be a mapping of names to strings")
    for key, value in extra.items():
        if not isinstance(key, str) or not key or "=" in key or "\0" in key:
            raise InvalidInput.for_field("arguments.env", f"{key!r} is not a valid variable name")
        if not isinstance(value, str) or "\0" in value:
            raise InvalidInput.for_field("arguments.env", f"the value of {key} must be a string")
    return dict(extra)


def _working_directory(arguments: Mapping[str, Any]) -> str | None:
    cwd = arguments.get("cwd")
    if cwd is not None and (not isinstance(cwd, str) or not cwd or "\0" in cwd):
        raise InvalidInput.for_field("arguments.cwd", "must be a directory path")
    return cwd


def _ended(returncode: int | None, result: dict[str, Any]) -> RunOutcome:
    if returncode == 0:
        return RunOutcome(status=RunStatus.SUCCEEDED, exit_code=0, result=result)
    if returncode is not None and returncode < 0:
        return RunOutcome(
            status=RunStatus.FAILED, result=result, error_message=f"killed by signal {-returncode}"
        )
    return RunOutcome(
        status=RunStatus.FAILED, exit_code=returncode, result=result, error_message=f"exit code {returncode}"
    )


def _failed(message: str, *, retryable: bool = True) -> RunOutcome:
    return RunOutcome(status=RunStatus.FAILED, error_message=message, retryable=retryable)
