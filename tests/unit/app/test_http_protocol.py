"""The request head deadline spares a pipelined head while the request before it is answered.

A client may send its next request before the answer to the one before it; if that next head is
slow, its 408 must wait for the answer in progress, or it would be written into its middle.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from scheduler_app.http_protocol import bounded_http_protocol

HEAD_TIMEOUT = 0.2
#: How much later than due the server may be, on a loaded machine, and still count as on time.
LATENESS = 2.0


class SlowApp:
    """Answers 200 once `release` is set; `entered` is set when a request reaches it."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.entered.set()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
async def server(app: SlowApp) -> AsyncIterator[int]:
    protocol = bounded_http_protocol(head_timeout_seconds=HEAD_TIMEOUT, max_connections=10)
    config = uvicorn.Config(app, http=protocol, lifespan="off", log_config=None)
    config.load()
    state = ServerState()
    listening = await asyncio.get_running_loop().create_server(
        lambda: protocol(config=config, server_state=state, app_state={}), "127.0.0.1", 0
    )
    yield listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()


@pytest.fixture
def app() -> SlowApp:
    return SlowApp()


async def test_a_slow_pipelined_head_is_answered_408_only_after_the_answer_before_it(
    app: SlowApp, server: int
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"GET /first HTTP/1.1\r\nHost: test\r\n\r\nGET /sec")
    await asyncio.wait_for(app.entered.wait(), LATENESS)

    with pytest.raises(TimeoutError):  # three head deadlines pass while /first is being answered
        await asyncio.wait_for(reader.read(1), HEAD_TIMEOUT * 3)
    app.release.set()

    first = await asyncio.wait_for(reader.readuntil(b"ok"), LATENESS)
    rest = await asyncio.wait_for(reader.read(), HEAD_TIMEOUT + LATENESS)
    writer.close()
    assert first.startswith(b"HTTP/1.1 200 ")
    assert rest.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), rest
