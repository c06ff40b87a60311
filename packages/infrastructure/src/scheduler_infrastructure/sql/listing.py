"""One query builder for the filtered, cursor-paginated listings of every SQL backend.

The seed's `TaskQueryBuilder`, for tasks, runs and audit entries alike: a `Select` gathers
conditions and named parameters; `task_listing`, `run_listing` and `audit_listing` say once which
filter of a domain query becomes which condition. A `Dialect` supplies what differs between
SQLite and PostgreSQL: the placeholder style, how a datetime is bound, and the two conditions
that need a backend's own functions (a tag in a JSON list, a substring of the folded name).

Conditions are written with `{name}` where a parameter goes; values are always bound, never
formatted into the SQL. Every listing asks for `limit + 1` rows: `page_of` uses the extra row
only to know that there is a next page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from scheduler_domain import AuditQuery, Page, RunQuery, TaskQuery


@dataclass(frozen=True, kw_only=True)
class Dialect:
    """What the listings need to know about one SQL backend."""

    #: The placeholder of the named parameter `name`: `:name` (sqlite3), `%(name)s` (psycopg).
    placeholder: Callable[[str], str]
    #: How a datetime is bound (SQLite stores microseconds, PostgreSQL a TIMESTAMPTZ).
    moment: Callable[[datetime], Any]
    #: A condition true when the task's `tags` hold the parameter `{tag}`.
    has_tag: str
    #: A condition true when the task's lower-cased name contains the parameter `{name}`.
    name_contains: str


class Select:
    """`SELECT * FROM <table> WHERE <conditions> ORDER BY <order> LIMIT <n>`, parameters bound."""

    def __init__(self, table: str, *, dialect: Dialect) -> None:
        self._table = table
        self._dialect = dialect
        self._conditions: list[str] = []
        self._params: dict[str, Any] = {}

    def where(self, condition: str, **params: Any) -> Select:
        """AND `condition`, in which `{name}` stands for the parameter `name` of `params`."""
        placeholders = {name: self._dialect.placeholder(name) for name in params}
        self._conditions.append(condition.format(**placeholders))
        self._params.update(params)
        return self

    def build(self, *, order_by: str, limit: int) -> tuple[str, dict[str, Any]]:
        """The statement and its named parameters."""
        where = " AND ".join(self._conditions) or "TRUE"
        limit_placeholder = self._dialect.placeholder("limit")
        sql = f"SELECT * FROM {self._table} WHERE {where} ORDER BY {order_by} LIMIT {limit_placeholder}"  # noqa: S608 - fixed clauses, bound values
        return sql, {**self._params, "limit": limit}


def task_listing(query: TaskQuery, dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """Tasks matching `query`, by id ascending, one row more than a page."""
    select = Select("tasks", dialect=dialect)
    if query.status is not None:
        select.where("status = {status}", status=query.status.value)
    if query.task_type is not None:
        select.where("task_type = {task_type}", task_type=query.task_type.value)
    if query.tag is not None:
        select.where(dialect.has_tag, tag=query.tag)
    if query.name is not None:
        select.where(dialect.name_contains, name=query.name.lower())
    if query.after_id is not None:
        select.where("id > {after_id}", after_id=query.after_id)
    return select.build(order_by="id", limit=query.limit + 1)


def run_listing(query: RunQuery, dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """Runs matching `query`, newest (highest id) first, one row more than a page."""
    select = Select("task_runs", dialect=dialect)
    if query.task_id is not None:
        select.where("task_id = {task_id}", task_id=query.task_id)
    if query.status is not None:
        select.where("status = {status}", status=query.status.value)
    if query.worker_id is not None:
        select.where("worker_id = {worker_id}", worker_id=query.worker_id)
    if query.since is not None:
        select.where("created_at >= {since}", since=dialect.moment(query.since))
    if query.before_id is not None:
        select.where("id < {before_id}", before_id=query.before_id)
    return select.build(order_by="id DESC", limit=query.limit + 1)


def audit_listing(query: AuditQuery, dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """Audit entries matching `query`, newest (highest id) first, one row more than a page."""
    select = Select("audit_log", dialect=dialect)
    if query.actor is not None:
        select.where("actor = {actor}", actor=query.actor)
    if query.resource is not None:
        select.where("resource = {resource}", resource=query.resource)
    if query.before_id is not None:
        select.where("id < {before_id}", before_id=query.before_id)
    return select.build(order_by="id DESC", limit=query.limit + 1)


class _Identified(Protocol):
    @property
    def id(self) -> int: ...


T = TypeVar("T", bound=_Identified)


def page_of(items: Sequence[T], limit: int) -> Page[T]:
    """The page of a listing fetched with `limit + 1` rows; the cursor continues after its last item."""
    last_id = items[limit - 1].id if len(items) > limit else None
    return Page.of(items, limit=limit, last_id=last_id)
