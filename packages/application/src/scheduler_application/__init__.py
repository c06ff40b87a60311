"""Use cases: task control, run lifecycle, scheduling, access control, worker registry, audit trail,
alert evaluation.

They load through repository ports, decide through the domain, store, and publish.
"""

from scheduler_application.access import AccessControl, IssuedKey
from scheduler_application.alert_metrics import AlertMetrics
from scheduler_application.alert_rules import AlertRule, RulePhase, RuleState
from scheduler_application.alerting import AlertEvaluator
from scheduler_application.audit import AuditTrail, PendingAudit
from scheduler_application.dependencies import DependencyRelease
from scheduler_application.leadership import DISPATCHER_LEASE, Leadership
from scheduler_application.overview import UNFINISHED, SystemOverview, SystemState
from scheduler_application.recovery import WaveRecovery, WorkerRecovery
from scheduler_application.reports import ReportResult, StatusReports
from scheduler_application.runs import RunControl, RunLifecycle
from scheduler_application.scheduling import SchedulerService, SchedulingPolicy
from scheduler_application.tasks import EDITABLE_FIELDS, TaskControl
from scheduler_application.workers import LocalWorkerPresence, WorkerRegistry

__all__ = [
    "DISPATCHER_LEASE",
    "EDITABLE_FIELDS",
    "UNFINISHED",
    "AccessControl",
    "AlertEvaluator",
    "AlertMetrics",
    "AlertRule",
    "AuditTrail",
    "DependencyRelease",
    "IssuedKey",
    "Leadership",
    "LocalWorkerPresence",
    "PendingAudit",
    "ReportResult",
    "RulePhase",
    "RuleState",
    "RunControl",
    "RunLifecycle",
    "SchedulerService",
    "SchedulingPolicy",
    "StatusReports",
    "SystemOverview",
    "SystemState",
    "TaskControl",
    "WaveRecovery",
    "WorkerRecovery",
    "WorkerRegistry",
]
