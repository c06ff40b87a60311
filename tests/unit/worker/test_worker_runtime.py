"""The worker runtime, on the fake queue and reporter, with a gated fake executor."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import msgspec
import pytest

from scheduler_domain import (
    CancelRun,
    Message,
    RunDispatch,
    RunOutcome,
    RunStatus,
    utc_now,
    worker_command_key,
)
from scheduler_errors import Conflict, InvalidInput, Unavailable
from scheduler_foundation import Service
from scheduler_testing import FakeClock, FakeRunReporter, a_dispatch

COMMANDS = worker_command_key("w1")


async def test_a_run_is_claimed_executed_reported_and_then_acked(harness, wait_until) -> None:
    harness.start()
    message = await harness.dispatch(7)
    await wait_until(lambda: harness.executor.started == [7])
    assert harness.reporter.started == [(7, 1, "w1")]
    assert harness.queue.settled(message) == [None]

    harness.executor.release(7)

    await wait_until(lambda: harness.queue.settled(message) == ["ack"])
    assert harness.reporter.finished == [(7, 1, "w1", harness.executor.outcome)]


async def test_a_refused_start_is_acked_and_never_executed(harness, wait_until) -> None:
    harness.reporter.refuse.add(7)
    harness.start()

    message = await harness.dispatch(7)

    await wait_until(lambda: harness.queue.settled(message) == ["ack"])
    assert harness.executor.started == []
    assert harness.reporter.finished == []


async def test_no_more_than_concurrency_runs_execute_at_once(harness, wait_until) -> None:
    worker = harness.start(concurrency=2)
    for run_id in range(1, 6):
        await harness.dispatch(run_id)
    await wait_until(lambda: harness.executor.running == 2)
    assert worker.current_task_count == 2

    for run_id in range(1, 6):
        harness.executor.release(run_id)

    await wait_until(lambda: len(harness.reporter.finished) == 5)
    assert harness.executor.max_running == 2
    assert sorted(harness.executor.started) == [1, 2, 3, 4, 5]
    await wait_until(lambda: worker.current_task_count == 0)


async def test_a_run_of_an_unknown_executor_fails_for_good(harness, wait_until) -> None:
    harness.start()

    message = await harness.dispatch(7, executor="teleport")

    await wait_until(lambda: harness.queue.settled(message) == ["ack"])
    outcome = harness.reporter.outcome_of(7)
    assert outcome is not None
    assert outcome.status is RunStatus.FAILED
    assert outcome.retryable is False
    assert outcome.error_message is not None
    assert "teleport" in outcome.error_message


async def test_an_executor_that_raises_fails_the_run_and_the_worker_goes_on(harness, wait_until) -> None:
    class Broken:
        name = "broken"

        async def execute(self, job: RunDispatch) -> RunOutcome:
            raise RuntimeError("bug")

    harness.executors.register(Broken())
    harness.start()

    await harness.dispatch(7, executor="broken")
    await wait_until(lambda: harness.reporter.outcome_of(7) is not None)
    await harness.dispatch(8)
    harness.executor.release(8)

    await wait_until(lambda: harness.reporter.outcome_of(8) is not None)
    outcome = harness.reporter.outcome_of(7)
    assert outcome is not None
    assert outcome.status is RunStatus.FAILED
    assert outcome.error_message is not None
    assert "RuntimeError('bug')" in outcome.error_message


@pytest.mark.parametrize(
    ("reason", "status"),
    [("cancelled by request", RunStatus.CANCELLED), ("timed out", RunStatus.TIMED_OUT)],
)
async def test_a_cancel_command_stops_the_run_and_reports_why(
    harness, wait_until, reason: str, status: RunStatus
) -> None:
    harness.start()
    await harness.dispatch(7, attempt=2)
    await wait_until(lambda: harness.executor.started == [7])

    command = Message(payload=CancelRun(run_id=7, attempt=2, reason=reason))
    await harness.queue.publish(COMMANDS, command)

    await wait_until(lambda: harness.reporter.outcome_of(7) is not None)
    assert harness.reporter.outcome_of(7) == RunOutcome(status=status, error_message=reason)
    assert harness.executor.cancelled == [7]
    await wait_until(lambda: harness.queue.settled(command) == ["ack"])


async def test_a_cancel_for_another_attempt_or_run_changes_nothing(harness, wait_until) -> None:
    harness.start()
    await harness.dispatch(7, attempt=2)
    await wait_until(lambda: harness.executor.started == [7])

    stale = Message(payload=CancelRun(run_id=7, attempt=1))
    elsewhere = Message(payload=CancelRun(run_id=8, attempt=1))
    await harness.queue.publish(COMMANDS, stale)
    await harness.queue.publish(COMMANDS, elsewhere)

    await wait_until(lambda: harness.queue.settled(elsewhere) == ["ack"])
    assert harness.queue.settled(stale) == ["ack"]
    assert harness.executor.cancelled == []
    harness.executor.release(7)
    await wait_until(lambda: harness.reporter.outcome_of(7) == harness.executor.outcome)


async def test_stop_lets_running_runs_finish_and_takes_no_new_ones(harness, wait_until) -> None:
    worker = harness.start(drain_grace_seconds=10)
    await harness.dispatch(7)
    await wait_until(lambda: harness.executor.started == [7])

    worker.stop()
    late = await harness.dispatch(8)
    harness.executor.release(7)

    async with asyncio.timeout(5):
        await harness.task
    assert harness.reporter.outcome_of(7) == harness.executor.outcome
    assert harness.executor.started == [7]
    assert harness.queue.settled(late) in ([], ["requeue"])


async def test_stop_cancels_what_outlives_the_grace_as_worker_shutting_down(harness, wait_until) -> None:
    worker = harness.start(drain_grace_seconds=0.2)
    message = await harness.dispatch(7)
    await wait_until(lambda: harness.executor.started == [7])

    worker.stop()

    async with asyncio.timeout(5):
        await harness.task
    assert harness.reporter.outcome_of(7) == RunOutcome(
        status=RunStatus.FAILED, error_message="worker shutting down", retryable=True
    )
    assert harness.executor.cancelled == [7]
    assert harness.queue.settled(message) == ["ack"]


async def test_stop_makes_an_idle_worker_return_and_may_be_called_again(harness) -> None:
    worker = harness.start()
    await asyncio.sleep(0)  # let it subscribe

    worker.stop()
    worker.stop()

    async with asyncio.timeout(2):
        await harness.task
    worker.stop()


async def test_stop_before_run_makes_run_return_at_once(harness) -> None:
    worker = harness.build()
    worker.stop()

    async with asyncio.timeout(2):
        await worker.run()


async def test_run_returns_when_the_queue_closes(harness) -> None:
    harness.start()
    await asyncio.sleep(0)  # let it subscribe

    await harness.queue.close()

    async with asyncio.timeout(2):
        await harness.task


async def test_cancelling_run_stops_the_runs_in_hand_and_reports_them(harness, wait_until) -> None:
    harness.start()
    await harness.dispatch(7)
    await wait_until(lambda: harness.executor.started == [7])

    harness.task.cancel()

    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):
            await harness.task
    outcome = harness.reporter.outcome_of(7)
    assert outcome is not None
    assert outcome.error_message == "worker shutting down"


@pytest.mark.parametrize(
    ("routing_key", "payload"),
    [
        ("task.shell", CancelRun(run_id=1, attempt=1)),
        (COMMANDS, a_dispatch(run_id=1)),
    ],
)
async def test_an_unexpected_payload_is_dropped_and_the_loop_goes_on(
    harness, wait_until, routing_key: str, payload: RunDispatch | CancelRun
) -> None:
    harness.start()
    odd = Message(payload=payload)

    await harness.queue.publish(routing_key, odd)
    await wait_until(lambda: harness.queue.settled(odd) == ["drop"])
    await harness.dispatch(7)
    harness.executor.release(7)

    await wait_until(lambda: harness.reporter.outcome_of(7) is not None)
    assert harness.executor.started == [7]


async def test_a_delivery_that_cannot_be_read_is_dropped_and_the_loop_goes_on(harness, wait_until) -> None:
    harness.start()
    # What a broken adapter might hand over: an envelope around no payload at all.
    unreadable = msgspec.structs.replace(Message(payload=a_dispatch(run_id=1)), payload=None)

    await harness.queue.publish("task.shell", unreadable)
    await wait_until(lambda: harness.queue.settled(unreadable) == ["drop"])
    await harness.dispatch(7)
    harness.executor.release(7)

    await wait_until(lambda: harness.reporter.outcome_of(7) is not None)


async def test_an_expired_message_is_dropped_unexecuted(harness, wait_until) -> None:
    clock = FakeClock(utc_now())
    harness.start(clock=clock)
    expired = Message(
        payload=a_dispatch(run_id=7, executor="gated"), expires_at=clock.now() - timedelta(seconds=1)
    )

    await harness.queue.publish("task.shell", expired)

    await wait_until(lambda: harness.queue.settled(expired) == ["drop"])
    assert harness.reporter.started == []


async def test_a_duplicate_delivery_of_a_run_in_hand_is_acked_and_ignored(harness, wait_until) -> None:
    harness.start()
    await harness.dispatch(7)
    await wait_until(lambda: harness.executor.started == [7])

    duplicate = await harness.dispatch(7)

    await wait_until(lambda: harness.queue.settled(duplicate) == ["ack"])
    harness.executor.release(7)
    await wait_until(lambda: len(harness.reporter.finished) == 1)
    assert harness.executor.started == [7]


class FlakyReporter(FakeRunReporter):
    """Unavailable for the first `outages` calls of each kind."""

    def __init__(self, outages: int) -> None:
        super().__init__()
        self.outages = {"start": outages, "finish": outages}

    def _maybe_down(self, kind: str) -> None:
        if self.outages[kind] > 0:
            self.outages[kind] -= 1
            raise Unavailable("scheduler down")

    async def start(self, run_id: int, attempt: int, worker_id: str) -> bool:
        self._maybe_down("start")
        return await super().start(run_id, attempt, worker_id)

    async def finish(self, run_id: int, attempt: int, worker_id: str, outcome: RunOutcome) -> None:
        self._maybe_down("finish")
        await super().finish(run_id, attempt, worker_id, outcome)


async def test_reports_ride_out_a_short_outage(harness, wait_until) -> None:
    harness.reporter = FlakyReporter(outages=2)
    harness.start(report_retries=3)

    message = await harness.dispatch(7)
    harness.executor.release(7)

    await wait_until(lambda: harness.queue.settled(message) == ["ack"])
    assert harness.reporter.outcome_of(7) == harness.executor.outcome


async def test_a_start_that_cannot_be_reported_returns_the_run_to_the_queue(harness, wait_until) -> None:
    harness.reporter = FlakyReporter(outages=0)
    harness.reporter.outages["start"] = 1
    harness.start(report_retries=0)

    message = await harness.dispatch(7)
    harness.executor.release(7)

    # Requeued by the nack, the message comes round again and then goes through.
    await wait_until(lambda: harness.queue.settled(message) == ["requeue", "ack"])
    assert harness.executor.started == [7]


async def test_an_outcome_that_cannot_be_reported_is_not_acked(harness, wait_until) -> None:
    harness.reporter = FlakyReporter(outages=0)
    harness.reporter.outages["finish"] = 2
    harness.start(report_retries=1)

    message = await harness.dispatch(7)
    harness.executor.release(7)

    await wait_until(lambda: harness.queue.settled(message)[:1] == ["requeue"])


async def test_an_outcome_the_scheduler_rejects_is_acked(harness, wait_until) -> None:
    class Rejecting(FakeRunReporter):
        async def finish(self, run_id: int, attempt: int, worker_id: str, outcome: RunOutcome) -> None:
            raise Conflict("run 7 is failed; it cannot become succeeded")

    harness.reporter = Rejecting()
    harness.start()

    message = await harness.dispatch(7)
    harness.executor.release(7)

    await wait_until(lambda: harness.queue.settled(message) == ["ack"])


def test_the_worker_is_a_service(harness) -> None:
    worker: Service = harness.build()

    assert worker.name == "worker"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"prefetch": 0}, "prefetch"),
        ({"task_types": []}, "task_types"),
        ({"task_types": ["carrier-pigeon"]}, "task_types"),
        ({"worker_id": ""}, "worker_id"),
        ({"drain_grace_seconds": -1}, "drain_grace_seconds"),
    ],
)
def test_a_worker_with_impossible_settings_is_refused(
    harness, overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        harness.build(**overrides)

    assert raised.value.errors[0].field == field


class InformingReporter(FakeRunReporter):
    """A reporter whose start only informs (as the queue reporter's); starts wait on `gate`."""

    confirms_start = False

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def start(self, run_id: int, attempt: int, worker_id: str) -> bool:
        await self.gate.wait()
        return await super().start(run_id, attempt, worker_id)


async def test_a_run_goes_ahead_while_a_start_that_only_informs_is_reported(harness, wait_until) -> None:
    reporter = InformingReporter()
    harness.start(reporter=reporter)
    message = await harness.dispatch(7)

    await wait_until(lambda: harness.executor.started == [7])  # the start report is still held
    assert reporter.started == []
    harness.executor.release(7)
    await asyncio.sleep(0.05)
    assert reporter.finished == []  # the end waits for its start to be reported
    reporter.gate.set()

    await wait_until(lambda: harness.queue.settled(message) == ["ack"])
    assert reporter.started == [(7, 1, "w1")]
    assert reporter.outcome_of(7) == harness.executor.outcome


async def test_a_start_that_only_informs_and_cannot_be_reported_leaves_the_end_to_say_it(
    harness, wait_until
) -> None:
    reporter = FlakyReporter(outages=10)
    reporter.confirms_start = False
    reporter.outages["finish"] = 0
    harness.start(reporter=reporter, report_retries=1)
    message = await harness.dispatch(7)
    await wait_until(lambda: harness.executor.started == [7])
    harness.executor.release(7)

    await wait_until(lambda: harness.queue.settled(message) == ["ack"])
    assert reporter.started == []
    assert reporter.outcome_of(7) == harness.executor.outcome
