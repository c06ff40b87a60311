"""Task invariants and the pause / resume / archive lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from scheduler_domain import Priority, RetryPolicy, Task, TaskStatus, TaskType, check_storable
from scheduler_domain.task import MAX_NAME_LENGTH, MAX_RETRIES, MAX_TIMEOUT_SECONDS
from scheduler_errors import Conflict, InvalidInput
from scheduler_testing import a_task

NOW = datetime(2026, 1, 5, 10, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * (MAX_NAME_LENGTH + 1)}, "name"),
        ({"command": ""}, "command"),
        ({"command": " \n"}, "command"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"timeout_seconds": -5}, "timeout_seconds"),
        ({"timeout_seconds": MAX_TIMEOUT_SECONDS + 1}, "timeout_seconds"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": MAX_RETRIES + 1}, "max_retries"),
        ({"retry_backoff_seconds": -0.5}, "retry_backoff_seconds"),
        ({"dependencies": (2, 3, 2)}, "dependencies"),
        ({"id": 4, "dependencies": (4,)}, "dependencies"),
        ({"schedule": "not cron"}, "schedule"),
        ({"timezone": "Not/AZone"}, "timezone"),
    ],
)
def test_invalid_tasks_are_rejected_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        a_task(**overrides)

    assert [error.field for error in caught.value.errors] == [field]


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "x" * MAX_NAME_LENGTH},
        {"timeout_seconds": 1},
        {"timeout_seconds": MAX_TIMEOUT_SECONDS},
        {"max_retries": 0},
        {"max_retries": MAX_RETRIES},
        {"retry_backoff_seconds": 0},
        {"dependencies": (2, 3)},
    ],
)
def test_values_at_the_limits_are_accepted(overrides: dict[str, Any]) -> None:
    task = a_task(**overrides)

    for name, value in overrides.items():
        assert getattr(task, name) == value


def test_invariants_also_hold_when_decoding() -> None:
    with pytest.raises(InvalidInput) as caught:
        msgspec.json.decode(b'{"name": "n", "command": "c", "timeout_seconds": 0}', type=Task)

    assert caught.value.errors[0].field == "timeout_seconds"


def test_invariants_also_hold_when_replacing_fields() -> None:
    with pytest.raises(InvalidInput):
        msgspec.structs.replace(a_task(), name="")


def test_the_executor_defaults_to_the_task_type() -> None:
    assert a_task(task_type=TaskType.HTTP).executor_name == "http"
    assert a_task(task_type=TaskType.CUSTOM, executor="spark").executor_name == "spark"


def test_the_retry_policy_comes_from_the_task() -> None:
    policy = a_task(max_retries=3, retry_backoff_seconds=2.5).retry_policy

    assert policy == RetryPolicy(max_retries=3, backoff_seconds=2.5)


def test_first_fire_only_for_an_active_scheduled_task() -> None:
    assert a_task(schedule="*/15 * * * *").first_fire_after(NOW) == NOW.replace(minute=15)
    assert a_task().first_fire_after(NOW) is None
    assert a_task(schedule="* * * * *", status=TaskStatus.PAUSED).first_fire_after(NOW) is None


def test_rescheduled_counts_from_now() -> None:
    task = a_task(schedule="@hourly", next_run_at=NOW - timedelta(days=3))

    assert task.rescheduled(NOW).next_run_at == NOW.replace(hour=11, minute=0)


class TestLifecycle:
    def test_pause_stops_the_schedule(self) -> None:
        task = a_task(schedule="* * * * *").rescheduled(NOW)

        paused = task.paused(NOW)

        assert (paused.status, paused.next_run_at, paused.updated_at) == (TaskStatus.PAUSED, None, NOW)
        assert paused.accepts_runs()

    def test_resume_fires_again_from_now_without_the_missed_fires(self) -> None:
        paused = a_task(schedule="0 * * * *").rescheduled(NOW).paused(NOW)
        later = NOW + timedelta(days=2)

        resumed = paused.resumed(later)

        assert resumed.status is TaskStatus.ACTIVE
        assert resumed.next_run_at == later.replace(hour=11, minute=0)
        assert resumed.updated_at == later

    def test_archive_retires_the_task(self) -> None:
        archived = a_task(schedule="* * * * *").rescheduled(NOW).archived(NOW)

        assert (archived.status, archived.next_run_at) == (TaskStatus.ARCHIVED, None)
        assert not archived.accepts_runs()
        assert archived.first_fire_after(NOW) is None

    @pytest.mark.parametrize("action", ["paused", "resumed"])
    def test_an_archived_task_cannot_be_paused_or_resumed(self, action: str) -> None:
        archived = a_task(id=9).archived(NOW)

        with pytest.raises(Conflict, match="task 9 is archived"):
            getattr(archived, action)(NOW)

    def test_an_active_task_accepts_runs(self) -> None:
        assert a_task(priority=Priority.LOW).accepts_runs()


def test_a_nul_as_deep_as_a_decoder_goes_is_found_without_exhausting_the_stack() -> None:
    deep: object = "\x00"
    for _ in range(50_000):
        deep = [deep]

    with pytest.raises(InvalidInput) as caught:
        check_storable("metadata", {"nested": deep})

    [error] = caught.value.errors
    assert error.field.startswith("metadata.nested[0][0]")
    assert error.field.endswith("…")
    assert len(error.field) <= 201


def test_text_without_nul_is_storable_whatever_else_it_holds() -> None:
    check_storable("arguments", {"script": "line\n\ttab \u2603 \x7f", "n": [1, 2.5, None, True, {"k": ""}]})
