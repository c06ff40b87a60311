"""Which cron fires are due: on time, late within the grace, or missed (misfire policy)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler_domain import MisfirePolicy, Task, TaskStatus
from scheduler_testing import a_task

T = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
GRACE = timedelta(seconds=60)
MINUTE = timedelta(minutes=1)


def scheduled(schedule: str, next_run_at: datetime = T, **overrides: object) -> Task:
    return a_task(schedule=schedule, next_run_at=next_run_at, **overrides)


def test_nothing_is_due_before_the_next_fire() -> None:
    plan = scheduled("* * * * *").plan_fires(T - timedelta(seconds=1), misfire_grace=GRACE)

    assert (plan.fires, plan.next_run_at) == ((), T)


def test_an_on_time_fire_is_kept_and_the_next_one_follows() -> None:
    plan = scheduled("* * * * *").plan_fires(T, misfire_grace=GRACE)

    assert plan.fires == (T,)
    assert plan.next_run_at == T + MINUTE


def test_several_fires_within_the_grace_are_all_kept() -> None:
    plan = scheduled("* * * * *").plan_fires(T + 2 * MINUTE, misfire_grace=timedelta(minutes=5))

    assert plan.fires == (T, T + MINUTE, T + 2 * MINUTE)
    assert plan.next_run_at == T + 3 * MINUTE


def test_every_second_fires_within_the_grace_are_all_kept() -> None:
    plan = scheduled("* * * * * *").plan_fires(T + timedelta(seconds=10), misfire_grace=GRACE)

    assert plan.fires == tuple(T + timedelta(seconds=s) for s in range(11))
    assert plan.next_run_at == T + timedelta(seconds=11)


def test_a_fire_late_by_exactly_the_grace_is_kept() -> None:
    plan = scheduled("0 * * * *").plan_fires(T + GRACE, misfire_grace=GRACE)

    assert plan.fires == (T,)


@pytest.mark.parametrize("late", [timedelta(hours=5, minutes=30), timedelta(days=40)])
def test_old_missed_fires_with_run_once_give_exactly_one_fire_the_latest(late: timedelta) -> None:
    now = T + late

    plan = scheduled("0 * * * *", misfire_policy=MisfirePolicy.RUN_ONCE).plan_fires(now, misfire_grace=GRACE)

    latest = now.replace(minute=0, second=0)
    assert plan.fires == (latest,)
    assert plan.next_run_at == latest + timedelta(hours=1)
    assert plan.next_run_at > now


def test_old_missed_fires_with_skip_give_none() -> None:
    now = T + timedelta(hours=5, minutes=30)

    plan = scheduled("0 * * * *", misfire_policy=MisfirePolicy.SKIP).plan_fires(now, misfire_grace=GRACE)

    assert plan.fires == ()
    assert plan.next_run_at == T + timedelta(hours=6)


def test_missed_fires_are_not_added_when_recent_fires_run_anyway() -> None:
    now = T + timedelta(minutes=30)

    plan = scheduled("* * * * *").plan_fires(now, misfire_grace=GRACE)

    assert plan.fires == (now - MINUTE, now)
    assert plan.next_run_at == now + MINUTE


@pytest.mark.timeout(10)
def test_a_per_second_schedule_missed_for_a_month_is_planned_in_one_step() -> None:
    now = T + timedelta(days=30)

    plan = scheduled("* * * * * *").plan_fires(now, misfire_grace=GRACE)

    assert len(plan.fires) == 61
    assert plan.fires[0] == now - GRACE
    assert plan.next_run_at == now + timedelta(seconds=1)


def test_the_limit_caps_the_fires_and_the_rest_follow_next_time() -> None:
    now = T + timedelta(seconds=10)
    task = scheduled("* * * * * *")

    first = task.plan_fires(now, misfire_grace=GRACE, limit=4)

    assert first.fires == tuple(T + timedelta(seconds=s) for s in range(4))
    assert first.next_run_at == T + timedelta(seconds=4)


def test_a_task_without_a_next_fire_has_nothing_due() -> None:
    plan = a_task().plan_fires(T, misfire_grace=GRACE)

    assert (plan.fires, plan.next_run_at) == ((), None)


@pytest.mark.parametrize("status", [TaskStatus.PAUSED, TaskStatus.ARCHIVED])
def test_paused_and_archived_tasks_produce_no_fires(status: TaskStatus) -> None:
    stale = scheduled("* * * * *", status=status)

    plan = stale.plan_fires(T + timedelta(hours=1), misfire_grace=GRACE)

    assert (plan.fires, plan.next_run_at) == ((), None)


def test_a_paused_task_produces_no_fires() -> None:
    paused = scheduled("* * * * *").paused(T)

    assert paused.plan_fires(T + timedelta(hours=1), misfire_grace=GRACE).fires == ()


def test_fires_follow_the_task_zone() -> None:
    task = scheduled(
        "0 9 * * *", next_run_at=datetime(2026, 1, 5, 14, tzinfo=UTC), timezone="America/New_York"
    )

    plan = task.plan_fires(datetime(2026, 1, 5, 14, tzinfo=UTC), misfire_grace=GRACE)

    assert plan.next_run_at == datetime(2026, 1, 6, 14, tzinfo=UTC)


@settings(max_examples=150, deadline=None)
@given(
    schedule=st.sampled_from(["* * * * *", "*/5 * * * * *", "0 * * * *", "*/7 * * * *", "0 9 * * 1-5"]),
    late_seconds=st.integers(min_value=0, max_value=3 * 24 * 3600),
    grace_seconds=st.integers(min_value=0, max_value=600),
    policy=st.sampled_from(list(MisfirePolicy)),
)
def test_plans_are_ordered_due_and_leave_the_next_fire_in_the_future(
    schedule: str, late_seconds: int, grace_seconds: int, policy: MisfirePolicy
) -> None:
    task = a_task(schedule=schedule, misfire_policy=policy).rescheduled(T)
    assert task.next_run_at is not None
    now = task.next_run_at + timedelta(seconds=late_seconds)
    grace = timedelta(seconds=grace_seconds)

    plan = task.plan_fires(now, misfire_grace=grace, limit=10_000)

    assert list(plan.fires) == sorted(set(plan.fires))
    assert all(task.next_run_at <= fire <= now for fire in plan.fires)
    assert plan.next_run_at is not None
    assert plan.next_run_at > now
    missed = [fire for fire in plan.fires if now - fire > grace]
    assert not missed or plan.fires == tuple(missed) == (missed[0],)
    if policy is MisfirePolicy.RUN_ONCE:
        assert plan.fires
    else:
        assert all(now - fire <= grace for fire in plan.fires)
