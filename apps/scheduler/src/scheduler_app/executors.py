"""The executors of a process: shell, HTTP, Python, and those of installed plugins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import httpx

from scheduler_config import AppConfig
from scheduler_foundation import ExecutorRegistry, TaskCheck
from scheduler_worker import HttpExecutor, PythonExecutor, ShellExecutor, discover_executors

BUILT_IN: Mapping[str, TaskCheck] = {
    "shell": ShellExecutor.check_task,
    "http": HttpExecutor.check_task,
    "python": PythonExecutor.check_task,
}


def task_checks() -> dict[str, TaskCheck | None]:
    """Every executor name a task may use, the built-in ones and the installed plugins', each
    with the check of a task's command and arguments (a plugin's `check_task`, if it has one)."""
    plugins = {executor.name: getattr(executor, "check_task", None) for executor in discover_executors()}
    return {**plugins, **BUILT_IN}


async def executor_registry(
    config: AppConfig, base_environment: dict[str, str]
) -> AsyncIterator[ExecutorRegistry]:
    """The executors, with the HTTP client and the Python process pool they own closed at the end.

    The Python processes start at once when the process serves Python tasks.

    Commands and functions start from `base_environment` (without the scheduler's credentials).
    """
    settings = config.worker
    client = httpx.AsyncClient()
    python = PythonExecutor(
        pool_size=settings.python_processes or settings.concurrency,
        kill_grace_seconds=settings.kill_grace_seconds,
        result_limit_bytes=settings.output_limit_bytes,
        base_environment=base_environment,
    )
    shell = ShellExecutor(
        output_limit_bytes=settings.output_limit_bytes,
        kill_grace_seconds=settings.kill_grace_seconds,
        base_environment=base_environment,
    )
    http = HttpExecutor(client=client, response_limit_bytes=settings.output_limit_bytes)
    try:
        if "python" in settings.task_types:
            python.start()  # warm before the first run, not during it
        yield ExecutorRegistry([shell, http, python, *discover_executors()])
    finally:
        await python.close()
        await client.aclose()
