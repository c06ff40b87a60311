"""What every process's container is built from: settings, the clock, the executors, and the
helpers that open and close resources. Nothing here loads the API, the dispatcher or a database."""

from __future__ import annotations

import inspect
import os
import socket
from collections.abc import Awaitable
from typing import Any

from dependency_injector import containers, providers

from scheduler_app import telemetry
from scheduler_app.executors import executor_registry, task_checks
from scheduler_config import AppConfig
from scheduler_foundation import SystemClock


async def provide(provider: Any) -> Any:
    """The object a provider gives, awaiting it when it depends on an async resource."""
    value = provider()
    return await value if inspect.isawaitable(value) else value


async def open_in_order(*resources: Any) -> None:
    """Open resource providers one after the other.

    `init_resources()` opens them concurrently, so one that fails (an unmigrated database)
    leaves the others cancelled half-way and asyncio logging a stack trace; in order, the first
    failure is the only thing the user sees.
    """
    for resource in resources:
        await provide(resource)


async def settle(result: Awaitable[None] | None) -> None:
    """Await what dependency-injector returns for resources (an awaitable only when some are async)."""
    if result is not None:
        await result


def task_environment() -> dict[str, str]:
    """The environment commands start from: this process's, without the scheduler's own settings.

    `SCHEDULER_*` variables hold credentials (the admin key, the worker key); a task must not
    be able to read them. Tasks get `SCHEDULER_RUN_ID` and `SCHEDULER_ATTEMPT` back per run.
    """
    return {name: value for name, value in os.environ.items() if not name.startswith("SCHEDULER_")}


def default_worker_id() -> str:
    """`<hostname>-<pid>`, what `worker_id` shows on the runs a worker executes."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Core(containers.DeclarativeContainer):
    """Settings, the clock and the tracer (a no-op unless `tracing.exporter` is set)."""

    config = providers.Dependency(instance_of=AppConfig)
    clock = providers.Singleton(SystemClock)
    tracer = providers.Resource(telemetry.tracer, config.provided.tracing)


class Executors(containers.DeclarativeContainer):
    """The executors this process can run, and the names (with their checks) the API accepts."""

    config = providers.Dependency(instance_of=AppConfig)
    registry = providers.Resource(executor_registry, config, providers.Callable(task_environment))
    checks = providers.Singleton(task_checks)
