"""The framing of the pipe between the worker and its Python processes: length-prefixed pickles.

Rather than `multiprocessing.connection.Connection.send` and `recv`: those read a frame in two
system calls and build a `ForkingPickler` (with a copy of the whole reduction table) for every
message. Here a reader takes whatever bytes have arrived in one read and cuts every complete
frame out of them, and a frame is written with one call.
"""

from __future__ import annotations

import os
import pickle
from collections import deque
from typing import Any

_LENGTH_BYTES = 8
_READ_BYTES = 64 * 1024


def frame(message: object) -> bytes:
    """`message` pickled, behind its length."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(body).to_bytes(_LENGTH_BYTES, "big") + body


def write_frame(fd: int, message: object) -> None:
    """Write `message` whole to the blocking `fd`; `OSError` when the other end is gone."""
    data = memoryview(frame(message))
    while data:
        data = data[os.write(fd, data) :]


class FrameReader:
    """Cuts the frames out of the bytes read from one pipe, in order."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._chunk = bytearray(_READ_BYTES)  # read into, rather than a new buffer per read
        self._chunk_view = memoryview(self._chunk)
        self.messages: deque[Any] = deque()

    def read_from(self, fd: int) -> bool:
        """Read what `fd` holds (one read: blocking while it holds nothing) and queue every frame
        it completes; False when the other end has closed."""
        size = os.readv(fd, [self._chunk])
        if not size:
            return False
        pending = self._pending
        pending += self._chunk_view[:size]
        start = 0
        while len(pending) - start >= _LENGTH_BYTES:
            end = start + _LENGTH_BYTES + int.from_bytes(pending[start : start + _LENGTH_BYTES], "big")
            if end > len(pending):
                break
            body = pending[start + _LENGTH_BYTES : end]
            self.messages.append(pickle.loads(body))  # noqa: S301 - our own processes, as multiprocessing's pipes
            start = end
        del pending[:start]
        return True

    def next_message(self, fd: int) -> Any:
        """The next message, reading from the blocking `fd` until one is whole; `EOFError` when the
        other end closes first."""
        while not self.messages:
            if not self.read_from(fd):
                raise EOFError("the pipe was closed")
        return self.messages.popleft()
