"""A run carries its trace: the trigger stores the request's, the dispatch passes one on in the headers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import pytest

from scheduler_application import SchedulerService, TaskControl
from scheduler_domain import RunDispatch, TaskRun
from scheduler_foundation import ExecutionSpan, NoTracing, RequestSpan
from scheduler_testing import FakeMessageQueue, FakeTaskRepository, a_task

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class RecordingTracer(NoTracing):
    """A tracer whose current span is always `TRACEPARENT`; it records the runs it dispatched."""

    def __init__(self) -> None:
        self.dispatched: list[TaskRun] = []

    def traceparent(self) -> str | None:
        return TRACEPARENT

    @contextlib.contextmanager
    def dispatching(self, run: TaskRun) -> Iterator[dict[str, str]]:
        self.dispatched.append(run)
        yield {"traceparent": f"from-run-{run.id}"}

    def request(self, method: str, route: str) -> contextlib.AbstractContextManager[RequestSpan]:
        raise AssertionError("no request here")

    def executing(
        self, headers: Mapping[str, str], dispatch: RunDispatch
    ) -> contextlib.AbstractContextManager[ExecutionSpan]:
        raise AssertionError("no execution here")


class TestTraced:
    """The task control and the scheduler of the fixtures, with a recording tracer."""

    @pytest.fixture
    def tracer(self) -> RecordingTracer:
        return RecordingTracer()

    async def test_a_triggered_run_stores_the_trace_of_the_request_and_its_message_carries_one_on(
        self,
        task_control: TaskControl,
        scheduler: SchedulerService,
        tasks: FakeTaskRepository,
        queue: FakeMessageQueue,
        tracer: RecordingTracer,
    ) -> None:
        task = await tasks.add(a_task())

        run = await task_control.trigger(task.id)
        published = await scheduler.dispatch_pending()

        assert run.traceparent == TRACEPARENT
        assert [dispatched.traceparent for dispatched in tracer.dispatched] == [TRACEPARENT]
        assert [p.id for p in published] == [run.id]
        [(_, message, _)] = queue.published
        assert message.headers == {"traceparent": f"from-run-{run.id}"}


async def test_without_tracing_a_run_stores_no_trace_and_its_message_carries_none(
    task_control: TaskControl, scheduler: SchedulerService, tasks: FakeTaskRepository, queue: FakeMessageQueue
) -> None:
    task = await tasks.add(a_task())

    run = await task_control.trigger(task.id)
    await scheduler.dispatch_pending()

    assert run.traceparent is None
    [(_, message, _)] = queue.published
    assert message.headers == {}
