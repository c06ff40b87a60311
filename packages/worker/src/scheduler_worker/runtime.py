"""The worker: takes runs off the queue, executes them, and reports how they ended."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any, TypeVar

from scheduler_domain import CancelRun, RunDispatch, RunOutcome, TaskType, worker_command_key
from scheduler_errors import InvalidInput, SchedulerError, Unavailable
from scheduler_foundation import (
    Clock,
    Delivery,
    ExecutorRegistry,
    MessageQueue,
    NoTracing,
    RunReporter,
    SystemClock,
    Tracer,
)
from scheduler_worker._execution import SHUTTING_DOWN, Execution
from scheduler_worker._reporting import RetryingReporter

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Worker:
    """Consumes the runs of its task types and executes at most `concurrency` of them at once.

    Each run is claimed with `reporter.start`, executed by the executor it names, reported with
    `reporter.finish` and only then acked, so a crash at any point leaves the message to be
    delivered again. `CancelRun` commands on `worker.command.<worker_id>` cancel a run executing
    here. `stop` stops taking runs, waits up to `drain_grace_seconds` for those executing, then
    cancels the rest, reporting them `failed` ("worker shutting down"), so the retry policy applies.
    """

    def __init__(
        self,
        *,
        worker_id: str,
        queue: MessageQueue,
        reporter: RunReporter,
        executors: ExecutorRegistry,
        task_types: Sequence[str],
        concurrency: int,
        prefetch: int | None = None,
        drain_grace_seconds: float = 10.0,
        report_retries: int = 4,
        report_backoff_seconds: float = 0.5,
        clock: Clock | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        """`report_retries` and `report_backoff_seconds` say how long a report rides out an
        unavailable scheduler (delays double from the backoff); `clock` judges message expiry;
        each run executes in a `tracer` span continuing the trace its message carries."""
        _check(worker_id, concurrency, prefetch, drain_grace_seconds, report_retries)
        self._worker_id = worker_id
        self._queue = queue
        self._reporter = RetryingReporter(
            reporter, retries=report_retries, backoff_seconds=report_backoff_seconds
        )
        self._executors = executors
        self._task_keys = _routing_keys(task_types)
        self._prefetch = prefetch if prefetch is not None else concurrency
        self._drain_grace = drain_grace_seconds
        self._clock = clock if clock is not None else SystemClock()
        self._tracer = tracer if tracer is not None else NoTracing()
        self._slots = asyncio.Semaphore(concurrency)
        self._executions: dict[tuple[int, int], Execution] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._announcements: set[asyncio.Task[None]] = set()  # start reports on their way
        self._stopping = asyncio.Event()  # take no more runs
        self._closing = asyncio.Event()  # take no more commands
        self._stop_requested = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def name(self) -> str:
        """`worker`."""
        return "worker"

    @property
    def current_task_count(self) -> int:
        """How many runs this worker holds right now (claiming, executing or reporting)."""
        return len(self._handlers)

    async def run(self) -> None:
        """Serve until `stop` is called or the queue is closed; return once every run is settled.

        An error of the queue's consumer is raised after the runs in hand were stopped.
        """
        self._loop = asyncio.get_running_loop()
        if self._stop_requested:
            self._stopping.set()
        logger.info("worker started", extra=self._fields())
        dispatches = asyncio.create_task(self._consume_dispatches())
        commands = asyncio.create_task(self._consume_commands())
        try:
            if await _finished_unless(self._stopping, dispatches):
                dispatches.result()  # the queue ended it, or its error
            await self._drain()
        finally:
            await self._shut_down(dispatches, commands)
            self._loop = None
        logger.info("worker stopped", extra=self._fields())

    def stop(self) -> None:
        """Stop taking runs; `run` drains and returns. Idempotent, safe from a signal handler."""
        self._stop_requested = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stopping.set)

    async def _drain(self) -> None:
        if self._handlers:
            logger.info(
                "draining %d runs for up to %.1f s",
                len(self._handlers),
                self._drain_grace,
                extra=self._fields(),
            )
            await asyncio.wait(set(self._handlers), timeout=self._drain_grace)

    async def _shut_down(self, dispatches: asyncio.Task[None], commands: asyncio.Task[None]) -> None:
        self._stopping.set()
        await asyncio.wait({dispatches})  # already over, unless `run` itself was cancelled
        for execution in list(self._executions.values()):
            execution.request_stop(SHUTTING_DOWN)
        while self._handlers:
            await asyncio.wait(set(self._handlers))
        self._closing.set()
        await asyncio.wait({commands})
        if not commands.cancelled() and (error := commands.exception()) is not None:
            logger.error("the command consumer failed", exc_info=error, extra=self._fields())

    async def _consume_dispatches(self) -> None:
        """Take a run whenever a slot is free, until the queue ends; `run` cancels it to stop.

        A cancelled fetch leaves nothing behind (the queues give back what they were handing
        out); a delivery that arrives once stopping has begun goes back to the queue.
        """
        deliveries = aiter(self._queue.consume(self._task_keys, prefetch=self._prefetch))
        try:
            while True:
                await self._slots.acquire()
                try:
                    delivery = await anext(deliveries)
                except BaseException:  # the queue ended, failed, or this task was cancelled
                    self._slots.release()
                    raise
                if self._stopping.is_set():  # came in as the worker began to stop: not taken
                    self._slots.release()
                    await _settle(delivery.nack(requeue=True), delivery)
                    return
                handler = asyncio.create_task(self._handle_dispatch(delivery))
                self._handlers.add(handler)
                handler.add_done_callback(self._handler_done)
        except StopAsyncIteration:
            return
        finally:
            await _close(deliveries)

    def _handler_done(self, handler: asyncio.Task[None]) -> None:
        self._handlers.discard(handler)
        self._slots.release()

    async def _consume_commands(self) -> None:
        commands = aiter(self._queue.consume([worker_command_key(self._worker_id)], prefetch=1))
        try:
            while (delivery := await self._next_unless(self._closing, commands)) is not None:
                await self._handle_command(delivery)
        finally:
            await _close(commands)

    async def _next_unless(
        self, event: asyncio.Event, deliveries: AsyncIterator[Delivery]
    ) -> Delivery | None:
        """The next delivery; None when the queue ends or `event` is set first."""
        fetch = asyncio.ensure_future(_next(deliveries))
        if await _finished_unless(event, fetch):
            return fetch.result()
        if not fetch.cancelled() and fetch.exception() is None and (late := fetch.result()) is not None:
            await _settle(late.nack(requeue=True), late)
        return None

    async def _handle_dispatch(self, delivery: Delivery) -> None:
        try:
            message = delivery.message
            if not isinstance(message.payload, RunDispatch):
                await _reject(delivery, f"expected run.dispatch, got {message.message_type}")
            elif message.expired(self._clock.now()):
                await _reject(delivery, "the message expired before a worker took it")
            else:
                await self._take(delivery, message.payload)
        except Exception:
            logger.exception("handling a run delivery failed", extra=self._fields())
            await _settle(delivery.nack(requeue=False), delivery)

    async def _take(self, delivery: Delivery, dispatch: RunDispatch) -> None:
        key = (dispatch.run_id, dispatch.attempt)
        if key in self._executions:
            logger.warning(
                "run is already executing here; dropping the duplicate", extra=self._fields(dispatch)
            )
            await _settle(delivery.ack(), delivery)
            return
        execution = Execution(dispatch=dispatch, worker_id=self._worker_id)
        self._executions[key] = execution
        try:
            with self._tracer.executing(delivery.message.headers, dispatch) as span:
                outcome = await self._execute(delivery, execution)
                if outcome is not None:
                    span.ended(outcome)
        finally:
            del self._executions[key]

    async def _execute(self, delivery: Delivery, execution: Execution) -> RunOutcome | None:
        """Run the attempt and report it; its outcome, or None when it did not run here."""
        dispatch = execution.dispatch
        if self._reporter.confirms_start:
            return await self._execute_once_confirmed(delivery, execution)
        # The start only informs: announce it while the run goes ahead (one round trip less
        # between taking the run and its first line). Its end follows it.
        announcing = asyncio.create_task(self._announce_start(dispatch))
        self._announcements.add(announcing)
        announcing.add_done_callback(self._announcements.discard)
        logger.info("run started", extra=self._fields(dispatch))
        outcome = await execution.run(self._executors)
        logger.info("run ended %s", outcome.status, extra=self._fields(dispatch))
        await announcing
        await self._settle_after_finish(delivery, dispatch, outcome)
        return outcome

    async def _announce_start(self, dispatch: RunDispatch) -> None:
        try:
            await self._reporter.start(dispatch.run_id, dispatch.attempt, self._worker_id)
        except Unavailable:
            logger.exception(
                "could not report the start; the report of the end says it", extra=self._fields(dispatch)
            )

    async def _execute_once_confirmed(self, delivery: Delivery, execution: Execution) -> RunOutcome | None:
        dispatch = execution.dispatch
        fields = self._fields(dispatch)
        try:
            accepted = await self._reporter.start(dispatch.run_id, dispatch.attempt, self._worker_id)
        except Unavailable:
            logger.exception("could not claim the run; returning it to the queue", extra=fields)
            await _settle(delivery.nack(requeue=True), delivery)
            return None
        if not accepted:
            logger.info("the scheduler refused the run (cancelled or superseded); skipping", extra=fields)
            await _settle(delivery.ack(), delivery)
            return None
        logger.info("run started", extra=fields)
        outcome = await execution.run(self._executors)
        logger.info("run ended %s", outcome.status, extra=fields)
        await self._settle_after_finish(delivery, dispatch, outcome)
        return outcome

    async def _settle_after_finish(
        self, delivery: Delivery, dispatch: RunDispatch, outcome: RunOutcome
    ) -> None:
        """Ack once the outcome is reported; else hand the run back to the queue."""
        if await self._report_finish(dispatch, outcome):
            await _settle(delivery.ack(), delivery)
        else:
            await _settle(delivery.nack(requeue=True), delivery)

    async def _report_finish(self, dispatch: RunDispatch, outcome: RunOutcome) -> bool:
        """True when the outcome reached the scheduler (or it answered that it has no use for it)."""
        fields = self._fields(dispatch)
        try:
            await self._reporter.finish(dispatch.run_id, dispatch.attempt, self._worker_id, outcome)
        except Unavailable:
            logger.exception("could not report the outcome; returning the run to the queue", extra=fields)
            return False
        except SchedulerError as exc:
            logger.warning("the scheduler rejected the outcome: %s", exc, extra=fields)
        return True

    async def _handle_command(self, delivery: Delivery) -> None:
        try:
            payload = delivery.message.payload
            if not isinstance(payload, CancelRun):
                await _reject(delivery, f"expected run.cancel, got {delivery.message.message_type}")
                return
            fields = {**self._fields(), "run_id": payload.run_id, "attempt": payload.attempt}
            execution = self._executions.get((payload.run_id, payload.attempt))
            if execution is None:
                logger.info("asked to cancel a run that is not executing here", extra=fields)
            else:
                logger.info("cancelling run: %s", payload.reason, extra=fields)
                execution.request_stop(payload.reason)
            await _settle(delivery.ack(), delivery)
        except Exception:
            logger.exception("handling a command failed", extra=self._fields())
            await _settle(delivery.nack(requeue=False), delivery)

    def _fields(self, dispatch: RunDispatch | None = None) -> dict[str, Any]:
        if dispatch is None:
            return {"worker_id": self._worker_id}
        return {"worker_id": self._worker_id, "run_id": dispatch.run_id, "attempt": dispatch.attempt}


def _check(
    worker_id: str, concurrency: int, prefetch: int | None, drain_grace_seconds: float, report_retries: int
) -> None:
    if not worker_id:
        raise InvalidInput.for_field("worker_id", "must not be empty")
    if concurrency < 1:
        raise InvalidInput.for_field("concurrency", "must be at least 1")
    if prefetch is not None and prefetch < 1:
        raise InvalidInput.for_field("prefetch", "must be at least 1")
    if drain_grace_seconds < 0:
        raise InvalidInput.for_field("drain_grace_seconds", "must not be negative")
    if report_retries < 0:
        raise InvalidInput.for_field("report_retries", "must not be negative")


def _routing_keys(task_types: Sequence[str]) -> list[str]:
    if not task_types:
        raise InvalidInput.for_field("task_types", "must name at least one task type")
    try:
        return [TaskType(task_type).routing_key for task_type in dict.fromkeys(task_types)]
    except ValueError as exc:
        raise InvalidInput.for_field("task_types", str(exc)) from None


async def _finished_unless(event: asyncio.Event, future: asyncio.Future[Any]) -> bool:
    """Wait for `future` unless `event` is set first; then cancel it, and return False."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({future, waiter}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        future.cancel()
        raise
    finally:
        waiter.cancel()
    if not event.is_set():
        return True
    future.cancel()
    await asyncio.wait({future})
    return False


async def _next(deliveries: AsyncIterator[Delivery]) -> Delivery | None:
    try:
        return await anext(deliveries)
    except StopAsyncIteration:
        return None


async def _close(deliveries: AsyncIterator[Delivery]) -> None:
    """Close a consumer: async generators and the brokers' iterators both have `aclose`."""
    close = getattr(deliveries, "aclose", None)
    if close is None:
        return
    try:
        await close()
    except RuntimeError:  # still running in a fetch that is being cancelled
        logger.debug("consumer closed while a fetch was pending")


async def _reject(delivery: Delivery, reason: str) -> None:
    logger.warning(
        "dropping message %s from %s: %s",
        delivery.message.id,
        delivery.routing_key,
        reason,
        extra={"message_id": delivery.message.id, "routing_key": delivery.routing_key},
    )
    await _settle(delivery.nack(requeue=False), delivery)


async def _settle(settling: Awaitable[None], delivery: Delivery) -> None:
    """Ack or nack; a queue that fails to hear it redelivers the message later."""
    try:
        await settling
    except Exception:
        logger.exception("could not ack or nack message from %s", delivery.routing_key)
