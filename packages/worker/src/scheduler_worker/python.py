"""The Python executor: calls `module:function` in a pool of reusable processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from scheduler_domain import RunDispatch, RunOutcome, RunStatus
from scheduler_errors import InvalidInput
from scheduler_worker._python_child import (
    ATTEMPT_ARGUMENT,
    RUN_ID_ARGUMENT,
    Call,
    Limits,
    Raised,
    Reply,
    Returned,
)
from scheduler_worker._python_pool import PoolClosed, ProcessDied, ProcessPool

#: How much of an exception's message the error message of a run keeps.
_MESSAGE_CHARS = 1000


class PythonExecutor:
    """Calls the function `job.command` names (`package.module:function`) with `job.arguments`
    as keyword arguments, in one of `pool_size` reusable processes.

    Sync and async functions alike (a coroutine is run with `asyncio.run` in the process). The
    process calls one function at a time; calls beyond `pool_size` wait for a free process, and
    the run's timeout counts that wait too. A timeout or cancellation stops the process running
    the call (SIGTERM to it and its session, SIGKILL after `kill_grace_seconds`), whatever the
    function is doing, and a fresh process replaces it.

    The result is `{"return_value": ...}` when the value is JSON-encodable (its repr when it is
    not; its JSON text cut to `result_limit_bytes`, with `return_value_truncated`, when too
    large). An exception fails the run with its type and message; the result holds those and
    the traceback's tail. A target that cannot be imported, or cannot take the arguments, fails
    the run as not retryable.

    The run's identity: `SCHEDULER_RUN_ID`, `SCHEDULER_TASK_ID` and `SCHEDULER_ATTEMPT` are set
    in the process's environment for the length of the call, and the keyword arguments
    `scheduler_run_id` and `scheduler_attempt` are passed only to a function whose signature
    names them (not through `**kwargs`, which many functions pass on), so plain functions need
    not know about the scheduler. A task's own arguments may not use those two names.

    Processes are forked on first use (or at `start`) by multiprocessing's fork server (which has imported
    nothing of the worker but this executor's child side), inherit this process's `sys.path`
    and working directory, and start from `base_environment` (default: this process's
    environment). Module state lives on between the calls a process serves. `close` stops them all.
    """

    def __init__(
        self,
        *,
        pool_size: int,
        kill_grace_seconds: float = 5.0,
        result_limit_bytes: int = 1024 * 1024,
        traceback_limit_chars: int = 8192,
        base_environment: Mapping[str, str] | None = None,
    ) -> None:
        if pool_size < 1:
            raise InvalidInput.for_field("pool_size", "must be at least 1")
        if kill_grace_seconds < 0:
            raise InvalidInput.for_field("kill_grace_seconds", "must not be negative")
        if result_limit_bytes < 0:
            raise InvalidInput.for_field("result_limit_bytes", "must not be negative")
        if traceback_limit_chars < 0:
            raise InvalidInput.for_field("traceback_limit_chars", "must not be negative")
        self._pool = ProcessPool(
            size=pool_size,
            kill_grace_seconds=kill_grace_seconds,
            environment=None if base_environment is None else dict(base_environment),
            limits=Limits(result_bytes=result_limit_bytes, traceback_chars=traceback_limit_chars),
        )

    @property
    def name(self) -> str:
        """`python`."""
        return "python"

    @staticmethod
    def check_task(command: str, arguments: Mapping[str, Any]) -> None:
        """`InvalidInput` naming what a run would refuse: a command not of the form
        `package.module:function`, or an argument named as one the scheduler passes. Whether
        the module imports is for the worker's Python to say."""
        _target(command, arguments)

    @property
    def pids(self) -> frozenset[int]:
        """The process ids of the pool (empty until first use and after `close`)."""
        return self._pool.pids

    async def execute(self, job: RunDispatch) -> RunOutcome:
        """Call the function to its end, its timeout, or the cancellation of the awaiting task."""
        try:
            call = _call(job)
        except InvalidInput as exc:
            return _failed(exc.detail, retryable=False)
        started = time.monotonic()
        try:
            async with asyncio.timeout(job.timeout_seconds):
                reply = await self._pool.run(call)
        except TimeoutError:
            return RunOutcome(
                status=RunStatus.TIMED_OUT,
                result={"duration_seconds": _since(started)},
                error_message=f"timed out after {job.timeout_seconds} s",
            )
        except (PoolClosed, ProcessDied) as exc:
            return _failed(str(exc))
        except OSError as exc:
            return _failed(f"cannot start a Python process: {exc}")
        return _outcome(reply, _since(started))

    def start(self) -> None:
        """Start the pool's processes now, so the first run does not wait for them (the fork
        server's own start holds this thread once, for about 0.1 s); `OSError` if one cannot
        start. Without it they start on the first run."""
        self._pool.start()

    async def close(self) -> None:
        """Stop every process of the pool (running calls fail); the executor then runs nothing."""
        await self._pool.close()


def _call(job: RunDispatch) -> Call:
    module, function = _target(job.command, job.arguments)
    return Call(
        module=module,
        function=function,
        arguments=dict(job.arguments),
        run_id=job.run_id,
        task_id=job.task_id,
        attempt=job.attempt,
    )


def _target(command: str, arguments: Mapping[str, Any]) -> tuple[str, str]:
    """The module and function `command` names; `InvalidInput` for a malformed one, or for
    `arguments` that take the names of the scheduler's own."""
    module, separator, function = command.strip().partition(":")
    if not separator or not _dotted(module) or not _dotted(function):
        raise InvalidInput.for_field("command", f"{command!r} is not of the form package.module:function")
    reserved = sorted({RUN_ID_ARGUMENT, ATTEMPT_ARGUMENT} & set(arguments))
    if reserved:
        raise InvalidInput.for_field("arguments", f"{reserved[0]!r} is set by the scheduler, not the task")
    return module, function


def _dotted(name: str) -> bool:
    return all(part.isidentifier() for part in name.split("."))


def _outcome(reply: Reply, duration_seconds: float) -> RunOutcome:
    if isinstance(reply, Returned):
        result: dict[str, Any] = {"return_value": reply.value, "duration_seconds": duration_seconds}
        if reply.truncated:
            result["return_value_truncated"] = True
        return RunOutcome(status=RunStatus.SUCCEEDED, result=result)
    if isinstance(reply, Raised):
        return RunOutcome(
            status=RunStatus.FAILED,
            error_message=f"{reply.exception_type}: {reply.message}"[:_MESSAGE_CHARS],
            result={
                "exception_type": reply.exception_type,
                "exception_message": reply.message[:_MESSAGE_CHARS],
                "traceback": reply.traceback,
                "duration_seconds": duration_seconds,
            },
        )
    return _failed(reply.reason, retryable=False)


def _failed(message: str, *, retryable: bool = True) -> RunOutcome:
    return RunOutcome(status=RunStatus.FAILED, error_message=message, retryable=retryable)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
