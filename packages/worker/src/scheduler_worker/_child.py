"""A started command: its output captured up to a cap, its exit observable apart from its pipes.

`asyncio.subprocess.Process.wait` also waits for the pipes to close, which a background job
that inherited them can delay for ever; hence a protocol of our own.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Mapping
from typing import Any


class CappedOutput:
    """The first `limit` bytes of a stream, and how many bytes it carried in all."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._kept = bytearray()
        self.total_bytes = 0

    def feed(self, chunk: bytes) -> None:
        """Count `chunk`, keeping what still fits under the cap."""
        self.total_bytes += len(chunk)
        room = self._limit - len(self._kept)
        if room > 0:
            self._kept += chunk[:room]

    @property
    def truncated(self) -> bool:
        """True when the stream carried more than the cap."""
        return self.total_bytes > self._limit

    @property
    def text(self) -> str:
        """What was kept, decoded as UTF-8 (undecodable bytes replaced)."""
        return self._kept.decode("utf-8", errors="replace")


class _CapturingProtocol(asyncio.SubprocessProtocol):
    """Feeds the pipes into capped buffers as fast as they fill, so the child never blocks."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        self.outputs = {1: CappedOutput(limit), 2: CappedOutput(limit)}
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        self.outputs[fd].feed(data.encode() if isinstance(data, str) else data)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class Child:
    """A command started in a session (and so a process group) of its own, stdin from /dev/null."""

    def __init__(self, transport: asyncio.SubprocessTransport, protocol: _CapturingProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    @classmethod
    async def start(
        cls, argv: list[str], *, env: Mapping[str, str], cwd: str | None, output_limit: int
    ) -> Child:
        """Start `argv`; raises `OSError` when it cannot start."""
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.subprocess_exec(
            lambda: _CapturingProtocol(output_limit, loop),
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        return cls(transport, protocol)

    @property
    def pid(self) -> int:
        """The process id, which is also the id of its process group."""
        pid = self._transport.get_pid()
        assert pid is not None  # set once started
        return pid

    @property
    def exited(self) -> asyncio.Future[None]:
        """Done once the process exited and was reaped (its descendants may live on)."""
        return self._protocol.exited

    @property
    def returncode(self) -> int | None:
        """The exit status once exited: negative for a signal, as in `subprocess`."""
        return self._transport.get_returncode()

    async def finish_output(self, *, within_seconds: float) -> None:
        """Read until every holder of the pipes is gone, for at most `within_seconds`, then close.

        A process that escaped the group (a daemon calling `setsid`) could hold them for ever.
        """
        await asyncio.wait({self._protocol.closed}, timeout=within_seconds)
        self.close()

    def close(self) -> None:
        """Release the pipes (the process must have exited, or it is killed)."""
        self._transport.close()

    def result(self, duration_seconds: float) -> dict[str, Any]:
        """The run result: both outputs, whether they were cut, and how long the run took."""
        stdout, stderr = self._protocol.outputs[1], self._protocol.outputs[2]
        return {
            "stdout": stdout.text,
            "stderr": stderr.text,
            "stdout_truncated": stdout.truncated,
            "stderr_truncated": stderr.truncated,
            "stdout_bytes": stdout.total_bytes,
            "stderr_bytes": stderr.total_bytes,
            "duration_seconds": round(duration_seconds, 3),
        }
