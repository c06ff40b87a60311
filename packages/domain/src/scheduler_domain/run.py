"""The run: one attempt at executing a task, and the state machine it moves through."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
from msgspec import Struct

from scheduler_domain.retry import RetryPolicy
from scheduler_domain.text import check_storable
from scheduler_domain.values import Priority, RunStatus, TaskType, Trigger
from scheduler_errors import Conflict, InvalidInput

#: Every move a run may make. Anything else is rejected, so a late or duplicated status report
#: can never move a run backwards. `queued -> succeeded|failed|...` exists because a worker may
#: report the end of a short run before its start report was applied.
TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PENDING: frozenset({RunStatus.QUEUED, RunStatus.CANCELLED, RunStatus.SKIPPED}),
    RunStatus.QUEUED: frozenset(
        {
            RunStatus.PENDING,
            RunStatus.RUNNING,
            RunStatus.SUCCEEDED,
            RunStatus.FAILED,
            RunStatus.TIMED_OUT,
            RunStatus.CANCELLED,
        }
    ),
    RunStatus.RUNNING: frozenset(
        {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.CANCELLED}
    ),
}

#: Outcomes a worker may report for a run it executed.
OUTCOME_STATUSES = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.CANCELLED}
)

WORKER_LOST = "worker_lost"

#: The longest idempotency key, in characters: short enough for every store to index it.
MAX_IDEMPOTENCY_KEY_LENGTH = 255


def check_idempotency_key(key: str | None) -> None:
    """`InvalidInput` for a key a client cannot mean: empty, or longer than the stores index."""
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidInput.for_field(
            "idempotency_key", f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters (or absent)"
        )
    check_storable("idempotency_key", key)


#: The ends after which the retry policy applies.
RETRYABLE_ENDS = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT})


def can_move(current: RunStatus, target: RunStatus) -> bool:
    """True when the state machine allows `current -> target`."""
    return target in TRANSITIONS.get(current, frozenset())


class RunOutcome(Struct, frozen=True, kw_only=True):
    """How an execution ended, as an executor reports it."""

    status: RunStatus
    exit_code: int | None = None
    result: dict[str, Any] | None = None
    error_message: str | None = None
    retryable: bool = True

    def __post_init__(self) -> None:
        if self.status not in OUTCOME_STATUSES:
            raise ValueError(f"{self.status} is not an outcome")

    @property
    def may_retry(self) -> bool:
        """True when the retry policy applies (failures and timeouts, not cancels)."""
        return self.retryable and self.status in (RunStatus.FAILED, RunStatus.TIMED_OUT)


class TaskRun(Struct, frozen=True, kw_only=True):
    """One attempt at a task. `id` is 0 until a repository stores it.

    `task_type`, `priority` and `timeout_seconds` are copied from the task when the run is made,
    so that dispatch order and timeouts do not depend on later edits of the task.

    `wave_id` is the id of the root run of the dependency wave this run belongs to (see
    `scheduler_domain.waves`), None on a root run itself; `wave` gives it either way. A `waiting`
    run is pending but held until every upstream of its task in the wave has succeeded.
    """

    task_id: int
    id: int = 0
    attempt: int = 1
    status: RunStatus = RunStatus.PENDING
    trigger: Trigger = Trigger.MANUAL
    task_type: TaskType = TaskType.SHELL
    priority: Priority = Priority.NORMAL
    timeout_seconds: int = 3600
    arguments: dict[str, Any] | None = None
    idempotency_key: str | None = None
    worker_id: str | None = None
    scheduled_for: datetime | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    result: dict[str, Any] | None = None
    error_message: str | None = None
    exit_code: int | None = None
    retry_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    wave_id: int | None = None
    waiting: bool = False
    #: The W3C `traceparent` of the span that created the run (an API request), continued by the
    #: dispatcher and the worker; None when no trace was active.
    traceparent: str | None = None

    def __post_init__(self) -> None:
        if self.waiting and self.status is not RunStatus.PENDING:
            raise ValueError(f"a {self.status} run cannot be waiting; only a pending one can")

    @property
    def wave(self) -> int:
        """The dependency wave this run belongs to: the id of the wave's root run."""
        return self.id if self.wave_id is None else self.wave_id

    def _moved(self, target: RunStatus, now: datetime, **changes: Any) -> TaskRun:
        if not can_move(self.status, target):
            raise Conflict(f"run {self.id} is {self.status}; it cannot become {target}")
        # Every move ends the wait: a waiting run can only be released, skipped or cancelled.
        return msgspec.structs.replace(self, status=target, updated_at=now, waiting=False, **changes)

    def queued(self, now: datetime) -> TaskRun:
        """Published to the queue."""
        if self.waiting:
            raise Conflict(f"run {self.id} waits for its upstream tasks; it cannot be queued")
        return self._moved(RunStatus.QUEUED, now, queued_at=now)

    def released(self, now: datetime) -> TaskRun:
        """No longer waiting: every upstream succeeded, so it may be dispatched from `now`."""
        if not self.waiting:
            raise Conflict(f"run {self.id} is not waiting; it cannot be released")
        return msgspec.structs.replace(self, waiting=False, scheduled_for=now, updated_at=now)

    def requeued(self, now: datetime) -> TaskRun:
        """Back to pending (its message was lost or refused) to be dispatched again."""
        return self._moved(RunStatus.PENDING, now, queued_at=None)

    def started(self, worker_id: str, now: datetime) -> TaskRun:
        """Taken by `worker_id`, which is executing it."""
        return self._moved(RunStatus.RUNNING, now, worker_id=worker_id, started_at=now)

    def finished(self, outcome: RunOutcome, now: datetime, *, worker_id: str | None = None) -> TaskRun:
        """Ended as the worker reported."""
        return self._moved(
            outcome.status,
            now,
            completed_at=now,
            started_at=self.started_at or now,
            worker_id=worker_id or self.worker_id,
            exit_code=outcome.exit_code,
            result=outcome.result,
            error_message=outcome.error_message,
        )

    def cancelled(self, now: datetime, reason: str = "cancelled by request") -> TaskRun:
        """Ended before or instead of finishing."""
        return self._moved(RunStatus.CANCELLED, now, completed_at=now, error_message=reason)

    def skipped(self, now: datetime, reason: str) -> TaskRun:
        """Never executed (an upstream dependency failed for good)."""
        return self._moved(RunStatus.SKIPPED, now, completed_at=now, error_message=reason)

    def cancel_requested(self, now: datetime) -> TaskRun:
        """A running run asked to stop; the worker ends it as `cancelled`."""
        if self.status is not RunStatus.RUNNING:
            raise Conflict(f"run {self.id} is {self.status}; only a running run can be asked to stop")
        return msgspec.structs.replace(self, cancel_requested_at=now, updated_at=now)

    def may_start(self, attempt: int) -> bool:
        """True when a worker may begin executing `attempt` of this run now (it is queued)."""
        return self.attempt == attempt and self.status is RunStatus.QUEUED

    def accepts_outcome(self, attempt: int, worker_id: str) -> bool:
        """True when `worker_id`'s report of how `attempt` ended applies: it is neither stale nor
        a repeat, and no other worker runs the run."""
        if self.attempt != attempt or self.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
            return False
        return self.status is not RunStatus.RUNNING or self.worker_id in (None, worker_id)

    def taken_by(self, attempt: int, worker_id: str) -> bool:
        """True when `attempt` of this run is running or ran on `worker_id`, so a start report
        from it is a repeat (or came after its end) rather than a run that must be stopped."""
        started = self.status not in (RunStatus.PENDING, RunStatus.QUEUED)
        return started and self.attempt == attempt and self.worker_id == worker_id

    def deadline(self, grace: timedelta) -> datetime | None:
        """When a running run is overdue: its timeout plus `grace` after it started."""
        if self.status is not RunStatus.RUNNING or self.started_at is None:
            return None
        return self.started_at + timedelta(seconds=self.timeout_seconds) + grace

    def next_attempt(self, policy: RetryPolicy, now: datetime, delay_seconds: float) -> TaskRun | None:
        """The retry that follows this failed or timed-out run, or None when none may follow.

        It keeps the run's wave and `traceparent`, so the retry continues the same trace.
        """
        if self.status not in RETRYABLE_ENDS or not policy.allows_another(self.attempt):
            return None
        return TaskRun(
            task_id=self.task_id,
            attempt=self.attempt + 1,
            trigger=Trigger.RETRY,
            task_type=self.task_type,
            priority=self.priority,
            timeout_seconds=self.timeout_seconds,
            arguments=self.arguments,
            scheduled_for=now + timedelta(seconds=delay_seconds),
            retry_count=self.attempt,
            created_at=now,
            updated_at=now,
            wave_id=self.wave,
            traceparent=self.traceparent,
        )
