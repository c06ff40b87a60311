"""Alert evaluation over the in-memory store: metrics read, changes told once, failed sends retried."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import UTC, datetime

import pytest

from scheduler_application import AlertEvaluator, AlertMetrics, AlertRule, RulePhase, SystemOverview
from scheduler_application.alert_metrics import METRICS
from scheduler_config import ALERT_METRICS
from scheduler_domain import RunStatus, WorkerInfo, WorkerStatus
from scheduler_errors import Unavailable
from scheduler_testing import (
    FakeClock,
    FakeTaskRepository,
    FakeTaskRunRepository,
    FakeWorkerRepository,
    a_run,
    a_task,
)
from scheduler_testing.alerts import FakeAlertChannel

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class FlakyRuns(FakeTaskRunRepository):
    """Runs in a dict, behind a store that can stop answering."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def count_by_status(self, statuses: Collection[RunStatus]) -> dict[RunStatus, int]:
        if self.down:
            raise Unavailable("the database does not answer")
        return await super().count_by_status(statuses)


class Store:
    """The fakes an evaluator reads, and a way to fill them."""

    def __init__(self) -> None:
        self.clock = FakeClock(T0)
        self.runs = FlakyRuns()
        self.tasks = FakeTaskRepository(self.runs)
        self.workers = FakeWorkerRepository()
        self.overview = SystemOverview(tasks=self.tasks, runs=self.runs, workers=self.workers)
        self.metrics = AlertMetrics(overview=self.overview, runs=self.runs, clock=self.clock)

    async def worker(self, worker_id: str, *, slots: int = 4, busy: int = 0, online: bool = True) -> None:
        status = WorkerStatus.ONLINE if online else WorkerStatus.DRAINING
        worker = WorkerInfo(
            id=worker_id, hostname="h", status=status, max_concurrent_tasks=slots, current_task_count=busy
        )
        await self.workers.save(worker)

    async def runs_in(self, status: RunStatus, count: int) -> None:
        if not self.tasks.rows:
            await self.tasks.add(a_task())
        for _ in range(count):
            await self.runs.add(a_run(task_id=next(iter(self.tasks.rows)), status=status))

    def evaluator(self, *rules: AlertRule, **channels: FakeAlertChannel) -> AlertEvaluator:
        return AlertEvaluator(
            rules=rules, channels=channels, metrics=self.metrics, clock=self.clock, notify_timeout=0.2
        )


def no_workers(for_seconds: float = 30, channels: tuple[str, ...] = ("ops",)) -> AlertRule:
    return AlertRule(
        name="no-workers",
        metric="workers_online",
        comparison="below",
        threshold=1,
        for_seconds=for_seconds,
        severity="critical",
        channels=channels,
    )


@pytest.fixture
def store() -> Store:
    return Store()


def test_every_metric_the_settings_accept_is_one_the_evaluation_reads() -> None:
    assert set(ALERT_METRICS) == METRICS


async def test_the_metrics_are_read_from_the_store(store: Store) -> None:
    await store.worker("a", slots=4, busy=3)
    await store.worker("b", slots=4, busy=1)
    await store.worker("c", slots=8, busy=8, online=False)
    await store.runs_in(RunStatus.PENDING, 3)
    await store.runs_in(RunStatus.QUEUED, 2)
    await store.runs_in(RunStatus.RUNNING, 1)
    await store.runs_in(RunStatus.SUCCEEDED, 5)

    values = await store.metrics.read(METRICS)

    assert values == {
        "runs_pending": 3,
        "runs_queued": 2,
        "runs_running": 1,
        "workers_online": 2,
        "worker_slots_free": 4,
        "worker_busy_ratio": 0.5,
        "runs_failed_per_minute": None,  # no rate before a second read
        "store_readable": 1,
    }


async def test_the_failure_rate_is_the_change_of_the_failed_count_per_minute(store: Store) -> None:
    await store.runs_in(RunStatus.FAILED, 10)
    assert (await store.metrics.read({"runs_failed_per_minute"}))["runs_failed_per_minute"] is None

    await store.runs_in(RunStatus.FAILED, 3)
    await store.runs_in(RunStatus.TIMED_OUT, 3)
    await store.runs_in(RunStatus.CANCELLED, 4)
    store.clock.advance(30)

    assert (await store.metrics.read({"runs_failed_per_minute"}))["runs_failed_per_minute"] == 12
    store.clock.advance(60)
    assert (await store.metrics.read({"runs_failed_per_minute"}))["runs_failed_per_minute"] == 0


