"""The statement that stores a manual run in one round trip, and its audit entry with it."""

from __future__ import annotations

from typing import Any

from scheduler_domain import AuditEntry, Priority
from scheduler_infrastructure.postgres import audit_rows
from scheduler_infrastructure.postgres.run_rows import COLUMNS

#: The run fields copied from its task when it is made (see `TaskRun`), read from the task's row.
_FROM_TASK = {
    "task_type": "task.task_type",
    "priority": "task.priority",
    "priority_rank": "CASE task.priority "
    + " ".join(f"WHEN '{level.value}' THEN {level.rank}" for level in Priority)
    + " END",
    "timeout_seconds": "task.timeout_seconds",
}
# The task's row read and the run inserted from it, only while the task accepts runs
# (`Task.accepts_runs`: not archived). No row back: no such task, an archived one, or a run holding
# the idempotency key already.
_INSERT_RUN = f"""
INSERT INTO task_runs ({", ".join(COLUMNS)})
SELECT {", ".join(_FROM_TASK.get(column, f"%({column})s") for column in COLUMNS)}
FROM tasks AS task WHERE task.id = %(task_id)s AND task.status <> 'archived'
ON CONFLICT DO NOTHING RETURNING *
"""  # noqa: S608 - fixed column names, bound values
_ENTRY_VALUES = {"detail": "%(audit_detail)s || jsonb_build_object('run_id', run.id)"}
# The same, and the audit entry of the request inserted from the run's row, in the same statement:
# a run stored has its entry, a run not stored has none. Its parameters are prefixed `audit_`.
_ADD_FROM_TASK_AUDITED = f"""
WITH run AS ({_INSERT_RUN}), entry AS (
    INSERT INTO audit_log ({", ".join(audit_rows.COLUMNS)})
    SELECT {", ".join(_ENTRY_VALUES.get(column, f"%(audit_{column})s") for column in audit_rows.COLUMNS)}
    FROM run
)
SELECT * FROM run
"""  # noqa: S608 - fixed column names, bound values


def manual_run_insert(run: dict[str, Any], audit: AuditEntry | None) -> tuple[str, dict[str, Any]]:
    """The statement and parameters storing the run of parameters `run`, with `audit` if given."""
    if audit is None:
        return _INSERT_RUN, run
    entry = {f"audit_{column}": value for column, value in audit_rows.params_of(audit).items()}
    return _ADD_FROM_TASK_AUDITED, {**run, **entry}
