"""Functions for the Python executor tests; pool processes import this module by name."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def add(a: int, b: int) -> int:
    return a + b


async def greet_later(name: str, delay: float = 0.0) -> str:
    await asyncio.sleep(delay)
    return f"hello {name}"


def identity(scheduler_run_id: int, scheduler_attempt: int) -> dict[str, int]:
    return {"run_id": scheduler_run_id, "attempt": scheduler_attempt}


def everything(**kwargs: Any) -> dict[str, Any]:
    return kwargs


def environment() -> dict[str, str | None]:
    return {
        name: os.environ.get(name)
        for name in ("SCHEDULER_RUN_ID", "SCHEDULER_TASK_ID", "SCHEDULER_ATTEMPT", "SCHEDULER_SECRET")
    }


def pid() -> int:
    return os.getpid()


def unencodable() -> object:
    return {1, 2}


def large(size: int) -> str:
    return "x" * size


class Boom(Exception):
    pass


def fail(message: str) -> None:
    raise Boom(message)


def exit_process(code: int) -> None:
    os._exit(code)


def sleep_then_touch(seconds: float, started: str, finished: str) -> None:
    """Mark `started` with the pid, sleep, then mark `finished` (which a killed call never does)."""
    Path(started).write_text(str(os.getpid()))
    time.sleep(seconds)
    Path(finished).write_text("done")


def start_sleeper(pidfile: str) -> None:
    """Start a grandchild that sleeps, record its pid, and sleep too."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    Path(pidfile).write_text(str(sleeper.pid))
    time.sleep(60)


def hold(markers: str, release: str) -> int:
    """Record whether `release` existed when the call began, then wait (at most 10 s) for it."""
    marker = Path(markers) / f"{os.getpid()}-{time.monotonic_ns()}"
    marker.write_text("late" if Path(release).exists() else "early")
    deadline = time.monotonic() + 10
    while not Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid()


not_callable = 42


def garble_the_pipe() -> None:
    """Write a frame nobody can unpickle to every socket of this process (the executor's pipe is
    one), then return as usual."""
    for name in os.listdir("/proc/self/fd"):
        try:
            if stat.S_ISSOCK(os.fstat(int(name)).st_mode):
                os.write(int(name), (5).to_bytes(8, "big") + b"\xff" * 5)
        except OSError:
            continue
