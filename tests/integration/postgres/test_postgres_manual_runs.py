"""A manual run stored with what it copies from its task, read in the same statement."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from scheduler_application import AuditTrail, PendingAudit, TaskControl
from scheduler_domain import (
    AuditEntry,
    AuditQuery,
    Priority,
    RunStatus,
    TaskRun,
    TaskStatus,
    TaskType,
    Trigger,
)
from scheduler_errors import Conflict, InvalidInput, NotFound
from scheduler_infrastructure import (
    PostgresAuditLogRepository,
    PostgresDatabase,
    PostgresTaskRepository,
    PostgresTaskRunRepository,
)
from scheduler_testing import FakeClock, FakeWakeup, a_task

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def manual(task_id: int, **fields: object) -> TaskRun:
    """A manual run as `TaskControl.trigger` makes it, before its task's fields are known."""
    return TaskRun(task_id=task_id, scheduled_for=T0, created_at=T0, updated_at=T0, **fields)  # type: ignore[arg-type]


async def test_the_run_takes_the_tasks_type_priority_and_timeout_as_stored_now(db: PostgresDatabase) -> None:
    tasks, runs = PostgresTaskRepository(db=db), PostgresTaskRunRepository(db=db)
    task = await tasks.add(a_task(task_type=TaskType.PYTHON, command="m:f", priority=Priority.HIGH))
    task = await tasks.update(msgspec.structs.replace(task, priority=Priority.CRITICAL, timeout_seconds=42))

    stored = await runs.add_from_task(
        manual(task.id, arguments={"x": 1}, traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    )

    assert stored is not None
    assert (stored.task_type, stored.priority, stored.timeout_seconds) == (
        TaskType.PYTHON,
        Priority.CRITICAL,
        42,
    )
    assert (stored.status, stored.arguments, stored.scheduled_for) == (RunStatus.PENDING, {"x": 1}, T0)
    assert stored == await runs.get(stored.id)
    claimed = await runs.claim_pending(T0, 10)
    assert [run.id for run in claimed] == [stored.id]  # its priority rank was stored with it


async def test_no_run_for_a_missing_or_archived_task(db: PostgresDatabase) -> None:
    tasks, runs = PostgresTaskRepository(db=db), PostgresTaskRunRepository(db=db)
    task = await tasks.add(a_task())
    await tasks.update(msgspec.structs.replace(task, status=TaskStatus.ARCHIVED))

    assert await runs.add_from_task(manual(task.id)) is None
    assert await runs.add_from_task(manual(task.id + 1000)) is None
    assert (await runs.count_by_status([RunStatus.PENDING]))[RunStatus.PENDING] == 0


async def test_a_paused_task_still_takes_manual_runs(db: PostgresDatabase) -> None:
    tasks, runs = PostgresTaskRepository(db=db), PostgresTaskRunRepository(db=db)
    task = await tasks.add(a_task())
    await tasks.update(msgspec.structs.replace(task, status=TaskStatus.PAUSED))

    assert await runs.add_from_task(manual(task.id)) is not None


async def test_a_taken_idempotency_key_stores_nothing_more(db: PostgresDatabase) -> None:
    tasks, runs = PostgresTaskRepository(db=db), PostgresTaskRunRepository(db=db)
    task = await tasks.add(a_task())

    first = await runs.add_from_task(manual(task.id, idempotency_key="k"))
    again = await runs.add_from_task(manual(task.id, idempotency_key="k"))

    assert first is not None
    assert again is None
    assert (await runs.count_by_status([RunStatus.PENDING]))[RunStatus.PENDING] == 1


def an_entry(task_id: int) -> AuditEntry:
    """The audit entry of a trigger, before its run's id is known."""
    return AuditEntry(
        actor="apikey:7",
        action="task.trigger",
        resource=f"task:{task_id}",
        at=T0,
        source_ip="127.0.0.1",
        outcome=202,
        detail={},
    )


async def entries(db: PostgresDatabase) -> list[AuditEntry]:
    """Every stored audit entry, oldest first."""
    return list(reversed((await PostgresAuditLogRepository(db=db).page(AuditQuery(limit=100))).items))


async def test_the_audit_entry_is_stored_with_the_run_and_names_it(db: PostgresDatabase) -> None:
    tasks, runs = PostgresTaskRepository(db=db), PostgresTaskRunRepository(db=db)
    task = await tasks.add(a_task())

    stored = await runs.add_from_task(manual(task.id), an_entry(task.id))

    assert stored is not None
    [entry] = await entries(db)
    assert entry.detail == {"run_id": stored.id}
    assert msgspec.structs.replace(entry, id=0, detail={}) == an_entry(task.id)


async def test_no_run_stored_means_no_audit_entry_stored(db: PostgresDatabase) -> None:
    tasks, runs = PostgresTaskRepository(db=db), PostgresTaskRunRepository(db=db)
    task = await tasks.add(a_task())
    archived = await tasks.add(a_task(name="old"))
    await tasks.update(msgspec.structs.replace(archived, status=TaskStatus.ARCHIVED))
    first = await runs.add_from_task(manual(task.id, idempotency_key="k"), an_entry(task.id))

    assert await runs.add_from_task(manual(task.id, idempotency_key="k"), an_entry(task.id)) is None
    assert await runs.add_from_task(manual(archived.id), an_entry(archived.id)) is None
    assert await runs.add_from_task(manual(task.id + 1000), an_entry(task.id + 1000)) is None

    assert first is not None
    assert [entry.detail for entry in await entries(db)] == [{"run_id": first.id}]


class CountedRuns(PostgresTaskRunRepository):
    """Counts the runs stored the long way (`add`, after reading the task)."""

    added = 0

    async def add(self, run: TaskRun) -> TaskRun:
        self.added += 1
        return await super().add(run)


class TestTriggerInOneStep:
    """`TaskControl.trigger` with the one-step store answers as it does without one."""

    @pytest.fixture
    def runs(self, db: PostgresDatabase) -> CountedRuns:
        return CountedRuns(db=db)

    @pytest.fixture
    def control(self, db: PostgresDatabase, runs: CountedRuns) -> TaskControl:
        def refuse_bad(command: str, arguments: dict[str, object]) -> None:
            if arguments.get("bad"):
                raise InvalidInput.for_field("arguments.bad", "refused by the executor")

        return TaskControl(
            tasks=PostgresTaskRepository(db=db),
            runs=runs,
            clock=FakeClock(T0),
            wakeup=FakeWakeup(),
            executors={"shell": refuse_bad, "python": None},
            manual_runs=runs,
        )

    async def test_a_run_is_made_in_one_step_with_the_tasks_fields(
        self, control: TaskControl, runs: CountedRuns
    ) -> None:
        task = await control.create(a_task(task_type=TaskType.PYTHON, command="m:f", priority=Priority.HIGH))

        run = await control.trigger(task.id)

        assert runs.added == 0  # not the long way
        assert (run.task_type, run.priority, run.trigger, run.status) == (
            TaskType.PYTHON,
            Priority.HIGH,
            Trigger.MANUAL,
            RunStatus.PENDING,
        )

    async def test_unknown_archived_and_repeated_keys_answer_as_without_it(
        self, control: TaskControl
    ) -> None:
        task = await control.create(a_task())
        first = await control.trigger(task.id, idempotency_key="deploy-1")

        again = await control.trigger(task.id, idempotency_key="deploy-1")
        with pytest.raises(NotFound):
            await control.trigger(task.id + 1000)
        await control.archive(task.id)
        with pytest.raises(Conflict, match="archived"):
            await control.trigger(task.id)

        assert again == first

    async def test_arguments_are_still_checked_against_the_command(self, control: TaskControl) -> None:
        task = await control.create(a_task())

        with pytest.raises(InvalidInput):
            await control.trigger(task.id, arguments={"bad": True})
        run = await control.trigger(task.id, arguments={"bad": False})

        assert run.arguments == {"bad": False}

    async def test_the_requests_audit_entry_is_stored_with_the_run(
        self, control: TaskControl, db: PostgresDatabase
    ) -> None:
        task = await control.create(a_task())
        trail = AuditTrail(log=PostgresAuditLogRepository(db=db), clock=FakeClock(T0))
        audit = trail.pending("apikey:7", "task.trigger", f"task:{task.id}", source_ip="::1", outcome=202)

        run = await control.trigger(task.id, audit=audit)

        assert audit.recorded
        assert [(entry.resource, entry.detail) for entry in await entries(db)] == [
            (f"task:{task.id}", {"run_id": run.id})
        ]

    @pytest.mark.parametrize("case", ["arguments", "archived", "unknown"])
    async def test_a_trigger_the_one_step_store_does_not_take_leaves_its_entry_to_the_caller(
        self, control: TaskControl, db: PostgresDatabase, case: str
    ) -> None:
        task = await control.create(a_task())
        if case == "archived":
            await control.archive(task.id)
        task_id = task.id + 1000 if case == "unknown" else task.id
        audit = PendingAudit(an_entry(task_id))

        if case == "arguments":
            await control.trigger(task_id, arguments={"bad": False}, audit=audit)
        else:
            with pytest.raises(Conflict if case == "archived" else NotFound):
                await control.trigger(task_id, audit=audit)

        assert not audit.recorded
        assert await entries(db) == []
