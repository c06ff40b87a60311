"""The worker runtime and its executors: shell, HTTP, Python, and plugins."""

from scheduler_worker.http import HttpExecutor
from scheduler_worker.plugins import ENTRY_POINT_GROUP, discover_executors
from scheduler_worker.presence import PresenceKeeper
from scheduler_worker.python import PythonExecutor
from scheduler_worker.runtime import Worker
from scheduler_worker.shell import ShellExecutor
from scheduler_worker.status_reporter import QueueRunReporter

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
