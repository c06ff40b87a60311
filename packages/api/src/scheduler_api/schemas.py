"""The wire schemas of the REST API, separate from the domain entities.

Input schemas forbid unknown fields: a misspelt field (`schedul`) is a 422 naming it rather than a
silently ignored value. (msgspec's `forbid_unknown_fields` does not show in the OpenAPI schema;
clients see it documented here and in the 422 they get.)

Litestar converts bodies leniently (msgspec `strict=False`): a numeric string such as `"3"` is
accepted for an integer field; anything that cannot be converted is a 422 naming the field.

Datetimes without an offset are read as UTC; every datetime the API returns is UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec
from msgspec import UNSET, Struct, UnsetType

from scheduler_domain import (
    MisfirePolicy,
    Priority,
    Role,
    RunStatus,
    TaskStatus,
    TaskType,
    Trigger,
    WorkerStatus,
)

T = TypeVar("T")


class InputSchema(Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of request bodies: unknown fields are rejected."""


class TaskCreate(InputSchema):
    """A new task; only `name` and `command` are required (defaults are the domain's)."""

    name: str
    command: str
    description: str = ""
    task_type: TaskType = TaskType.SHELL
    executor: str = ""
    arguments: dict[str, Any] = {}
    schedule: str | None = None
    timezone: str = "UTC"
    misfire_policy: MisfirePolicy = MisfirePolicy.RUN_ONCE
    priority: Priority = Priority.NORMAL
    max_retries: int = 0
    retry_backoff_seconds: float = 10.0
    timeout_seconds: int = 3600
    dependencies: list[int] = []
    tags: list[str] = []
    metadata: dict[str, Any] = {}


class TaskPatch(InputSchema):
    """A partial update: absent fields stay as they are; `"schedule": null` clears the schedule."""

    name: str | UnsetType = UNSET
    command: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    task_type: TaskType | UnsetType = UNSET
    executor: str | UnsetType = UNSET
    arguments: dict[str, Any] | UnsetType = UNSET
    schedule: str | UnsetType | None = UNSET
    timezone: str | UnsetType = UNSET
    misfire_policy: MisfirePolicy | UnsetType = UNSET
    priority: Priority | UnsetType = UNSET
    max_retries: int | UnsetType = UNSET
    retry_backoff_seconds: float | UnsetType = UNSET
    timeout_seconds: int | UnsetType = UNSET
    dependencies: list[int] | UnsetType = UNSET
    tags: list[str] | UnsetType = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET


class TaskOut(Struct, kw_only=True):
    """A task as clients see it; `executor` is the effective one (defaulting to `task_type`)."""

    id: int
    name: str
    description: str
    task_type: TaskType
    executor: str
    command: str
    arguments: dict[str, Any]
    schedule: str | None
    timezone: str
    misfire_policy: MisfirePolicy
    priority: Priority
    status: TaskStatus
    max_retries: int
    retry_backoff_seconds: float
    timeout_seconds: int
    dependencies: list[int]
    tags: list[str]
    metadata: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None
    last_run_at: datetime | None
    next_run_at: datetime | None


class TriggerIn(InputSchema):
    """Optional body of a manual trigger; the same `idempotency_key` returns the same run."""

    arguments: dict[str, Any] | None = None
    idempotency_key: str | None = None


class RunOut(Struct, kw_only=True):
    """One attempt at a task.

    `wave_id` is the id of the root run of its dependency wave (its own id for a root run);
    `waiting` is true while a pending run waits for its upstream tasks in the wave to succeed.
    """

    id: int
    task_id: int
    attempt: int
    status: RunStatus
    trigger: Trigger
    wave_id: int
    waiting: bool
    task_type: TaskType
    priority: Priority
    timeout_seconds: int
    arguments: dict[str, Any] | None
    idempotency_key: str | None
    worker_id: str | None
    scheduled_for: datetime | None
    queued_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    cancel_requested_at: datetime | None
    result: dict[str, Any] | None
    error_message: str | None
    exit_code: int | None
    retry_count: int
    created_at: datetime | None
    updated_at: datetime | None


class WorkerRegisterIn(InputSchema):
    """A worker announcing itself; without an `id` the API makes one from the hostname."""

    hostname: str
    ip_address: str
    port: int
    task_types: list[TaskType]
    max_concurrent_tasks: int
    id: str | None = None
    metadata: dict[str, Any] = {}


class HeartbeatIn(InputSchema):
    """A worker's sign of life."""

    current_task_count: int
    status: WorkerStatus | None = None


class WorkerOut(Struct, kw_only=True):
    """A registered worker."""

    id: str
    hostname: str
    ip_address: str
    port: int
    task_types: list[TaskType]
    max_concurrent_tasks: int
    current_task_count: int
    status: WorkerStatus
    last_heartbeat: datetime | None
    registered_at: datetime | None
    metadata: dict[str, Any]
    #: Who registered it: the subject of the API key (`apikey:<id>:<name>`); null for the worker
    #: inside `standalone`.
    registered_by: str | None = None


class ApiKeyCreate(InputSchema):
    """A new API key."""

    name: str
    role: Role
    expires_at: datetime | None = None


class ApiKeyCreated(Struct, kw_only=True):
    """A key just created: `key` is the secret, shown this once and never again."""

    id: int
    name: str
    role: Role
    key: str
    expires_at: datetime | None


class ApiKeyOut(Struct, kw_only=True):
    """A stored key, never its secret nor its hash."""

    id: int
    name: str
    role: Role
    created_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class AuditEntryOut(Struct, kw_only=True):
    """One write through the API: who (`actor`) did what (`action` on `resource`), when (`at`),
    from where (`source_ip`, the client address), and the HTTP status it got (`outcome`).

    `detail` holds a few facts chosen per action (a new task's name, the names of the fields an
    update set), never a secret nor a value from a request body.
    """

    id: int
    actor: str
    action: str
    resource: str
    at: datetime
    source_ip: str | None
    outcome: int
    detail: dict[str, Any]


class PageOut(Struct, Generic[T], kw_only=True):
    """One page of a listing; pass `next_cursor` as `cursor` to get the next (null on the last)."""

    items: list[T]
    next_cursor: str | None = None


class HealthOut(Struct, kw_only=True):
    """Liveness."""

    status: str = "ok"


class ReadinessOut(Struct, kw_only=True):
    """Readiness: `ready` or `not_ready`, and each component's state (`up` or `down`)."""

    status: str
    components: dict[str, str] = msgspec.field(default_factory=dict)


class TokenOut(Struct, kw_only=True):
    """A JWT for `Authorization: Bearer <access_token>`, valid for `expires_in` seconds."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the kind of token (RFC 6750), not a secret
    expires_in: int
