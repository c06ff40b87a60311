"""The framing of the worker's pipe to its Python processes, over a real socket pair."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from scheduler_worker._frames import FrameReader, frame, write_frame


@pytest.fixture
def pipe() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        yield ours, theirs


def test_several_frames_in_one_read_come_out_in_order(pipe: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pipe
    theirs.sendall(frame("first") + frame({"second": 2}) + frame(None))
    reader = FrameReader()

    assert [reader.next_message(ours.fileno()) for _ in range(3)] == ["first", {"second": 2}, None]


def test_a_frame_split_across_writes_waits_for_its_last_byte(
    pipe: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pipe
    data = frame("whole")
    reader = FrameReader()
    theirs.sendall(data[:5])
    assert reader.read_from(ours.fileno()) is True
    assert not reader.messages  # the length alone is not a message
    theirs.sendall(data[5:-1])
    assert reader.read_from(ours.fileno()) is True
    assert not reader.messages
    theirs.sendall(data[-1:])

    assert reader.next_message(ours.fileno()) == "whole"


def test_a_frame_larger_than_a_read_is_put_together(pipe: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pipe
    ours.setblocking(True)
    big = "x" * 1_000_000

    writer = threading.Thread(target=write_frame, args=(theirs.fileno(), big))
    writer.start()
    try:
        assert FrameReader().next_message(ours.fileno()) == big
    finally:
        writer.join(timeout=10)
    assert not writer.is_alive()


def test_a_closed_pipe_ends_the_reading(pipe: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pipe
    theirs.sendall(frame("last") + frame("cut")[:3])
    theirs.shutdown(socket.SHUT_WR)
    reader = FrameReader()

    assert reader.next_message(ours.fileno()) == "last"
    with pytest.raises(EOFError):
        reader.next_message(ours.fileno())  # a frame cut short by the close is no message
