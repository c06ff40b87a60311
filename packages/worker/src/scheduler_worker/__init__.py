"""The worker runtime and its executors: shell, HTTP, Python, and plugins.

Names are imported on first use: the Python executor's processes import this package for the
child side alone, and stay small without the runtime, httpx and the other executors.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scheduler_worker.http import HttpExecutor
    from scheduler_worker.plugins import ENTRY_POINT_GROUP, discover_executors
    from scheduler_worker.presence import PresenceKeeper
    from scheduler_worker.python import PythonExecutor
    from scheduler_worker.runtime import Worker
    from scheduler_worker.shell import ShellExecutor
    from scheduler_worker.status_reporter import QueueRunReporter

_HOMES = {
    "ENTRY_POINT_GROUP": "plugins",
    "HttpExecutor": "http",
    "PresenceKeeper": "presence",
    "PythonExecutor": "python",
    "QueueRunReporter": "status_reporter",
    "ShellExecutor": "shell",
    "Worker": "runtime",
    "discover_executors": "plugins",
}

__all__ = [
    "ENTRY_POINT_GROUP",
    "HttpExecutor",
    "PresenceKeeper",
    "PythonExecutor",
    "QueueRunReporter",
    "ShellExecutor",
    "Worker",
    "discover_executors",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
