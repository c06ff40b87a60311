"""What the built-in executors refuse in a task's command and arguments, before any run."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler_errors import InvalidInput
from scheduler_foundation import TaskCheck
from scheduler_worker import HttpExecutor, PythonExecutor, ShellExecutor


@pytest.mark.parametrize(
    ("check", "command", "arguments", "field"),
    [
        (PythonExecutor.check_task, "no_colon", {}, "command"),
        (PythonExecutor.check_task, "pkg.mod:", {}, "command"),
        (PythonExecutor.check_task, "pkg-mod:run", {}, "command"),
        (PythonExecutor.check_task, "pkg.mod:run", {"scheduler_run_id": 1}, "arguments"),
        (HttpExecutor.check_task, "not a url", {}, "command"),
        (HttpExecutor.check_task, "ftp://example.com/file", {}, "command"),
        (HttpExecutor.check_task, "https://example.com", {"verb": "GET"}, "arguments"),
        (HttpExecutor.check_task, "https://example.com", {"method": "GE T"}, "arguments.method"),
        (HttpExecutor.check_task, "https://example.com", {"headers": {"a": 1}}, "arguments.headers"),
        (HttpExecutor.check_task, "https://example.com", {"timeout_seconds": 0}, "arguments.timeout_seconds"),
        (ShellExecutor.check_task, "true", {"env": "PATH=/bin"}, "arguments.env"),
        (ShellExecutor.check_task, "true", {"env": {"A=B": "c"}}, "arguments.env"),
        (ShellExecutor.check_task, "true", {"env": {"A": 1}}, "arguments.env"),
        (ShellExecutor.check_task, "true", {"cwd": 5}, "arguments.cwd"),
    ],
)
def test_a_task_no_run_could_execute_is_refused_naming_the_field(
    check: TaskCheck, command: str, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check(command, arguments)

    assert [error.field for error in caught.value.errors] == [field]


@pytest.mark.parametrize(
    ("check", "command", "arguments"),
    [
        (PythonExecutor.check_task, "package.module:function", {"n": 1}),
        (PythonExecutor.check_task, "not_installed_anywhere:run", {}),  # importing is the worker's
        (HttpExecutor.check_task, "https://example.com/hook", {"method": "post", "body": {"a": 1}}),
        (ShellExecutor.check_task, "echo $A", {"env": {"A": "b"}, "cwd": "/does/not/exist/here"}),
    ],
)
def test_a_well_formed_task_passes_whatever_the_worker_will_find(
    check: TaskCheck, command: str, arguments: dict[str, Any]
) -> None:
    check(command, arguments)
