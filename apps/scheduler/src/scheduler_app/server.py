"""The HTTP server as a Service that shares the process's event loop and signal handling."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Generator
from typing import Any

import uvicorn

from scheduler_app.http_protocol import bounded_http_protocol


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT/SIGTERM to the process that embeds it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ApiServer:
    """Serves an ASGI app until stopped."""

    name = "api"

    def __init__(
        self, *, app: Any, host: str, port: int, request_head_timeout_seconds: float, max_connections: int
    ) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            http=bounded_http_protocol(
                head_timeout_seconds=request_head_timeout_seconds, max_connections=max_connections
            ),
            # uvicorn would take the client's address from X-Forwarded-For when the connection
            # comes from 127.0.0.1; the audit log records the connection's own address instead.
            proxy_headers=False,
            server_header=False,  # no "server: uvicorn" on every answer: nothing to tell a scanner
            timeout_graceful_shutdown=5,
        )
        self._server = _EmbeddedServer(config)
        self.host = host
        self.port = port

    async def run(self) -> None:
        """Serve until `stop()`; raises `OSError` when the port cannot be bound."""
        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that name it, and
        # without it a response written in two parts waits out the client's delayed ACK (40 ms).
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        await self._server.serve(sockets=[sock])

    def stop(self) -> None:
        """Stop accepting requests and finish the ones in flight."""
        self._server.should_exit = True

    @property
    def started(self) -> bool:
        """True once the server is accepting connections."""
        return bool(self._server.started)
