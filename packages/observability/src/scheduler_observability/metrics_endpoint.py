"""A process's metrics on a port of their own, for processes that serve no HTTP API (the dispatcher).

prometheus_client's WSGI server answers `GET /metrics` (any path, in fact) from a thread of its
own, so a scrape never waits for the process's event loop, nor slows it beyond reading counters.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from scheduler_observability.metrics import Metrics

_log = logging.getLogger(__name__)


class MetricsEndpoint:
    """The service serving `metrics` on `host:port` until stopped (see `scheduler_foundation.Service`)."""

    name = "metrics"

    def __init__(self, metrics: Metrics, *, host: str, port: int) -> None:
        self._metrics = metrics
        self._host = host
        self._port = port
        self._stopping = asyncio.Event()
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one bound when `port` was 0), once started."""
        return self._server.server_port if self._server is not None else self._port

    def start(self) -> None:
        """Listen now: `OSError` when the address is taken or cannot be bound."""
        self._server, self._thread = start_http_server(self._port, self._host, self._metrics.registry)
        _log.info("serving metrics", extra={"address": f"http://{self._host}:{self.port}/metrics"})

    async def run(self) -> None:
        """Serve until `stop`; starts listening first unless `start` already did."""
        if self._server is None:
            self.start()
        try:
            await self._stopping.wait()
        finally:
            await asyncio.to_thread(self._close)

    def stop(self) -> None:
        """Ask `run` to close the server."""
        self._stopping.set()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
