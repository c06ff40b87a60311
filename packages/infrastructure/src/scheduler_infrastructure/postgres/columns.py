"""How domain values are stored in PostgreSQL columns, and the statements built from column lists.

Datetimes are TIMESTAMPTZ (microsecond precision, so they round-trip exactly); naive ones are
refused, as on SQLite. Dicts and tuples are JSONB, encoded and decoded by msgspec (the database
hands JSONB over as text, see database.py). Statements are built from the fixed column lists of
the row modules; values are always bound as parameters, never formatted in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import msgspec
from psycopg.types.json import Jsonb

from scheduler_infrastructure.sql import Dialect

T = TypeVar("T")


def aware(moment: datetime | None) -> datetime | None:
    """`moment`, refused when naive: the domain is in UTC and a naive time has no instant."""
    if moment is not None and moment.utcoffset() is None:
        raise ValueError(f"refusing to store the naive datetime {moment.isoformat()}; the domain is in UTC")
    return moment


def jsonb(value: Any) -> Jsonb:
    """A dict, list or tuple bound as JSONB."""
    return Jsonb(value, dumps=msgspec.json.encode)


def jsonb_or_none(value: Any | None) -> Jsonb | None:
    """JSONB, keeping None as SQL NULL."""
    return None if value is None else jsonb(value)


def from_json(text: str | bytes, kind: type[T]) -> T:
    """The value of type `kind` stored as JSONB `text`."""
    return msgspec.json.decode(text, type=kind)


def from_json_or_none(text: str | bytes | None, kind: type[T]) -> T | None:
    """The value stored as JSONB `text`, or None for SQL NULL."""
    return None if text is None else from_json(text, kind)


def _placeholder(name: str) -> str:
    return f"%({name})s"


#: How the shared listing builder speaks to PostgreSQL (`?`: does the JSONB array hold the string).
POSTGRES = Dialect(
    placeholder=_placeholder,
    moment=aware,
    has_tag="tags ? {tag}",
    name_contains="strpos(name_folded, {name}) > 0",
)


def insert_statement(table: str, columns: Sequence[str]) -> str:
    """`INSERT INTO table (columns) VALUES (%(column)s, ...)`."""
    values = ", ".join(_placeholder(c) for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"  # noqa: S608


def insert_rows_statement(table: str, columns: Sequence[str], count: int) -> str:
    """One INSERT of `count` rows, with positional parameters (see `row_values`)."""
    row = f"({', '.join(['%s'] * len(columns))})"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row] * count)}"  # noqa: S608


def row_values(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[Any]:
    """The positional parameters of `insert_rows_statement` for `rows` of named values."""
    return [row[column] for row in rows for column in columns]


def update_statement(table: str, columns: Sequence[str], where: str) -> str:
    """`UPDATE table SET column = %(column)s, ... WHERE where`."""
    changes = ", ".join(f"{c} = {_placeholder(c)}" for c in columns)
    return f"UPDATE {table} SET {changes} WHERE {where}"  # noqa: S608


def upsert_statement(table: str, columns: Sequence[str], key: str) -> str:
    """An INSERT that replaces every other column of the row with the same `key`."""
    changes = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    return f"{insert_statement(table, columns)} ON CONFLICT ({key}) DO UPDATE SET {changes}"
