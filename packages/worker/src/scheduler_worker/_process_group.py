"""Stopping a whole process group, so that no descendant of a command outlives its run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

_POLL_SECONDS = 0.05
#: How long SIGKILLed processes get to disappear; the kernel needs only moments.
_KILL_SETTLE_SECONDS = 2.0
_PROC = Path("/proc")


async def terminate_group(pgid: int, leader_exited: asyncio.Future[None], grace_seconds: float) -> None:
    """SIGTERM process group `pgid`, SIGKILL it after `grace_seconds`, wait for the leader's end.

    Returns at once when nothing of the group is left running.
    """
    if not await _gone_within(pgid, leader_exited, 0):
        _signal_group(pgid, signal.SIGTERM)
        # A stopped process would only act on SIGTERM once continued.
        _signal_group(pgid, signal.SIGCONT)
        if not await _gone_within(pgid, leader_exited, grace_seconds):
            _signal_group(pgid, signal.SIGKILL)
    await asyncio.wait({leader_exited})
    await _gone_within(pgid, leader_exited, _KILL_SETTLE_SECONDS)


async def _gone_within(pgid: int, leader_exited: asyncio.Future[None], seconds: float) -> bool:
    """Poll until no member of the group is running; False if some still are after `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        if leader_exited.done():
            # Only now: reaping the group earlier could steal the leader from asyncio's watcher.
            _reap_group(pgid)
        if not _group_running(pgid):
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL_SECONDS)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _reap_group(pgid: int) -> None:
    """Collect members that are our children, which they are only when this process is PID 1
    or a child subreaper; otherwise there is nothing to collect."""
    while True:
        try:
            reaped = os.waitid(os.P_PGID, pgid, os.WEXITED | os.WNOHANG)
        except ChildProcessError:
            return
        if reaped is None:
            return


def _group_running(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _has_running_member(pgid)


def _has_running_member(pgid: int) -> bool:
    """True unless /proc shows that every member left is a zombie.

    An init that does not reap orphans leaves killed grandchildren as zombies; they still count
    for `killpg` but are dead. Without /proc, assume the group is still running.
    """
    try:
        entries = [entry for entry in os.listdir(_PROC) if entry.isdigit()]
    except OSError:
        return True
    for entry in entries:
        try:
            stat = (_PROC / entry / "stat").read_bytes()
        except OSError:
            continue
        # Fields after the command name, which may itself contain ") ": state, ppid, pgrp.
        state, _ppid, pgrp = stat.rpartition(b")")[2].split()[:3]
        if int(pgrp) == pgid and state not in (b"Z", b"X"):
            return True
    return False
