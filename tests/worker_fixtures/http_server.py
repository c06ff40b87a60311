"""A small HTTP server in a thread, for the HTTP executor tests: it records what it receives."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: The longest a /slow request is held when nobody lets it go or hangs up.
SLOW_LIMIT_SECONDS = 10.0


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingServer:
    """What the server received, and whether a held request saw its client hang up."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    hung_up: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(state: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            parts = urlsplit(self.path)
            state.received.append(
                Received(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
            )
            if parts.path.startswith("/status/"):
                self._answer(int(parts.path.rsplit("/", 1)[1]), b"not this time", "text/plain")
            elif parts.path.startswith("/bytes/"):
                self._answer(
                    200, "é".encode() * int(parts.path.rsplit("/", 1)[1]), "text/plain; charset=utf-8"
                )
            elif parts.path == "/redirect":
                self._answer(302, b"", "text/plain", {"Location": "/hello"})
            elif parts.path == "/slow":
                self._hold()
            else:
                echoed = {"method": self.command, "path": parts.path, "body": body.decode()}
                self._answer(200, json.dumps(echoed).encode(), "application/json", {"ETag": '"v1"'})

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        def _answer(
            self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Ignored", "yes")
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _hold(self) -> None:
            """Answer once released; notice a client that hangs up first."""
            deadline = time.monotonic() + SLOW_LIMIT_SECONDS
            while time.monotonic() < deadline and not state.release.is_set():
                readable, _, _ = select.select([self.connection], [], [], 0.02)
                if readable and self.connection.recv(1, socket.MSG_PEEK) == b"":
                    state.hung_up.set()
                    return
            self._answer(200, b"finally", "text/plain")

    return Handler


@contextmanager
def serving() -> Iterator[RecordingServer]:
    """Serve on 127.0.0.1 at a free port until the block ends."""
    state = RecordingServer()
    with serving_with(_handler(state)) as port:
        state.port = port
        try:
            yield state
        finally:
            state.release.set()


@contextmanager
def serving_with(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """Serve `handler` on 127.0.0.1 from a thread, at a free port (given), until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def unused_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
