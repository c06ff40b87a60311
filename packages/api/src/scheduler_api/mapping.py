"""Translation between the API schemas and the domain: the only place that knows both shapes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from scheduler_api.schemas import (
    ApiKeyCreated,
    ApiKeyOut,
    AuditEntryOut,
    PageOut,
    RunOut,
    TaskCreate,
    TaskOut,
    TaskPatch,
    WorkerOut,
    WorkerRegisterIn,
)
from scheduler_application import IssuedKey
from scheduler_domain import (
    ApiKey,
    AuditEntry,
    AuditQuery,
    Page,
    RunQuery,
    RunStatus,
    Task,
    TaskQuery,
    TaskRun,
    TaskStatus,
    TaskType,
    WorkerInfo,
    check_limit,
    decode_cursor,
    masked_arguments,
    masked_url,
)
from scheduler_errors import InvalidInput


def as_utc(moment: datetime | None, *, field: str) -> datetime | None:
    """`moment` in UTC; a datetime without an offset is taken to be UTC already.

    `InvalidInput` naming `field` when the moment has no UTC equivalent (9999-12-31T23:59-01:00
    is in the year 10000 in UTC, past what a datetime holds).
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput.for_field(
            field, f"{moment.isoformat()} is outside years 1 to 9999 once converted to UTC"
        ) from None


def task_draft(body: TaskCreate) -> Task:
    """The domain task a create request describes (validated by the domain on construction)."""
    return Task(
        name=body.name,
        command=body.command,
        description=body.description,
        task_type=body.task_type,
        executor=body.executor,
        arguments=body.arguments,
        schedule=body.schedule,
        timezone=body.timezone,
        misfire_policy=body.misfire_policy,
        priority=body.priority,
        max_retries=body.max_retries,
        retry_backoff_seconds=body.retry_backoff_seconds,
        timeout_seconds=body.timeout_seconds,
        dependencies=tuple(body.dependencies),
        tags=tuple(body.tags),
        metadata=body.metadata,
    )


def task_changes(body: TaskPatch) -> dict[str, Any]:
    """The fields a partial update sets, in domain types; absent fields are left out."""
    changes = {
        name: value for name, value in msgspec.structs.asdict(body).items() if value is not msgspec.UNSET
    }
    for name in ("dependencies", "tags"):
        if name in changes:
            changes[name] = tuple(changes[name])
    return changes


def task_query(
    *,
    status: TaskStatus | None,
    task_type: TaskType | None,
    tag: str | None,
    name: str | None,
    limit: int,
    cursor: str | None,
) -> TaskQuery:
    """The domain query of a task listing; `InvalidInput` for a bad limit or cursor."""
    return TaskQuery(
        status=status,
        task_type=task_type,
        tag=tag,
        name=name,
        limit=check_limit(limit),
        after_id=decode_cursor(cursor),
    )


def run_query(
    *,
    task_id: int | None,
    status: RunStatus | None,
    worker_id: str | None,
    since: datetime | None,
    limit: int,
    cursor: str | None,
) -> RunQuery:
    """The domain query of a run listing; `InvalidInput` for a bad limit or cursor."""
    return RunQuery(
        task_id=task_id,
        status=status,
        worker_id=worker_id,
        since=as_utc(since, field="since"),
        limit=check_limit(limit),
        before_id=decode_cursor(cursor),
    )


def task_out(task: Task, *, masked: bool = False) -> TaskOut:
    """A task as the API shows it; `masked`, its secrets hidden (see `scheduler_domain.masking`)."""
    return TaskOut(
        id=task.id,
        name=task.name,
        description=task.description,
        task_type=task.task_type,
        executor=task.executor_name,
        command=masked_url(task.command) if masked else task.command,
        arguments=masked_arguments(task.arguments) if masked else task.arguments,
        schedule=task.schedule,
        timezone=task.timezone,
        misfire_policy=task.misfire_policy,
        priority=task.priority,
        status=task.status,
        max_retries=task.max_retries,
        retry_backoff_seconds=task.retry_backoff_seconds,
        timeout_seconds=task.timeout_seconds,
        dependencies=list(task.dependencies),
        tags=list(task.tags),
        metadata=task.metadata,
        created_at=task.created_at,
        updated_at=task.updated_at,
        last_run_at=task.last_run_at,
        next_run_at=task.next_run_at,
    )