async def test_without_workers_for_the_hold_the_rule_fires_once_then_resolves_once(store: Store) -> None:
    ops = FakeAlertChannel("ops")
    evaluator = store.evaluator(no_workers(for_seconds=30), ops=ops)

    assert await evaluator.evaluate() == []
    store.clock.advance(15)
    await evaluator.evaluate()
    assert ops.sent == []
    store.clock.advance(15)
    [fired] = await evaluator.evaluate()
    for _ in range(3):
        store.clock.advance(15)
        assert await evaluator.evaluate() == []
    await store.worker("w-1")
    store.clock.advance(15)
    [resolved] = await evaluator.evaluate()

    assert ops.states == [("no-workers", "firing"), ("no-workers", "resolved")]
    assert (fired.value, fired.threshold, fired.comparison, fired.since, fired.at) == (
        0,
        1,
        "below",
        T0,
        T0.replace(second=30),
    )
    assert (resolved.value, resolved.since, resolved.severity) == (1, T0, "critical")
    assert fired.text.startswith("FIRING [critical] no-workers: workers_online = 0 (below 1 for 30s")


async def test_a_change_goes_to_each_of_the_rules_channels_and_no_other(store: Store) -> None:
    ops, mail, other = FakeAlertChannel("ops"), FakeAlertChannel("mail", "email"), FakeAlertChannel("other")
    evaluator = store.evaluator(
        no_workers(for_seconds=0, channels=("ops", "mail")), ops=ops, mail=mail, other=other
    )

    await evaluator.evaluate()

    assert ops.states == mail.states == [("no-workers", "firing")]
    assert other.sent == []


