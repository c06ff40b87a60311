"""The executor port and the registry that maps executor names to executors."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeAlias

from scheduler_domain import RunDispatch, RunOutcome
from scheduler_errors import InvalidInput

#: Checks a task's `command` and `arguments` against what its executor accepts, where the task is
#: written rather than at each run: `InvalidInput` naming the first field the executor would
#: refuse. It judges the form only (a URL, a `module:function`), never the world it would meet
#: (whether the module imports or the host answers), which only a worker can see. An executor
#: offers one as its `check_task` attribute; plugins may, and need not.
TaskCheck: TypeAlias = Callable[[str, Mapping[str, Any]], None]


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
