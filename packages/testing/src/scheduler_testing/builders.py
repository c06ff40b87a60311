"""Builders of valid entities with overridable defaults."""

from __future__ import annotations

from typing import Any

from scheduler_domain import RunDispatch, Task, TaskRun, TaskType


def a_task(**overrides: Any) -> Task:
    """A valid shell task; any field can be overridden."""
    fields: dict[str, Any] = {"name": "echo", "command": "echo hello"}
    fields.update(overrides)
    return Task(**fields)


def a_run(**overrides: Any) -> TaskRun:
    """A pending manual run of task 1; any field can be overridden."""
    fields: dict[str, Any] = {"task_id": 1}
    fields.update(overrides)
    return TaskRun(**fields)


def a_dispatch(command: str = "echo hello", **overrides: Any) -> RunDispatch:
    """A shell run dispatch for run 1, attempt 1."""
    fields: dict[str, Any] = {
        "run_id": 1,
        "task_id": 1,
        "attempt": 1,
        "task_type": TaskType.SHELL,
        "executor": "shell",
        "command": command,
    }
    fields.update(overrides)
    return RunDispatch(**fields)
