"""A kept-alive connection is answered at once, not after the client's delayed ACK.

Two things keep Nagle's algorithm off the server's sockets: uvloop sets TCP_NODELAY on every
TCP connection, and the listening socket names IPPROTO_TCP, without which asyncio's own loop
does not. With both gone, every request here took 44 ms.
"""

from __future__ import annotations

import statistics
import time

from tests.e2e.standalone import Standalone

#: Far above an answer on loopback (about 1-5 ms, loaded CI included), far below the 40 ms of a
#: delayed ACK that every response would wait for without TCP_NODELAY on the server's side.
MEDIAN_CEILING_MS = 20.0


def test_requests_on_a_kept_alive_connection_are_not_held_back(standalone: Standalone) -> None:
    with standalone.client() as client:
        client.get("/health").raise_for_status()  # the connection is open and warm
        took = []
        for _ in range(15):
            started = time.perf_counter()
            client.get("/api/v1/tasks").raise_for_status()
            took.append((time.perf_counter() - started) * 1000)

    assert statistics.median(took) < MEDIAN_CEILING_MS, f"per request, ms: {took}"
