"""The executor port and the registry that maps executor names to executors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from scheduler_domain import RunDispatch, RunOutcome
from scheduler_errors import InvalidInput


class TaskExecutor(Protocol):
    """Runs one kind of task to completion.

    `execute` enforces the run's own timeout (outcome `timed_out`). When the awaiting task is
    cancelled it stops the work it started (kills the process group, closes the connection)
    before re-raising `CancelledError`.
    """

    @property
    def name(self) -> str:
        """The executor name tasks refer to, e.g. `shell`."""
        ...

    async def execute(self, job: RunDispatch) -> RunOutcome:
        """Run `job` and say how it ended; never raises for a failure of the task itself."""
        ...


class ExecutorRegistry:
    """The executors a process can run, by name."""

    def __init__(self, executors: Iterable[TaskExecutor] = ()) -> None:
        self._executors: dict[str, TaskExecutor] = {}
        for executor in executors:
            self.register(executor)

    def register(self, executor: TaskExecutor) -> None:
        """Make `executor` available under its name (replacing one of the same name)."""
        self._executors[executor.name] = executor

    def get(self, name: str) -> TaskExecutor:
        """The executor called `name`; `InvalidInput` when there is none."""
        try:
            return self._executors[name]
        except KeyError:
            known = ", ".join(sorted(self._executors)) or "none"
            raise InvalidInput.for_field("executor", f"unknown executor {name!r} (known: {known})") from None

    def names(self) -> frozenset[str]:
        """Every registered executor name."""
        return frozenset(self._executors)
