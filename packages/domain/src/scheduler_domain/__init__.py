"""Entities, value objects, state machines, cron and DAG rules, repository ports.

Pure Python: no framework, no driver, no I/O.
"""

from scheduler_domain.audit import AuditEntry, AuditQuery
from scheduler_domain.dag import check_dependencies
from scheduler_domain.message import (
    STATUS_RUNS,
    CancelRun,
    Message,
    RunDispatch,
    RunFinished,
    RunReports,
    RunStarted,
    StatusReport,
    decode_message,
    encode_message,
    worker_command_key,
)
from scheduler_domain.ports import (
    ApiKeyRepository,
    AuditLogRepository,
    FireRecord,
    LeaseRepository,
    RunTransition,
    TaskRepository,
    TaskRunRepository,
    WorkerRepository,
)
from scheduler_domain.query import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Page,
    RunQuery,
    TaskQuery,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from scheduler_domain.retry import RetryPolicy
from scheduler_domain.run import (
    MAX_IDEMPOTENCY_KEY_LENGTH,
    TRANSITIONS,
    WORKER_LOST,
    RunOutcome,
    TaskRun,
    can_move,
    check_idempotency_key,
)
from scheduler_domain.schedule import has_seconds, next_fire_after, normalize_cron, parse_timezone
from scheduler_domain.security import ApiKey, Permission, Principal, Role, generate_key, hash_key
from scheduler_domain.task import FirePlan, Task
from scheduler_domain.text import check_storable
from scheduler_domain.values import (
    MisfirePolicy,
    Priority,
    RunStatus,
    TaskStatus,
    TaskType,
    Trigger,
    WorkerStatus,
    utc_now,
)
from scheduler_domain.waves import Verdict, Wave, WaveStep
from scheduler_domain.worker import (
    MAX_CONCURRENT_TASKS,
    WorkerInfo,
    check_heartbeat_status,
    check_registration,
    check_task_count,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_CONCURRENT_TASKS",
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "MAX_LIMIT",
    "STATUS_RUNS",
    "TRANSITIONS",
    "WORKER_LOST",
    "ApiKey",
    "ApiKeyRepository",
    "AuditEntry",
    "AuditLogRepository",
    "AuditQuery",
    "CancelRun",
    "FirePlan",
    "FireRecord",
    "LeaseRepository",
    "Message",
    "MisfirePolicy",
    "Page",
    "Permission",
    "Principal",
    "Priority",
    "RetryPolicy",
    "Role",
    "RunDispatch",
    "RunFinished",
    "RunOutcome",
    "RunQuery",
    "RunReports",
    "RunStarted",
    "RunStatus",
    "RunTransition",
    "StatusReport",
    "Task",
    "TaskQuery",
    "TaskRepository",
    "TaskRun",
    "TaskRunRepository",
    "TaskStatus",
    "TaskType",
    "Trigger",
    "Verdict",
    "Wave",
    "WaveStep",
    "WorkerInfo",
    "WorkerRepository",
    "WorkerStatus",
    "can_move",
    "check_dependencies",
    "check_heartbeat_status",
    "check_idempotency_key",
    "check_limit",
    "check_registration",
    "check_storable",
    "check_task_count",
    "decode_cursor",
    "decode_message",
    "encode_cursor",
    "encode_message",
    "generate_key",
    "has_seconds",
    "hash_key",
    "next_fire_after",
    "normalize_cron",
    "parse_timezone",
    "utc_now",
    "worker_command_key",
]
