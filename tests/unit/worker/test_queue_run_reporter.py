"""The queue run reporter: what a worker in its own process publishes on the status queue."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from scheduler_domain import (
    STATUS_RUNS,
    Message,
    RunFinished,
    RunOutcome,
    RunReports,
    RunStarted,
    RunStatus,
    encode_message,
)
from scheduler_errors import InvalidInput, Unavailable
from scheduler_testing import FakeClock, FakeMessageQueue
from scheduler_worker import QueueRunReporter

from .conftest import Eventually, Harness

OUTCOME = RunOutcome(status=RunStatus.FAILED, exit_code=3, error_message="boom", result={"lines": 2})


class EncodingQueue(FakeMessageQueue):
    """The fake queue, refusing what cannot be encoded as the real ones do; `failures` publishes
    fail first as a broker that is down would."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.failures = failures

    async def publish(self, routing_key: str, message: Message, *, priority: int = 0) -> None:
        if self.failures:
            self.failures -= 1
            raise Unavailable("the broker does not answer")
        try:
            encode_message(message)
        except (TypeError, msgspec.EncodeError) as exc:
            raise InvalidInput.for_field("payload", f"cannot be encoded: {exc}") from exc
        await super().publish(routing_key, message, priority=priority)


async def test_start_publishes_run_started_and_says_go() -> None:
    queue, clock = FakeMessageQueue(), FakeClock()
    reporter = QueueRunReporter(queue=queue, clock=clock)

    assert await reporter.start(7, 2, "w-1") is True

    [(key, message, _)] = queue.published
    assert key == STATUS_RUNS
    assert message.payload == RunStarted(run_id=7, attempt=2, worker_id="w-1", at=clock.now())
    assert message.correlation_id == "7"


async def test_finish_publishes_run_finished_with_the_outcome() -> None:
    queue, clock = FakeMessageQueue(), FakeClock()
    reporter = QueueRunReporter(queue=queue, clock=clock)

    await reporter.finish(7, 2, "w-1", OUTCOME)

    assert [m.payload for m in queue.messages(STATUS_RUNS)] == [
        RunFinished(run_id=7, attempt=2, worker_id="w-1", outcome=OUTCOME, at=clock.now())
    ]


class GatedQueue(FakeMessageQueue):
    """The fake queue, holding each publish until `gate` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def publish(self, routing_key: str, message: Message, *, priority: int = 0) -> None:
        await self.gate.wait()
        await super().publish(routing_key, message, priority=priority)


async def test_reports_made_while_one_is_published_go_out_together_in_one_message() -> None:
    queue, clock = GatedQueue(), FakeClock()
    reporter = QueueRunReporter(queue=queue, clock=clock)
    first = asyncio.create_task(reporter.start(1, 1, "w-1"))
    await asyncio.sleep(0)  # its publish is in flight, held at the gate
    others = [
        asyncio.create_task(reporter.finish(1, 1, "w-1", OUTCOME)),
        asyncio.create_task(reporter.start(2, 1, "w-1")),
    ]
    await asyncio.sleep(0)
    queue.gate.set()
    await asyncio.wait_for(asyncio.gather(first, *others), timeout=1)

    lone, together = (m.payload for m in queue.messages(STATUS_RUNS))
    assert lone == RunStarted(run_id=1, attempt=1, worker_id="w-1", at=clock.now())
    assert together == RunReports(
        reports=[
            RunFinished(run_id=1, attempt=1, worker_id="w-1", outcome=OUTCOME, at=clock.now()),
            RunStarted(run_id=2, attempt=1, worker_id="w-1", at=clock.now()),
        ]
    )


async def test_a_broker_that_does_not_take_the_report_is_unavailable() -> None:
    reporter = QueueRunReporter(queue=EncodingQueue(failures=1), clock=FakeClock())

    with pytest.raises(Unavailable):
        await reporter.start(7, 1, "w-1")


async def test_a_result_the_queue_cannot_encode_is_left_out_rather_than_the_report() -> None:
    queue = EncodingQueue()
    reporter = QueueRunReporter(queue=queue, clock=FakeClock())
    outcome = RunOutcome(status=RunStatus.SUCCEEDED, exit_code=0, result={"handle": object()})

    await reporter.finish(7, 1, "w-1", outcome)

    [message] = queue.messages(STATUS_RUNS)
    assert isinstance(message.payload, RunFinished)
    sent = message.payload.outcome
    assert (sent.status, sent.exit_code, sent.result) == (RunStatus.SUCCEEDED, 0, None)
    assert sent.error_message is not None
    assert sent.error_message.startswith("the result could not be reported")


async def test_a_worker_reports_through_the_status_queue_riding_out_a_broker_hiccup(
    harness: Harness, wait_until: Eventually
) -> None:
    queue = EncodingQueue()
    harness.queue = queue  # type: ignore[assignment]
    harness.start(reporter=QueueRunReporter(queue=queue, clock=FakeClock()))
    await harness.dispatch(5)
    queue.failures = 1  # the start report meets a broker that does not answer, once
    await wait_until(lambda: harness.executor.started == [5])

    harness.executor.release(5)
    await wait_until(lambda: len(queue.messages(STATUS_RUNS)) == 2)

    started, ended = (m.payload for m in queue.messages(STATUS_RUNS))
    assert isinstance(started, RunStarted)
    assert (started.run_id, started.worker_id) == (5, "w1")
    assert isinstance(ended, RunFinished)
    assert (ended.run_id, ended.outcome.status) == (5, RunStatus.SUCCEEDED)
    assert len(queue.messages("task.shell")) == 1  # acked, never handed back
    assert queue.failures == 0  # the failed publish happened, and was retried
