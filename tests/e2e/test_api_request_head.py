"""The real server bounds a request's line and headers: past 64 KiB it answers 431 and hangs up."""

from __future__ import annotations

import contextlib
import json
import socket

import pytest

from tests.e2e.raw_http import problem, read_to_close, status
from tests.e2e.standalone import Standalone

pytestmark = pytest.mark.e2e


def exchange(standalone: Standalone, header_bytes: int) -> bytes:
    """Send a `GET /health` carrying a header of `header_bytes`; what comes back before the close."""
    with socket.create_connection(("127.0.0.1", standalone.port), timeout=10) as connection:
        head = b"GET /health HTTP/1.1\r\nHost: test\r\nX-Padding: " + b"a" * header_bytes + b"\r\n\r\n"
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused before all was sent
            connection.sendall(head)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and b"connection: close" not in answer.lower():
                break  # a kept-alive answer: the server does not hang up
        return answer


def test_a_head_past_the_bound_is_answered_431_and_the_server_goes_on(standalone: Standalone) -> None:
    answer = exchange(standalone, 1024 * 1024)

    status, _, body = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert json.loads(body)["status"] == 431
    assert exchange(standalone, 16 * 1024).startswith(b"HTTP/1.1 200 ")


def test_a_request_the_parser_refuses_is_answered_400_as_a_problem(standalone: Standalone) -> None:
    with socket.create_connection(("127.0.0.1", standalone.port), timeout=10) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\nX-API-Key: a\x01b\r\n\r\n")
        answer = read_to_close(connection)

    assert status(answer) == 400, answer[:200]
    assert problem(answer)["status"] == 400
    assert "header" in problem(answer)["detail"]
