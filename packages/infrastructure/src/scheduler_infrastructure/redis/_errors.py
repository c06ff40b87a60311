"""Redis driver errors, translated at the adapter's edge."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from scheduler_errors import Unavailable

#: Errors after which the same call may succeed once the server is back (restart, failover).
TRANSIENT: tuple[type[BaseException], ...] = (
    RedisConnectionError,  # includes BusyLoadingError: the server is reading its data back
    RedisTimeoutError,
    ReadOnlyError,
    OSError,
)


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says the server is unreachable, lost or not answering in time (the errors the
    circuit breaker counts), rather than refusing a command."""
    return isinstance(exc, TRANSIENT)


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Raise `Unavailable` for any Redis error inside the block, naming what was being done."""
    try:
        yield
    except RedisError as exc:
        raise Unavailable(f"Redis failed while {action}: {exc}") from exc
    except OSError as exc:
        raise Unavailable(f"Redis did not answer while {action}: {exc}") from exc


def redacted(url: str) -> str:
    """`url` without its password, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))
