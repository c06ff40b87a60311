"""Waiting on conditions with a deadline, never sleeping and hoping."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path


async def eventually(condition: Callable[[], bool], *, within: float = 5.0) -> None:
    """Return once `condition()` holds; raise `TimeoutError` after `within` seconds."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - an arbitrary condition has no event to await
            await asyncio.sleep(0.01)


def process_is_dead(pid: int) -> bool:
    """True when `pid` is gone or a zombie.

    An init that does not reap orphans (as on some CI machines) leaves a killed grandchild as a
    zombie: dead, but still answering `kill(pid, 0)`.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")
