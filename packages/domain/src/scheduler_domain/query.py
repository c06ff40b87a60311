"""Filters, cursors and pages for the list operations of the repositories."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Generic, TypeVar

from msgspec import Struct

from scheduler_domain.values import RunStatus, TaskStatus, TaskType
from scheduler_errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

T = TypeVar("T")


def encode_cursor(last_id: int) -> str:
    """An opaque cursor that continues a listing after the item with `last_id`."""
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a cursor continues after; `InvalidInput` for one this API did not hand out."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, raw = text.partition(":")
        if prefix != "id":
            raise ValueError(text)
        return int(raw)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise InvalidInput.for_field("cursor", "not a cursor returned by this API") from exc


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
    def of(cls, rows: Sequence[T], *, limit: int, last_id: int | None) -> Page[T]:
        """A page from up to `limit + 1` rows: the extra row only proves there is a next page."""
        if len(rows) > limit and last_id is not None:
            return cls(items=list(rows[:limit]), next_cursor=encode_cursor(last_id))
        return cls(items=list(rows[:limit]), next_cursor=None)
