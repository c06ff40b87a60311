"""The API's HTTP/1.1 protocol: uvicorn's httptools one, with a bound on a request's head."""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: The most bytes a request line and its headers may take; a longer head is answered 431.
MAX_HEAD_BYTES = 64 * 1024
#: How long the rest of a refused request is read and dropped before the connection closes.
LINGER_SECONDS = 2.0

_REFUSAL = json.dumps(
    {
        "type": "about:blank",
        "title": "Request Header Fields Too Large",
        "status": 431,
        "detail": f"the request line and headers exceed {MAX_HEAD_BYTES} bytes",
    }
).encode()
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/problem+json\r\n"
    + f"content-length: {len(_REFUSAL)}\r\n".encode()
    + b"connection: close\r\n\r\n"
    + _REFUSAL
)


class BoundedHeadProtocol(HttpToolsProtocol):
    """httptools keeps a request's line and headers whole until they end, however long they grow:
    any client could fill the process's memory before its request is even authenticated. This
    one counts the bytes received while a head is incomplete, and past `MAX_HEAD_BYTES` answers
    431. The chunk in which a request begins is not counted, so a head holds at most one read
    (256 KiB) more than the bound.

    After the answer it sends its end of the connection and drops whatever still comes, for
    `LINGER_SECONDS` at most, then closes: closing at once, with the client's bytes unread, would
    reset the connection and the client could lose the answer.
    """

    _head_bytes: int | None = 0  # of the head being received; None while a body is
    _refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._head_bytes is not None:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()

    def _refuse(self) -> None:
        self._refused = True
        self.transport.write(_TOO_LARGE)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_SECONDS, self.transport.close)
