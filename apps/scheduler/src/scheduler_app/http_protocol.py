"""The API's HTTP/1.1 protocol: uvicorn's httptools one, with bounds on connections and request heads."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger(__name__)

#: The most bytes a request line and its headers may take; a longer head is answered 431.
MAX_HEAD_BYTES = 64 * 1024
#: How long the rest of a refused request is read and dropped before the connection closes.
LINGER_SECONDS = 2.0
#: The refusals that follow a logged one are counted, and logged together this much later.
REFUSAL_LOG_SECONDS = 10.0


def problem_answer(status: int, title: str, detail: str, *headers: bytes) -> bytes:
    """A whole HTTP/1.1 answer with a problem+json body, announcing that the server hangs up."""
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    return (
        f"HTTP/1.1 {status} {title}\r\n".encode()
        + b"content-type: application/problem+json\r\n"
        + f"content-length: {len(body)}\r\n".encode()
        + b"".join(header + b"\r\n" for header in headers)
        + b"connection: close\r\n\r\n"
        + body
    )


_TOO_LARGE = problem_answer(
    431, "Request Header Fields Too Large", f"the request line and headers exceed {MAX_HEAD_BYTES} bytes"
)
_MALFORMED = problem_answer(
    400,
    "Bad Request",
    "the request is not valid HTTP/1.1: a malformed request line or header (a control character "
    "in a header value, for one)",
)
_TOO_MANY = problem_answer(
    503, "Service Unavailable", "the server has all the connections it accepts open", b"retry-after: 1"
)


class RefusalLog:
    """Logs the server's refusals as warnings without flooding the log: the first at once, those of
    the next `REFUSAL_LOG_SECONDS` counted by status and logged together at its end."""

    def __init__(self) -> None:
        self._counts: Counter[int] = Counter()
        self._client = ""
        self._window: asyncio.TimerHandle | None = None

    def refused(self, loop: asyncio.AbstractEventLoop, status: int, client: str) -> None:
        """Count a refusal answered `status` to `client`; log now unless one was logged lately."""
        self._counts[status] += 1
        self._client = client
        if self._window is None:
            self._log_and_wait(loop)

    def _log_and_wait(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._counts:
            self._window = None
            return
        logger.warning(
            "the API refused requests",
            extra={
                "refused": {str(status): n for status, n in sorted(self._counts.items())},
                "last_client": self._client,
            },
        )
        self._counts.clear()
        self._window = loop.call_later(REFUSAL_LOG_SECONDS, self._log_and_wait, loop)


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, bounded against clients that would hold the process's memory
    or connections before their request is even authenticated. Built by `bounded_http_protocol`.

    * A head (request line and headers) past `MAX_HEAD_BYTES` is answered 431: httptools keeps a
      head whole until it ends, however long it grows. The chunk in which a request begins is not
      counted, so a head holds at most one read (256 KiB) more than the bound.
    * A head not complete `head_timeout_seconds` after its first byte (after the connection
      opened, for the first request) is answered 408. One timer per connection, armed when a head
      begins and none is pending; when it fires for an earlier head it is armed again for the
      current one. Idle time between requests is left to uvicorn's `timeout_keep_alive`.
    * A connection past `max_connections` open is answered 503 as soon as it is accepted, and
      counts until it closes (when the client has read the answer, or after `LINGER_SECONDS`).
      uvicorn's own `limit_concurrency` is not used: it checks every request, so the kept-alive
      connections already being served get 503 too, and it counts the connection asking, so a
      limit of N serves N - 1.

    * A request httptools cannot parse is answered 400 as problem+json, like every other refusal,
      rather than uvicorn's plain-text one.

    Every refusal is logged as a warning with its status and client, the ones that follow within
    `REFUSAL_LOG_SECONDS` counted together (`RefusalLog`), so that hitting `max_connections` or a
    slow client shows in the log.

    After a refusal it sends its end of the connection and drops whatever still comes, for
    `LINGER_SECONDS` at most, then closes: closing at once, with the client's bytes unread, would
    reset the connection and the client could lose the answer.

    A refusal of a pipelined request (431 or 400) waits, like the 408, for the answers to the
    requests before it: written at once it would take their place, and their application would
    then write after the end of the connection was sent. When the request being received is the
    one that broke (a malformed body), its application is told the client left, and its answer
    gives way to the refusal.
    """

    head_timeout_seconds: float
    max_connections: int
    too_slow: bytes  # the 408 answer, which names `head_timeout_seconds`
    refusals: RefusalLog  # one per server

    _head_bytes: int | None = 0  # of the head being received; None while a body is
    _head_started: float | None = None  # loop time of the head being received; None between heads
    _head_timer: asyncio.TimerHandle | None = None
    _refused = False
    _held: bytes | None = None  # a refusal waiting for the answers in progress

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refuse(_TOO_MANY)
            return
        self._head_started = self.loop.time()
        self._arm_head_timer(self._head_started + self.head_timeout_seconds)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._head_bytes is not None:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(_TOO_LARGE)
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._head_started is None:  # else the first request: its head began with the connection
            self._head_started = self.loop.time()
            if self._head_timer is None:
                self._arm_head_timer(self._head_started + self.head_timeout_seconds)

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        self._head_started = None
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request its parser refused (`msg` is its fixed text)."""
        self._refuse(_MALFORMED)

    def _arm_head_timer(self, deadline: float) -> None:
        self._head_timer = self.loop.call_at(deadline, self._on_head_timer, deadline)

    def _on_head_timer(self, deadline: float) -> None:
        self._head_timer = None
        if self._head_started is None or self._refused:
            return  # no head under way: the next one to begin arms the timer
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined head behind a request still being answered: a 408 now would be written
            # into the middle of that answer.
            self._arm_head_timer(self.loop.time() + self.head_timeout_seconds)
        elif (head_deadline := self._head_started + self.head_timeout_seconds) > deadline:
            self._arm_head_timer(head_deadline)  # armed for an earlier head; this one began later
        else:
            self._refuse(self.too_slow)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._held is not None and self.cycle.response_complete:  # the last request parsed
            answer, self._held = self._held, None
            if not self.transport.is_closing():
                self._unset_keepalive_if_required()
                self._send_refusal(answer)

    def _refuse(self, answer: bytes) -> None:
        self._refused = True
        self.refusals.refused(self.loop, int(answer[9:12]), _client_of(self.transport))
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if not cycle.more_body:  # a later request: answered once the ones before it are
                self._held = answer
                return
            cycle.disconnected = True  # what its application still sends is dropped
            cycle.message_event.set()
            if cycle.response_started:  # too late for any other answer
                self.transport.close()
                return
        self._send_refusal(answer)

    def _send_refusal(self, answer: bytes) -> None:
        self.transport.write(answer)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def _client_of(transport: asyncio.Transport) -> str:
    peer = transport.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)


def bounded_http_protocol(*, head_timeout_seconds: float, max_connections: int) -> type[BoundedHttpProtocol]:
    """The protocol class for uvicorn's `http=`, with these bounds (uvicorn builds one per connection)."""
    too_slow = problem_answer(
        408, "Request Timeout", f"the request line and headers took longer than {head_timeout_seconds:g} s"
    )
    return type(
        "ConfiguredHttpProtocol",
        (BoundedHttpProtocol,),
        {
            "head_timeout_seconds": head_timeout_seconds,
            "max_connections": max_connections,
            "too_slow": too_slow,
            "refusals": RefusalLog(),
        },
    )
