"""aio-pika errors, translated at the adapter's edge."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

from aio_pika.exceptions import AMQPConnectionError, AMQPError, ChannelInvalidStateError

from scheduler_errors import Unavailable

#: What a lost, closing or refusing broker raises through aio-pika.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    AMQPError,
    ChannelInvalidStateError,  # a RuntimeError: the channel of a delivery or a publish is gone
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)
#: A connection (or the channel with it) that went away, as opposed to a broker's refusal.
CONNECTION_LOST: tuple[type[Exception], ...] = (
    AMQPConnectionError,
    ChannelInvalidStateError,
    ConnectionError,
)
#: The same, and the translated kind, for the paths that only log.
SETTLE_ERRORS: tuple[type[Exception], ...] = (*BROKER_ERRORS, Unavailable)
#: A broker that is unreachable, lost or silent past a timeout: what the circuit breaker counts.
_OUTAGES: tuple[type[Exception], ...] = (*CONNECTION_LOST, OSError, asyncio.TimeoutError)


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` (a driver error, or the `Unavailable` it was translated into) says the broker
    is unreachable or does not answer, rather than refusing what it was asked."""
    cause = exc.__cause__ if isinstance(exc, Unavailable) else exc
    return isinstance(cause, _OUTAGES)


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Raise `Unavailable` for any broker error inside the block, naming what was being done."""
    try:
        yield
    except BROKER_ERRORS as exc:
        raise Unavailable(f"RabbitMQ failed while {action}: {exc!r}") from exc


def redacted(url: str) -> str:
    """`url` without its password, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
