"""The refusals spare a pipelined request's answer while it is in progress.

A client may send its next request before the answer to the one before it; if that next head is
slow, its 408 must wait for the answer in progress, or it would be written into its middle. The
same holds for a next head that is too large (431) or that the parser refuses (400): written at
once, the refusal would take the place of the answer, and the application's own answer would then
be written after the end of the connection was sent (a RuntimeError from the transport).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from scheduler_app import http_protocol
from scheduler_app.http_protocol import MAX_HEAD_BYTES, bounded_http_protocol

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


@pytest.mark.parametrize(
    ("pipelined", "refusal"),
    [
        ([b"\x01 not http\r\n\r\n"], b"HTTP/1.1 400 Bad Request\r\n"),
        # the bytes counted are those after the read in which the head began
        ([b"GET /second HTTP/1.1\r\n", b"X-Big: " + b"a" * MAX_HEAD_BYTES], b"HTTP/1.1 431 "),
    ],
    ids=["malformed", "too-large"],
)
async def test_a_refused_pipelined_request_is_answered_after_the_answer_before_it(
    app: SlowApp, server: int, caplog: pytest.LogCaptureFixture, pipelined: list[bytes], refusal: bytes
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"GET /first HTTP/1.1\r\nHost: test\r\n\r\n")
    await asyncio.wait_for(app.entered.wait(), LATENESS)
    for chunk in pipelined:
        writer.write(chunk)
        await writer.drain()
        await asyncio.sleep(HEAD_TIMEOUT / 4)  # the refusal is decided while /first is being answered
    app.release.set()

    with caplog.at_level(logging.ERROR):
        answers = await asyncio.wait_for(reader.read(), LATENESS * 2)
    writer.close()
    first, _, rest = answers.partition(b"ok")
    assert first.startswith(b"HTTP/1.1 200 "), answers
    assert rest.startswith(refusal), answers
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_a_request_whose_body_breaks_while_its_application_runs_is_answered_400(
    app: SlowApp, server: int
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(
        b"POST /upload HTTP/1.1\r\nHost: test\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n"
    )

    answer = await asyncio.wait_for(reader.read(), LATENESS)
    writer.close()
    app.release.set()  # what it sends now goes nowhere
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer


async def refused_answer(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    answer = await asyncio.wait_for(reader.read(), LATENESS)
    writer.close()
    return answer


def refusal_logs(caplog: pytest.LogCaptureFixture) -> list[dict[str, int]]:
    return [record.refused for record in caplog.records if record.getMessage() == "the API refused requests"]


async def test_refusals_are_logged_the_first_at_once_and_the_next_ones_counted_together(
    server: int, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_protocol, "REFUSAL_LOG_SECONDS", 0.3)
    malformed = b"GET / HTTP/1.1\r\nHost: test\r\nbad header\r\n\r\n"
    caplog.set_level(logging.WARNING, logger=http_protocol.__name__)

    too_large = await refused_answer(server, b"GET / HTTP/1.1\r\nX: " + b"a" * (MAX_HEAD_BYTES + 1))
    logged_at_once = refusal_logs(caplog)
    answers = [await refused_answer(server, malformed) for _ in range(2)]
    within_the_window = refusal_logs(caplog)
    deadline = asyncio.get_running_loop().time() + LATENESS
    while len(refusal_logs(caplog)) < 2 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)

    assert too_large.startswith(b"HTTP/1.1 431 ")
    assert all(answer.startswith(b"HTTP/1.1 400 ") for answer in answers)
    assert logged_at_once == [{"431": 1}]
    assert within_the_window == [{"431": 1}]
    assert refusal_logs(caplog) == [{"431": 1}, {"400": 2}]
