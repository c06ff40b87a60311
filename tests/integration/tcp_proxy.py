"""A loopback TCP proxy in front of a real server, to cut a client off it and let it back.

The shared servers are never stopped by a test: a client under test connects through the proxy
instead, and the proxy plays the outage. `refuse()` stops listening (new connections are refused
at once) and resets the connections it carries; `black_hole()` resets them too but keeps
accepting new ones and never answers on them, as a server that hangs or a network that drops
every packet does; `restore()` forwards again, on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit


class TcpProxy:
    """Forwards connections to `127.0.0.1:<port>` to `target_host:target_port`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._port = 0
        self._mode = "forward"
        self._links: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @classmethod
    @contextlib.asynccontextmanager
    async def to(cls, url: str) -> AsyncIterator[TcpProxy]:
        """A running proxy to the server of `url` (a URL with a host and a port), stopped after."""
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"{url!r} names no host and port")
        proxy = cls(parts.hostname, parts.port)
        await proxy.start()
        try:
            yield proxy
        finally:
            await proxy.stop()

    @property
    def port(self) -> int:
        """The loopback port it listens on (kept across `refuse` and `restore`)."""
        return self._port

    def url(self, url: str) -> str:
        """`url` with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self._port}" if credentials else f"127.0.0.1:{self._port}"
        return urlunsplit(parts._replace(netloc=netloc))

    async def start(self) -> None:
        """Listen and forward."""
        self._mode = "forward"
        await self._listen()

    async def stop(self) -> None:
        """Stop listening and reset every connection."""
        await self._close_listener()
        self._reset_all()
        if self._links:
            await asyncio.wait(set(self._links))

    async def refuse(self) -> None:
        """As a server that is down: new connections are refused, the open ones reset."""
        self._mode = "refuse"
        await self._close_listener()
        self._reset_all()

    async def black_hole(self) -> None:
        """As a server that hangs: the open connections are reset, new ones are accepted and then
        never answered (a client waits until its own timeout)."""
        self._mode = "black_hole"
        self._reset_all()
        if self._server is None:
            await self._listen()

    async def restore(self) -> None:
        """Forward again: new connections reach the server (the ones held silent are reset)."""
        self._mode = "forward"
        self._reset_all()
        if self._server is None:
            await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self._port, reuse_address=True)
        self._port = self._server.sockets[0].getsockname()[1]

    async def _close_listener(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    def _reset_all(self) -> None:
        for writer in list(self._writers):
            _reset(writer)
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._mode == "refuse":  # accepted before the listener closed
            _reset(writer)
            return
        self._writers.add(writer)
        link = asyncio.current_task()
        assert link is not None
        self._links.add(link)
        try:
            if self._mode == "black_hole":
                await _until_closed(reader)
                return
            await self._forward(reader, writer)
        finally:
            self._links.discard(link)
            self._writers.discard(writer)
            _reset(writer)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            return
        self._writers.add(upstream_writer)
        try:
            await asyncio.gather(_pump(reader, upstream_writer), _pump(upstream_reader, writer))
        finally:
            self._writers.discard(upstream_writer)
            _reset(upstream_writer)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy `reader` to `writer` until either side goes away; then close the other too."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        _reset(writer)


async def _until_closed(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while await reader.read(65536):
            pass


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close at once with a reset (RST), as a lost connection does, not a polite FIN."""
    if writer.is_closing():
        return
    raw = writer.get_extra_info("socket")
    if raw is not None:
        with contextlib.suppress(OSError):
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
