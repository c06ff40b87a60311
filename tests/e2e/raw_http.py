"""HTTP/1.1 spoken by hand over a socket, for clients no library would be: slow, silent, pipelined."""

from __future__ import annotations

import json
import socket
from typing import Any

GET_HEALTH = b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n"


def read_answer(connection: socket.socket) -> bytes:
    """One answer, head and `content-length` body, leaving a kept-alive connection open."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += _recv(connection)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(header(head, b"content-length") or 0)
    while len(body) < length:
        body += _recv(connection)
    return head + b"\r\n\r\n" + body


def read_to_close(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes its end."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def status(answer: bytes) -> int:
    """The status code of an answer."""
    assert answer.startswith(b"HTTP/1.1 "), f"not an answer: {answer!r}"
    return int(answer.split(b" ", 2)[1])


def header(answer: bytes, name: bytes) -> bytes | None:
    """The value of the header `name` (lower case) in an answer's head, if it is there."""
    for line in answer.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def problem(answer: bytes) -> dict[str, Any]:
    """The problem details an answer carries (it must say it is problem+json)."""
    assert header(answer, b"content-type") == b"application/problem+json", answer
    return dict(json.loads(answer.partition(b"\r\n\r\n")[2]))


def _recv(connection: socket.socket) -> bytes:
    chunk = connection.recv(65536)
    if not chunk:
        raise AssertionError("the server closed the connection in the middle of an answer")
    return chunk