async def test_a_failed_send_is_tried_again_at_the_next_evaluation_in_order(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    ops = FakeAlertChannel("ops")
    ops.failing = True
    evaluator = store.evaluator(no_workers(for_seconds=0), ops=ops)

    await evaluator.evaluate()
    await store.worker("w-1")
    await evaluator.evaluate()
    assert ops.sent == []
    assert [notice.state for notice in evaluator.unsent("ops")] == ["firing", "resolved"]
    failures = [record for record in caplog.records if record.message.startswith("alert notification failed")]
    assert failures
    assert {(record.rule, record.channel) for record in failures} == {("no-workers", "ops")}  # type: ignore[attr-defined]

    ops.failing = False
    await evaluator.evaluate()

    assert ops.states == [("no-workers", "firing"), ("no-workers", "resolved")]
    assert evaluator.unsent("ops") == []


async def test_a_channel_that_never_answers_is_given_up_on_without_holding_the_others(store: Store) -> None:
    stuck, ops = FakeAlertChannel("stuck"), FakeAlertChannel("ops")
    stuck.hanging = True
    evaluator = store.evaluator(no_workers(for_seconds=0, channels=("stuck", "ops")), stuck=stuck, ops=ops)

    async with asyncio.timeout(2):  # the notify timeout is 0.2 s
        await evaluator.evaluate()

    assert ops.states == [("no-workers", "firing")]
    assert len(evaluator.unsent("stuck")) == 1
    stuck.hanging = False
    await evaluator.evaluate()
    assert stuck.states == [("no-workers", "firing")]


async def test_an_unexpected_error_of_a_channel_is_a_failed_send_and_its_text_stays_out_of_the_logs(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    hook, ops = FakeAlertChannel("hook"), FakeAlertChannel("ops")
    hook.broken = ValueError("bad URL https://hooks.example/services/T0/SECRET")
    evaluator = store.evaluator(no_workers(for_seconds=0, channels=("hook", "ops")), hook=hook, ops=ops)

    await evaluator.evaluate()

    assert ops.states == [("no-workers", "firing")]
    assert [notice.state for notice in evaluator.unsent("hook")] == ["firing"]
    [failure] = [
        record for record in caplog.records if record.message.startswith("alert notification failed")
    ]
    assert failure.error == "unexpected ValueError"  # type: ignore[attr-defined]
    assert not any("SECRET" in str(value) for record in caplog.records for value in vars(record).values())
    hook.broken = None
    await evaluator.evaluate()
    assert hook.states == [("no-workers", "firing")]
    assert ops.states == [("no-workers", "firing")]


async def test_a_channel_that_bounds_its_own_sends_is_waited_for_past_the_notify_timeout(
    store: Store,
) -> None:
    mail = FakeAlertChannel("mail", kind="email")
    mail.delay, mail.longest_send_seconds = 0.4, 2.0  # the notify timeout is 0.2 s
    evaluator = store.evaluator(no_workers(for_seconds=0, channels=("mail",)), mail=mail)

    await evaluator.evaluate()

    assert mail.states == [("no-workers", "firing")]
    assert evaluator.unsent("mail") == []


async def test_an_unreadable_store_fires_store_readable_and_leaves_other_rules_as_they_were(
    store: Store,
) -> None:
    ops = FakeAlertChannel("ops")
    unreadable = AlertRule(
        name="store-down", metric="store_readable", comparison="below", threshold=1, channels=("ops",)
    )
    evaluator = store.evaluator(no_workers(for_seconds=0), unreadable, ops=ops)
    await evaluator.evaluate()
    store.runs.down = True

    await evaluator.evaluate()

    assert ops.states == [("no-workers", "firing"), ("store-down", "firing")]
    assert evaluator.state_of("no-workers").phase is RulePhase.FIRING
    store.runs.down = False
    await evaluator.evaluate()
    assert ops.states[-1] == ("store-down", "resolved")


async def test_reset_forgets_states_and_unsent_notifications(store: Store) -> None:
    ops = FakeAlertChannel("ops")
    ops.failing = True
    evaluator = store.evaluator(no_workers(for_seconds=0), ops=ops)
    await evaluator.evaluate()

    evaluator.reset()

    assert evaluator.state_of("no-workers").phase is RulePhase.INACTIVE
    assert evaluator.unsent("ops") == []
    ops.failing = False
    await evaluator.evaluate()
    assert ops.states == [("no-workers", "firing")]  # fired again, from scratch


def test_a_rule_naming_an_unknown_channel_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown channels"):
        store.evaluator(no_workers(channels=("nowhere",)), ops=FakeAlertChannel("ops"))


def busy(threshold: float = 0.9) -> AlertRule:
    return AlertRule(
        name="busy", metric="worker_busy_ratio", comparison="above", threshold=threshold, channels=("ops",)
    )


async def test_a_reload_keeps_the_state_of_the_rules_it_leaves_as_they_were(store: Store) -> None:
    ops = FakeAlertChannel("ops")
    evaluator = store.evaluator(no_workers(for_seconds=0), ops=ops)
    await evaluator.evaluate()  # no-workers fires

    evaluator.reconfigure(
        rules=[no_workers(for_seconds=0), busy()], channels={"ops": ops}, notify_timeout=0.2
    )
    await evaluator.evaluate()

    assert ops.states == [("no-workers", "firing")]  # not told again
    assert evaluator.state_of("no-workers").phase is RulePhase.FIRING
    assert [rule.name for rule in evaluator.rules] == ["no-workers", "busy"]


async def test_a_rule_changed_by_a_reload_starts_afresh(store: Store) -> None:
    ops = FakeAlertChannel("ops")
    evaluator = store.evaluator(no_workers(for_seconds=0), ops=ops)
    await evaluator.evaluate()

    evaluator.reconfigure(rules=[no_workers(for_seconds=60)], channels={"ops": ops}, notify_timeout=0.2)

    assert evaluator.state_of("no-workers").phase is RulePhase.INACTIVE
    await evaluator.evaluate()
    store.clock.advance(60)
    await evaluator.evaluate()
    assert ops.states == [("no-workers", "firing"), ("no-workers", "firing")]  # held for its new time


async def test_a_reload_keeps_what_waits_for_a_kept_channel_and_drops_the_rest(store: Store) -> None:
    ops, old = FakeAlertChannel("ops"), FakeAlertChannel("old")
    ops.failing = old.failing = True
    evaluator = store.evaluator(no_workers(for_seconds=0, channels=("ops", "old")), ops=ops, old=old)
    await evaluator.evaluate()  # both sends failed: waiting
    new_ops = FakeAlertChannel("ops")

    evaluator.reconfigure(rules=[no_workers(for_seconds=0)], channels={"ops": new_ops}, notify_timeout=0.2)
    await evaluator.evaluate()

    assert new_ops.states == [("no-workers", "firing")]  # the waiting notice, sent on the new channel
    assert set(evaluator.channels) == {"ops"}


def test_a_reload_naming_an_unknown_channel_is_refused_and_changes_nothing(store: Store) -> None:
    ops = FakeAlertChannel("ops")
    evaluator = store.evaluator(no_workers(), ops=ops)

    with pytest.raises(ValueError, match="unknown channels"):
        evaluator.reconfigure(rules=[busy()], channels={"mail": ops}, notify_timeout=0.2)

    assert [rule.name for rule in evaluator.rules] == ["no-workers"]
    assert set(evaluator.channels) == {"ops"}
