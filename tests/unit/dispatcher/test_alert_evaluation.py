"""The dispatcher evaluates alert rules: only while leading, beside its passes, and stops cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta

from tests.unit.dispatcher.shared_store import Shared

from scheduler_application import (
    AlertEvaluator,
    AlertMetrics,
    AlertRule,
    Leadership,
    RulePhase,
    RunLifecycle,
    SchedulerService,
    SchedulingPolicy,
    SystemOverview,
)
from scheduler_dispatcher import Dispatcher
from scheduler_testing import (
    FakeWakeup,
    eventually,
)
from scheduler_testing.alerts import FakeAlertChannel

NO_WORKERS = AlertRule(
    name="no-workers", metric="workers_online", comparison="below", threshold=1, channels=("ops",)
)


class Instance:
    """A dispatcher with its own leadership, alert evaluator and channel."""

    def __init__(self, shared: Shared, holder: str, *, notify_timeout: float = 5.0) -> None:
        lifecycle = RunLifecycle(runs=shared.runs, tasks=shared.tasks, clock=shared.clock)
        scheduler = SchedulerService(
            tasks=shared.tasks,
            runs=shared.runs,
            queue=shared.queue,
            lifecycle=lifecycle,
            clock=shared.clock,
            policy=SchedulingPolicy(),
        )
        overview = SystemOverview(tasks=shared.tasks, runs=shared.runs, workers=shared.workers)
        self.channel = FakeAlertChannel("ops")
        self.alerts = AlertEvaluator(
            rules=[NO_WORKERS],
            channels={"ops": self.channel},
            metrics=AlertMetrics(overview=overview, runs=shared.runs, clock=shared.clock),
            clock=shared.clock,
            notify_timeout=notify_timeout,
        )
        self.leadership = Leadership(leases=shared.leases, holder=holder, lease_seconds=0.3)
        self.dispatcher = Dispatcher(
            scheduler=scheduler,
            wakeup=FakeWakeup(),
            scan_interval=0.01,
            leadership=self.leadership,
            alerts=self.alerts,
            alert_interval=0.01,
        )


@asynccontextmanager
async def running(*instances: Instance) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(instance.dispatcher.run()) for instance in instances]
    try:
        yield
    finally:
        for instance in instances:
            instance.dispatcher.stop()
        async with asyncio.timeout(2):
            await asyncio.gather(*tasks)


@contextmanager
def held_by_another(shared: Shared) -> Iterator[None]:
    """The lease taken by an instance outside the test, for an hour."""
    shared.leases.rows["dispatcher"] = ("elsewhere", datetime.now(UTC) + timedelta(hours=1))
    yield


async def test_only_the_leader_evaluates_and_notifies() -> None:
    shared = Shared()
    leader, standby = Instance(shared, "a"), Instance(shared, "b")
    await leader.leadership.renew()

    async with running(leader, standby):
        await eventually(lambda: leader.channel.states == [("no-workers", "firing")])
        checks = standby.dispatcher.alert_checks
        await eventually(lambda: standby.dispatcher.alert_checks >= checks + 5)

        assert standby.channel.attempts == 0
        assert standby.alerts.state_of("no-workers").phase is RulePhase.INACTIVE
        assert leader.channel.states == [("no-workers", "firing")]  # once, however many evaluations


async def test_an_instance_that_stops_leading_forgets_its_alerts() -> None:
    shared = Shared()
    instance = Instance(shared, "a")

    async with running(instance):
        await eventually(lambda: instance.alerts.state_of("no-workers").phase is RulePhase.FIRING)
        with held_by_another(shared):
            await eventually(lambda: not instance.leadership.is_leader)
            await eventually(lambda: instance.alerts.state_of("no-workers").phase is RulePhase.INACTIVE)

    assert instance.channel.states == [("no-workers", "firing")]


async def test_a_channel_that_never_answers_neither_delays_passes_nor_stopping() -> None:
    shared = Shared()
    instance = Instance(shared, "a", notify_timeout=60)
    instance.channel.hanging = True
    dispatcher = instance.dispatcher
    task = asyncio.create_task(dispatcher.run())

    await eventually(lambda: instance.channel.attempts == 1)
    passes = dispatcher.passes
    await eventually(lambda: dispatcher.passes >= passes + 20)
    dispatcher.stop()

    async with asyncio.timeout(2):
        await task
    assert await shared.leases.holder("dispatcher") is None


async def test_without_alerts_the_dispatcher_runs_as_before() -> None:
    shared = Shared()
    lifecycle = RunLifecycle(runs=shared.runs, tasks=shared.tasks, clock=shared.clock)
    scheduler = SchedulerService(
        tasks=shared.tasks,
        runs=shared.runs,
        queue=shared.queue,
        lifecycle=lifecycle,
        clock=shared.clock,
        policy=SchedulingPolicy(),
    )
    dispatcher = Dispatcher(scheduler=scheduler, wakeup=FakeWakeup(), scan_interval=0.01, alert_interval=0.01)
    task = asyncio.create_task(dispatcher.run())

    await eventually(lambda: dispatcher.passes >= 3)
    dispatcher.stop()
    async with asyncio.timeout(2):
        await task
    assert dispatcher.alert_checks == 0


async def test_alerts_given_while_running_are_evaluated_and_taken_away_are_not() -> None:
    shared = Shared()
    instance = Instance(shared, "a")
    dispatcher, alerts = instance.dispatcher, instance.alerts
    dispatcher.use_alerts(None, 0.01)  # started without rules

    async with running(instance):
        await eventually(lambda: dispatcher.passes >= 3)
        assert dispatcher.alert_checks == 0
        dispatcher.use_alerts(alerts, 0.01)  # a reload adds rules
        await eventually(lambda: instance.channel.states == [("no-workers", "firing")])
        dispatcher.use_alerts(None, 0.01)  # a reload takes them away
        checks = dispatcher.alert_checks
        passes = dispatcher.passes
        await eventually(lambda: dispatcher.passes >= passes + 10)
        assert dispatcher.alert_checks <= checks + 1  # one evaluation may have been under way


async def test_a_new_interval_applies_at_once() -> None:
    shared = Shared()
    instance = Instance(shared, "a")
    dispatcher = instance.dispatcher
    dispatcher.use_alerts(instance.alerts, 3600)  # evaluated hourly: never within the test

    async with running(instance):
        await eventually(lambda: dispatcher.passes >= 3)
        assert dispatcher.alert_checks == 0
        dispatcher.use_alerts(instance.alerts, 0.01)
        await eventually(lambda: dispatcher.alert_checks >= 3)


async def test_a_reload_during_an_evaluation_is_not_lost() -> None:
    shared = Shared()
    instance = Instance(shared, "a")
    dispatcher = instance.dispatcher
    instance.channel.delay = 0.3  # the first evaluation fires and sends for 0.3 s

    async with running(instance):
        await eventually(lambda: instance.channel.attempts == 1)
        checks = dispatcher.alert_checks
        dispatcher.use_alerts(instance.alerts, 3600)  # while it sends: hourly from now on
        await eventually(lambda: instance.channel.states == [("no-workers", "firing")])
        passes = dispatcher.passes
        await eventually(lambda: dispatcher.passes >= passes + 20)

        assert dispatcher.alert_checks == checks  # none at the old 0.01 s interval
