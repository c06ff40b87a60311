"""The real server keeps at most `api.max_connections` connections open; one more is answered 503.

The cap is per connection, not per request: the connections already open go on being served
while another is refused (uvicorn's own `limit_concurrency` would refuse their requests too).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.raw_http import GET_HEALTH, header, problem, read_answer, read_to_close, status
from tests.e2e.standalone import Standalone, running_standalone, wait_for

pytestmark = pytest.mark.e2e

MAX_CONNECTIONS = 2


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Standalone]:
    env = {"SCHEDULER_API__MAX_CONNECTIONS": str(MAX_CONNECTIONS)}
    with running_standalone(tmp_path / "data", env) as process:
        yield process


def connect(standalone: Standalone) -> socket.socket:
    return socket.create_connection(("127.0.0.1", standalone.port), timeout=10)


def served_on_a_new_connection(standalone: Standalone) -> bool:
    with connect(standalone) as connection:
        connection.sendall(GET_HEALTH)
        return status(read_answer(connection)) == 200


def test_a_connection_past_the_cap_is_answered_503_while_the_open_ones_are_served(
    standalone: Standalone,
) -> None:
    held = [connect(standalone) for _ in range(MAX_CONNECTIONS)]
    try:
        for connection in held:
            connection.sendall(GET_HEALTH)
            assert status(read_answer(connection)) == 200  # accepted and kept alive

        with connect(standalone) as extra:
            extra.sendall(GET_HEALTH)
            refused = read_answer(extra)
            assert status(refused) == 503, refused
            assert header(refused, b"connection") == b"close"
            assert header(refused, b"retry-after") == b"1"
            assert problem(refused)["status"] == 503
            assert read_to_close(extra) == b"", "nothing more, then the server hangs up"

        for connection in held:
            connection.sendall(GET_HEALTH)
            assert status(read_answer(connection)) == 200
    finally:
        for connection in held:
            connection.close()

    wait_for(lambda: served_on_a_new_connection(standalone), timeout=10, what="a new connection served")
