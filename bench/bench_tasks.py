"""The functions the scheduler's side of the side-by-side benchmark runs (Python tasks).

The worker's Python processes import this module by name: the benchmark puts `bench/` on their
`PYTHONPATH`. Celery's tasks (`celery_app.py`) do the same work.
"""

from __future__ import annotations

import time


def noop() -> None:
    """Nothing at all."""


def first_line() -> float:
    """The moment (CLOCK_MONOTONIC, shared by every process of the machine) its first line ran."""
    return time.monotonic()


def sleep_one() -> None:
    """One second of `time.sleep`."""
    time.sleep(1)


def wall_clock() -> float:
    """The moment its first line ran, on the wall clock (`time.time()`), to compare with the
    timestamps PostgreSQL records."""
    return time.time()
