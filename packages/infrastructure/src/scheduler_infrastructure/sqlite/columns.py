"""How domain values are stored in SQLite columns.

Datetimes are whole microseconds since the Unix epoch, in UTC: they sort as numbers, survive a
round trip exactly, and allow the arithmetic `overdue` needs (`started_at + timeout`) in SQL.
Dicts and tuples are JSON text. Statements are built here from the fixed column lists of the
mapping modules; values are always bound as parameters, never formatted in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import msgspec

from scheduler_infrastructure.sql import Dialect

T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECONDS = 1_000_000


#: The values of SQLite's INTEGER (signed 64-bit): the driver refuses to bind any other int,
#: so an id outside it is one no row has.
INTEGER_RANGE = range(-(2**63), 2**63)


def to_micros(moment: datetime | None) -> int | None:
    """A timezone-aware datetime as microseconds since the epoch; naive ones are refused."""
    if moment is None:
        return None
    if moment.utcoffset() is None:
        raise ValueError(f"refusing to store the naive datetime {moment.isoformat()}; the domain is in UTC")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _MICROSECONDS + delta.microseconds


def from_micros(value: int | None) -> datetime | None:
    """The UTC datetime stored as `value`."""
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def seconds_to_micros(seconds: float) -> int:
    """A duration in whole microseconds, rounded as `timedelta` rounds."""
    return round(timedelta(seconds=seconds) / timedelta(microseconds=1))


def to_json(value: Any) -> str:
    """JSON text of a dict, list or tuple."""
    return msgspec.json.encode(value).decode()


def to_json_or_none(value: Any | None) -> str | None:
    """JSON text, keeping None as SQL NULL."""
    return None if value is None else to_json(value)


def from_json(text: str, kind: type[T]) -> T:
    """The value of type `kind` stored as JSON `text`."""
    return msgspec.json.decode(text, type=kind)


def from_json_or_none(text: str | None, kind: type[T]) -> T | None:
    """The value stored as JSON `text`, or None for SQL NULL."""
    return None if text is None else from_json(text, kind)


def insert_statement(table: str, columns: Sequence[str]) -> str:
    """`INSERT INTO table (columns) VALUES (:columns)`."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"  # noqa: S608


def update_statement(table: str, columns: Sequence[str], where: str) -> str:
    """`UPDATE table SET column = :column, ... WHERE where`."""
    return f"UPDATE {table} SET {', '.join(f'{c} = :{c}' for c in columns)} WHERE {where}"  # noqa: S608


def upsert_statement(table: str, columns: Sequence[str], key: str) -> str:
    """An INSERT that replaces every other column of the row with the same `key`."""
    changes = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    return f"{insert_statement(table, columns)} ON CONFLICT ({key}) DO UPDATE SET {changes}"


#: How the shared listing builder speaks to SQLite.
SQLITE = Dialect(
    placeholder=lambda name: f":{name}",
    moment=to_micros,
    has_tag="EXISTS (SELECT 1 FROM json_each(tasks.tags) WHERE json_each.value = {tag})",
    name_contains="instr(name_folded, {name}) > 0",
)