def run_out(run: TaskRun, *, masked: bool = False) -> RunOut:
    """A run as the API shows it; `masked`, the secrets of its arguments hidden."""
    return RunOut(
        id=run.id,
        task_id=run.task_id,
        attempt=run.attempt,
        status=run.status,
        trigger=run.trigger,
        wave_id=run.wave,
        waiting=run.waiting,
        task_type=run.task_type,
        priority=run.priority,
        timeout_seconds=run.timeout_seconds,
        arguments=masked_arguments(run.arguments) if masked and run.arguments else run.arguments,
        idempotency_key=run.idempotency_key,
        worker_id=run.worker_id,
        scheduled_for=run.scheduled_for,
        queued_at=run.queued_at,
        started_at=run.started_at,
        completed_at=run.completed_at,
        cancel_requested_at=run.cancel_requested_at,
        result=run.result,
        error_message=run.error_message,
        exit_code=run.exit_code,
        retry_count=run.retry_count,
        created_at=run.created_at,
        updated_at=run.updated_at,
    )


def task_page(page: Page[Task], *, masked: bool = False) -> PageOut[TaskOut]:
    """A page of tasks as the API shows it (`masked`: see `task_out`)."""
    return PageOut(items=[task_out(task, masked=masked) for task in page.items], next_cursor=page.next_cursor)


def run_page(page: Page[TaskRun], *, masked: bool = False) -> PageOut[RunOut]:
    """A page of runs as the API shows it (`masked`: see `run_out`)."""
    return PageOut(items=[run_out(run, masked=masked) for run in page.items], next_cursor=page.next_cursor)


def worker_info(body: WorkerRegisterIn) -> WorkerInfo:
    """The worker a registration describes; without an id, one is made from the hostname."""
    return WorkerInfo(
        id=body.id or f"{body.hostname}-{uuid.uuid4().hex[:8]}",
        hostname=body.hostname,
        ip_address=body.ip_address,
        port=body.port,
        task_types=tuple(body.task_types),
        max_concurrent_tasks=body.max_concurrent_tasks,
        metadata=body.metadata,
    )


def worker_out(worker: WorkerInfo) -> WorkerOut:
    """A worker as the API shows it."""
    return WorkerOut(
        id=worker.id,
        hostname=worker.hostname,
        ip_address=worker.ip_address,
        port=worker.port,
        task_types=list(worker.task_types),
        max_concurrent_tasks=worker.max_concurrent_tasks,
        current_task_count=worker.current_task_count,
        status=worker.status,
        last_heartbeat=worker.last_heartbeat,
        registered_at=worker.registered_at,
        metadata=worker.metadata,
        registered_by=worker.registered_by,
    )


def worker_page(page: Page[WorkerInfo]) -> PageOut[WorkerOut]:
    """A page of workers as the API shows them."""
    return PageOut(items=[worker_out(worker) for worker in page.items], next_cursor=page.next_cursor)


def key_created(issued: IssuedKey) -> ApiKeyCreated:
    """A new key with its secret, shown this once."""
    return ApiKeyCreated(
        id=issued.key.id,
        name=issued.key.name,
        role=issued.key.role,
        key=issued.secret,
        expires_at=issued.key.expires_at,
    )


def key_out(key: ApiKey) -> ApiKeyOut:
    """A stored key without its secret or hash."""
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        role=key.role,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
    )


def key_page(page: Page[ApiKey]) -> PageOut[ApiKeyOut]:
    """A page of keys as the API shows them."""
    return PageOut(items=[key_out(key) for key in page.items], next_cursor=page.next_cursor)


def audit_query(*, actor: str | None, resource: str | None, limit: int, cursor: str | None) -> AuditQuery:
    """The domain query of an audit-log listing; `InvalidInput` for a bad limit or cursor."""
    return AuditQuery(
        actor=actor, resource=resource, limit=check_limit(limit), before_id=decode_cursor(cursor)
    )


def audit_entry_out(entry: AuditEntry) -> AuditEntryOut:
    """An audit entry as the API shows it."""
    return AuditEntryOut(
        id=entry.id,
        actor=entry.actor,
        action=entry.action,
        resource=entry.resource,
        at=entry.at,
        source_ip=entry.source_ip,
        outcome=entry.outcome,
        detail=entry.detail,
    )


def audit_page(page: Page[AuditEntry]) -> PageOut[AuditEntryOut]:
    """A page of audit entries as the API shows it."""
    return PageOut(items=[audit_entry_out(entry) for entry in page.items], next_cursor=page.next_cursor)
