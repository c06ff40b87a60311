"""The worker runtime and the shell executor."""

from scheduler_worker.runtime import Worker
from scheduler_worker.shell import ShellExecutor

__all__ = ["ShellExecutor", "Worker"]
