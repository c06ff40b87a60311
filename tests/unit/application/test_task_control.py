"""TaskControl against the fakes: what ends up stored, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler_application import TaskControl
from scheduler_domain import Priority, RunStatus, TaskStatus, TaskType, Trigger
from scheduler_errors import Conflict, InvalidInput, NotFound
from scheduler_testing import FakeClock, FakeTaskRepository, FakeTaskRunRepository, FakeWakeup, a_task

from .conftest import START


def field_of(error: InvalidInput) -> str:
    return error.errors[0].field


class TestCreate:
    async def test_a_scheduled_task_gets_its_first_fire_in_its_zone(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        created = await task_control.create(a_task(schedule="0 9 * * *", timezone="America/New_York"))

        stored = tasks.rows[created.id]
        assert stored.next_run_at == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
        assert (stored.status, stored.created_at, stored.updated_at) == (TaskStatus.ACTIVE, START, START)
        assert stored == created

    async def test_the_schedule_is_stored_normalised(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        created = await task_control.create(a_task(schedule="@hourly"))

        assert tasks.rows[created.id].schedule == "0 * * * *"
        assert tasks.rows[created.id].next_run_at == START + timedelta(hours=1)

    async def test_a_new_task_is_active_whatever_the_draft_says(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        created = await task_control.create(
            a_task(id=77, status=TaskStatus.PAUSED, schedule="* * * * *", last_run_at=START)
        )

        stored = tasks.rows[created.id]
        assert (stored.id, stored.status, stored.last_run_at) == (1, TaskStatus.ACTIVE, None)
        assert stored.next_run_at == START + timedelta(minutes=1)

    async def test_an_unknown_executor_is_refused_and_nothing_stored(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        with pytest.raises(InvalidInput) as caught:
            await task_control.create(a_task(task_type=TaskType.CUSTOM, executor="spark"))

        assert field_of(caught.value) == "executor"
        assert tasks.rows == {}

    async def test_a_task_type_without_an_executor_is_refused_naming_the_type(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        with pytest.raises(InvalidInput) as caught:
            await task_control.create(a_task(task_type=TaskType.CUSTOM))

        assert field_of(caught.value) == "task_type"
        assert tasks.rows == {}

    async def test_an_unknown_dependency_is_refused_and_nothing_stored(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        await task_control.create(a_task(name="upstream"))

        with pytest.raises(InvalidInput) as caught:
            await task_control.create(a_task(name="downstream", dependencies=(1, 42)))

        assert field_of(caught.value) == "dependencies"
        assert "42" in caught.value.detail
        assert [task.name for task in tasks.rows.values()] == ["upstream"]

    async def test_known_dependencies_are_kept(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        first = await task_control.create(a_task(name="a"))
        second = await task_control.create(a_task(name="b"))

        created = await task_control.create(a_task(name="c", dependencies=(first.id, second.id)))

        assert tasks.rows[created.id].dependencies == (1, 2)

    async def test_a_duplicate_name_is_a_conflict(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        await task_control.create(a_task(name="nightly"))

        with pytest.raises(Conflict):
            await task_control.create(a_task(name="nightly"))

        assert len(tasks.rows) == 1


class TestUpdate:
    async def test_a_new_schedule_recomputes_the_next_fire(
        self, task_control: TaskControl, tasks: FakeTaskRepository, clock: FakeClock
    ) -> None:
        task = await task_control.create(a_task(schedule="0 0 * * *"))
        clock.advance(minutes=10)

        await task_control.update(task.id, {"schedule": "*/30 * * * *"})

        stored = tasks.rows[task.id]
        assert (stored.schedule, stored.next_run_at) == ("*/30 * * * *", START + timedelta(minutes=30))
        assert stored.updated_at == START + timedelta(minutes=10)

    async def test_a_new_timezone_recomputes_the_next_fire(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        task = await task_control.create(a_task(schedule="0 15 * * *"))
        assert tasks.rows[task.id].next_run_at == datetime(2026, 1, 5, 15, tzinfo=UTC)

        await task_control.update(task.id, {"timezone": "Europe/Berlin"})

        assert tasks.rows[task.id].next_run_at == datetime(2026, 1, 5, 14, tzinfo=UTC)

    async def test_other_edits_leave_the_next_fire_alone(
        self, task_control: TaskControl, tasks: FakeTaskRepository, clock: FakeClock
    ) -> None:
        task = await task_control.create(a_task(schedule="0 0 * * *"))
        clock.advance(days=3)

        await task_control.update(task.id, {"description": "nightly cleanup", "priority": Priority.HIGH})

        stored = tasks.rows[task.id]
        assert stored.next_run_at == task.next_run_at
        assert (stored.description, stored.priority) == ("nightly cleanup", Priority.HIGH)

    @pytest.mark.parametrize("blank", [None, "", "  "])
    async def test_removing_the_schedule_clears_the_next_fire(
        self, task_control: TaskControl, tasks: FakeTaskRepository, blank: str | None
    ) -> None:
        task = await task_control.create(a_task(schedule="@daily"))

        await task_control.update(task.id, {"schedule": blank})

        assert (tasks.rows[task.id].schedule, tasks.rows[task.id].next_run_at) == (None, None)

    async def test_a_cycle_is_refused_and_the_task_left_unchanged(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        first = await task_control.create(a_task(name="a"))
        second = await task_control.create(a_task(name="b", dependencies=(first.id,)))
        third = await task_control.create(a_task(name="c", dependencies=(second.id,)))
        before = tasks.rows[first.id]

        with pytest.raises(InvalidInput) as caught:
            await task_control.update(first.id, {"dependencies": (third.id,), "description": "x"})

        assert field_of(caught.value) == "dependencies"
        assert "1 -> 3 -> 2 -> 1" in caught.value.detail
        assert tasks.rows[first.id] == before

    async def test_an_invalid_value_is_refused_and_the_task_left_unchanged(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        task = await task_control.create(a_task(schedule="@daily"))

        with pytest.raises(InvalidInput) as caught:
            await task_control.update(task.id, {"schedule": "every day", "name": "renamed"})

        assert field_of(caught.value) == "schedule"
        assert tasks.rows[task.id] == task

    @pytest.mark.parametrize("name", ["status", "id", "next_run_at", "created_at"])
    async def test_fields_outside_the_editable_set_are_refused(
        self, task_control: TaskControl, tasks: FakeTaskRepository, name: str
    ) -> None:
        task = await task_control.create(a_task())

        with pytest.raises(InvalidInput) as caught:
            await task_control.update(task.id, {name: None})

        assert field_of(caught.value) == name
        assert tasks.rows[task.id] == task

    async def test_an_archived_task_cannot_be_edited(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        task = await task_control.create(a_task())
        archived = await task_control.archive(task.id)

        with pytest.raises(Conflict):
            await task_control.update(task.id, {"description": "x"})

        assert tasks.rows[task.id] == archived

    async def test_an_unknown_task_is_not_found(self, task_control: TaskControl) -> None:
        with pytest.raises(NotFound):
            await task_control.update(99, {"description": "x"})


class TestPauseResumeArchive:
    async def test_pause_clears_the_next_fire(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        task = await task_control.create(a_task(schedule="* * * * *"))

        await task_control.pause(task.id)

        assert (tasks.rows[task.id].status, tasks.rows[task.id].next_run_at) == (TaskStatus.PAUSED, None)

    async def test_resume_counts_the_next_fire_from_now(
        self, task_control: TaskControl, tasks: FakeTaskRepository, clock: FakeClock
    ) -> None:
        task = await task_control.create(a_task(schedule="0 * * * *"))
        await task_control.pause(task.id)
        clock.advance(days=2, minutes=20)

        await task_control.resume(task.id)

        stored = tasks.rows[task.id]
        assert stored.status is TaskStatus.ACTIVE
        assert stored.next_run_at == START + timedelta(days=2, hours=1)

    async def test_archive_keeps_the_task_but_retires_it(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        task = await task_control.create(a_task(schedule="* * * * *"))

        await task_control.archive(task.id)

        assert (tasks.rows[task.id].status, tasks.rows[task.id].next_run_at) == (TaskStatus.ARCHIVED, None)

    @pytest.mark.parametrize("action", ["pause", "resume"])
    async def test_an_archived_task_cannot_be_paused_or_resumed(
        self, task_control: TaskControl, tasks: FakeTaskRepository, action: str
    ) -> None:
        task = await task_control.create(a_task())
        archived = await task_control.archive(task.id)

        with pytest.raises(Conflict):
            await getattr(task_control, action)(task.id)

        assert tasks.rows[task.id] == archived

    async def test_an_archived_name_can_be_reused(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        old = await task_control.create(a_task(name="report"))
        await task_control.archive(old.id)

        new = await task_control.create(a_task(name="report"))

        assert {t.id: t.status for t in tasks.rows.values()} == {
            old.id: TaskStatus.ARCHIVED,
            new.id: TaskStatus.ACTIVE,
        }


class TestTrigger:
    async def test_trigger_creates_a_pending_manual_run_and_wakes_the_dispatchers_once(
        self,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        wakeup: FakeWakeup,
    ) -> None:
        task = await task_control.create(
            a_task(task_type=TaskType.HTTP, priority=Priority.CRITICAL, timeout_seconds=45)
        )

        run = await task_control.trigger(task.id, arguments={"dry_run": True})

        assert list(runs.rows.values()) == [run]
        assert (run.task_id, run.status, run.trigger, run.attempt) == (
            task.id,
            RunStatus.PENDING,
            Trigger.MANUAL,
            1,
        )
        assert (run.task_type, run.priority, run.timeout_seconds) == (TaskType.HTTP, Priority.CRITICAL, 45)
        assert (run.arguments, run.scheduled_for) == ({"dry_run": True}, START)
        assert wakeup.notified == 1

    async def test_a_paused_task_can_still_be_triggered_by_hand(
        self, task_control: TaskControl, runs: FakeTaskRunRepository
    ) -> None:
        task = await task_control.create(a_task())
        await task_control.pause(task.id)

        await task_control.trigger(task.id)

        assert len(runs.rows) == 1

    async def test_an_archived_task_cannot_be_triggered(
        self, task_control: TaskControl, runs: FakeTaskRunRepository, wakeup: FakeWakeup
    ) -> None:
        task = await task_control.create(a_task())
        await task_control.archive(task.id)

        with pytest.raises(Conflict):
            await task_control.trigger(task.id)

        assert (runs.rows, wakeup.notified) == ({}, 0)

    async def test_an_unknown_task_cannot_be_triggered(
        self, task_control: TaskControl, runs: FakeTaskRunRepository
    ) -> None:
        with pytest.raises(NotFound):
            await task_control.trigger(5)

        assert runs.rows == {}

    async def test_the_same_idempotency_key_returns_the_same_run(
        self, task_control: TaskControl, runs: FakeTaskRunRepository
    ) -> None:
        task = await task_control.create(a_task())

        first = await task_control.trigger(task.id, idempotency_key="deploy-42")
        second = await task_control.trigger(task.id, idempotency_key="deploy-42")
        other = await task_control.trigger(task.id, idempotency_key="deploy-43")

        assert second.id == first.id
        assert other.id != first.id
        assert len(runs.rows) == 2

    async def test_idempotency_keys_are_per_task(
        self, task_control: TaskControl, runs: FakeTaskRunRepository
    ) -> None:
        one = await task_control.create(a_task(name="one"))
        two = await task_control.create(a_task(name="two"))

        first = await task_control.trigger(one.id, idempotency_key="k")
        second = await task_control.trigger(two.id, idempotency_key="k")

        assert first.id != second.id
        assert len(runs.rows) == 2


class TestUpdateTypes:
    async def test_plain_values_are_converted_to_the_fields_types(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        task = await task_control.create(a_task())

        edited = await task_control.update(task.id, {"priority": "high", "tags": ["a", "b"]})

        assert edited.priority is Priority.HIGH
        assert edited.tags == ("a", "b")
        assert tasks.rows[task.id].priority is Priority.HIGH

    async def test_a_value_of_the_wrong_type_is_refused_and_nothing_changes(
        self, task_control: TaskControl, tasks: FakeTaskRepository
    ) -> None:
        task = await task_control.create(a_task())

        with pytest.raises(InvalidInput, match="max_retries"):
            await task_control.update(task.id, {"max_retries": "many"})

        assert tasks.rows[task.id] == task
