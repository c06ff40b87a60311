"""Filters, cursors and pages for the list operations of the repositories."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

from msgspec import Struct

from scheduler_domain.values import RunStatus, TaskStatus, TaskType
from scheduler_errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

T = TypeVar("T")
K = TypeVar("K", int, str)


def encode_cursor(last: int | str) -> str:
    """An opaque cursor that continues a listing after the item whose id (or text key) is `last`."""
    text = f"id:{last}" if isinstance(last, int) else f"key:{last}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a cursor continues after; `InvalidInput` for one this API did not hand out."""
    raw = _cursor_value(cursor, "id")
    try:
        return None if raw is None else int(raw)
    except ValueError as exc:
        raise InvalidInput.for_field("cursor", "not a cursor returned by this API") from exc


def decode_key_cursor(cursor: str | None) -> str | None:
    """The text key a cursor continues after (a listing ordered by a name, such as workers')."""
    return _cursor_value(cursor, "key")


def _cursor_value(cursor: str | None, kind: str) -> str | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise InvalidInput.for_field("cursor", "not a cursor returned by this API") from exc
    prefix, separator, value = text.partition(":")
    if prefix != kind or not separator:
        raise InvalidInput.for_field("cursor", "not a cursor returned by this API")
    return value


def check_limit(limit: int) -> int:
    """`limit` when it is within 1..MAX_LIMIT, else `InvalidInput`."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput.for_field("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit


class TaskQuery(Struct, frozen=True, kw_only=True):
    """Which tasks to list: filters combine with AND; ordered by id ascending."""

    status: TaskStatus | None = None
    task_type: TaskType | None = None
    tag: str | None = None
    name: str | None = None
    limit: int = DEFAULT_LIMIT
    after_id: int | None = None


class RunQuery(Struct, frozen=True, kw_only=True):
    """Which runs to list: filters combine with AND; newest (highest id) first."""

    task_id: int | None = None
    status: RunStatus | None = None
    worker_id: str | None = None
    since: datetime | None = None
    limit: int = DEFAULT_LIMIT
    before_id: int | None = None


class Page(Struct, Generic[T], frozen=True, kw_only=True):
    """One page of a listing and the cursor of the next, if any."""

    items: Sequence[T]
    next_cursor: str | None = None

    @classmethod
    def of(cls, rows: Sequence[T], *, limit: int, last_id: int | str | None) -> Page[T]:
        """A page from up to `limit + 1` rows: the extra row only proves there is a next page."""
        if len(rows) > limit and last_id is not None:
            return cls(items=list(rows[:limit]), next_cursor=encode_cursor(last_id))
        return cls(items=list(rows[:limit]), next_cursor=None)


def page_in_memory(items: Sequence[T], *, key: Callable[[T], K], after: K | None, limit: int) -> Page[T]:
    """A page of `items`, a set small enough to hold whole (workers, API keys), in the order of
    `key`, continuing after the item whose key is `after`."""
    rest = sorted((item for item in items if after is None or key(item) > after), key=key)
    last = key(rest[limit - 1]) if len(rest) > limit else None
    return Page.of(rest, limit=limit, last_id=last)
