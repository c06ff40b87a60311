"""The real server gives a request's line and headers `api.request_head_timeout_seconds` to arrive.

Out of the box uvicorn waits for a head for ever: a client that opens a connection and sends
nothing, or a request line a byte at a time, holds that connection (slowloris). The deadline runs
per head, from its first byte (from the connection's opening for the first request), and not
while a kept-alive connection is idle between requests: uvicorn's keep-alive timeout closes those.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.raw_http import GET_HEALTH, header, problem, read_answer, read_to_close, status
from tests.e2e.standalone import Standalone, running_standalone

pytestmark = pytest.mark.e2e

HEAD_TIMEOUT = 1.5
#: uvicorn's `timeout_keep_alive`, which the server leaves at its default.
KEEP_ALIVE_TIMEOUT = 5.0
#: How much later than due the server may be, on a loaded machine, and still count as on time.
LATENESS = 2.0


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Standalone]:
    env = {"SCHEDULER_API__REQUEST_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT)}
    with running_standalone(tmp_path / "data", env) as process:
        yield process


def connect(standalone: Standalone) -> socket.socket:
    return socket.create_connection(("127.0.0.1", standalone.port), timeout=HEAD_TIMEOUT + 10)


@pytest.mark.parametrize("sent", [b"", b"GET /hea"], ids=["nothing", "half a request line"])
def test_a_head_that_stops_coming_is_answered_408_and_the_connection_closed(
    standalone: Standalone, sent: bytes
) -> None:
    with connect(standalone) as connection:
        opened = time.monotonic()
        connection.sendall(sent)
        answer = read_to_close(connection)
        took = time.monotonic() - opened

    assert status(answer) == 408, answer
    assert header(answer, b"connection") == b"close"
    assert problem(answer) == {
        "type": "about:blank",
        "title": "Request Timeout",
        "status": 408,
        "detail": f"the request line and headers took longer than {HEAD_TIMEOUT:g} s",
    }
    assert HEAD_TIMEOUT * 0.9 <= took < HEAD_TIMEOUT + LATENESS


def test_a_head_that_trickles_in_is_answered_408_on_time(standalone: Standalone) -> None:
    """Each byte arrives well within the deadline; the head as a whole does not."""
    with connect(standalone) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nX-Slow: ")
        opened = time.monotonic()
        connection.settimeout(0.1)
        answer = b""
        while not answer and time.monotonic() - opened < HEAD_TIMEOUT + LATENESS:
            with contextlib.suppress(TimeoutError):
                answer = connection.recv(65536) or b"closed without an answer"
            connection.sendall(b"a")
        took = time.monotonic() - opened

    assert status(answer) == 408, answer
    assert took < HEAD_TIMEOUT + LATENESS


def test_each_head_of_a_kept_alive_connection_has_its_own_deadline(standalone: Standalone) -> None:
    """Three heads sent slowly on one connection, each within the deadline, all three together past it."""
    pieces = [GET_HEALTH[:5], GET_HEALTH[5:20], GET_HEALTH[20:30], GET_HEALTH[30:]]
    pause = HEAD_TIMEOUT / 8  # a head takes 3/8 of the deadline, three heads 9/8 of it
    started = time.monotonic()
    with connect(standalone) as connection:
        for _ in range(3):
            for index, piece in enumerate(pieces):
                if index:
                    time.sleep(pause)  # the pace of a slow client, not a wait for the server
                connection.sendall(piece)
            assert status(read_answer(connection)) == 200

    assert time.monotonic() - started > HEAD_TIMEOUT


def test_a_kept_alive_connection_idle_between_requests_is_closed_by_keep_alive_not_408(
    standalone: Standalone,
) -> None:
    with connect(standalone) as connection:
        connection.sendall(GET_HEALTH)
        assert status(read_answer(connection)) == 200

        time.sleep(HEAD_TIMEOUT * 2)  # idle past the head deadline, within the keep-alive timeout
        connection.sendall(GET_HEALTH)
        assert status(read_answer(connection)) == 200

        answered = time.monotonic()
        connection.settimeout(KEEP_ALIVE_TIMEOUT + LATENESS)
        assert read_to_close(connection) == b"", "an idle connection is closed without an answer"
        assert time.monotonic() - answered < KEEP_ALIVE_TIMEOUT + LATENESS
