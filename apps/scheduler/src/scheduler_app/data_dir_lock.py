"""One `scheduler standalone` per data directory."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from scheduler_errors import Conflict, Unavailable

LOCK_FILE = "standalone.lock"


@contextlib.contextmanager
def exclusive_data_dir(directory: Path) -> Iterator[None]:
    """Hold the lock of `directory` for the block; `Conflict` when another process holds it.

    Two standalone processes on one SQLite file would each schedule, sweep and hand runs to a
    queue of their own. The lock is the kernel's (`flock`), so it goes with the process, however
    that ends: a crashed process leaves no stale lock behind.
    """
    try:
        # Private whatever the umask: the directory holds the database (key hashes, task arguments).
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = os.fdopen(os.open(directory / LOCK_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a")
    except OSError as exc:
        raise Unavailable(
            f"cannot use the data directory {str(directory)!r} ({exc.strerror or exc}): "
            "check that it is a directory this process may write to"
        ) from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                f"another `scheduler standalone` is running on the data directory {str(directory)!r}: "
                "stop it first, or pass another --data-dir"
            ) from None
        yield
