"""The status applier: takes the workers' status reports off the queue and applies them in batches."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence

from scheduler_application import StatusReports
from scheduler_domain import RunFinished, RunReports, RunStarted, StatusReport
from scheduler_errors import InvalidInput, Unavailable
from scheduler_foundation import Delivery, MessageQueue

logger = logging.getLogger(__name__)

#: The longest pause after the store or the queue failed to take a batch.
MAX_ERROR_BACKOFF_SECONDS = 30.0
#: Failed tries of one batch before it goes back to the queue (an open breaker's refusals do not
#: count: those the applier waits out for as long as the outage lasts).
MAX_FAILED_TRIES = 8
#: Acks in flight at once: enough to hide the broker's round trip, few enough for its connections.
SETTLE_CONCURRENCY = 16
#: Deliveries in hand from which a batch waits `linger_seconds` for more (see `StatusApplier`).
LINGER_FROM = 4


class StatusApplier:
    """Consumes status reports and applies them through `StatusReports`, a batch at a time.

    It takes the deliveries waiting; fewer than `LINGER_FROM` are applied at once, so a report
    at a quiet time is not held back. More say that reports come faster than they are applied:
    it then also takes what arrives within `linger_seconds`, up to `max_batch`. It applies the
    batch at once and acks each delivery. When the store (or the queue that carries the
    CancelRun of a refused start) is unavailable, the applier keeps the batch and tries it again
    after a pause (longer after each failure, or as long as an open circuit breaker says): while
    a breaker refuses calls, for as long as the outage lasts, since an outage is no fault of the
    reports and must not use up their deliveries (a queue dead-letters a message after
    `max_deliveries`); otherwise for `MAX_FAILED_TRIES` tries, after which the batch goes back to
    the queue (a statement the store keeps cancelling must not hold it for ever). A message that
    is not a status report, or a report that cannot be applied even on its own, is logged and
    dropped (nack without requeue: the queue dead-letters it). Every dispatcher runs one; they compete for the
    status queue. `stop` lets the batch in hand finish, gives back what was taken since, and
    returns.
    """

    name = "status-applier"

    def __init__(
        self,
        *,
        queue: MessageQueue,
        reports: StatusReports,
        routing_keys: Sequence[str],
        prefetch: int = 256,
        max_batch: int = 256,
        linger_seconds: float = 0.005,
        error_backoff_seconds: float = 0.5,
    ) -> None:
        _check(routing_keys, prefetch, max_batch, linger_seconds, error_backoff_seconds)
        self._queue = queue
        self._reports = reports
        self._routing_keys = list(routing_keys)
        self._prefetch = prefetch
        self._max_batch = max_batch
        self._linger = linger_seconds
        self._backoff = error_backoff_seconds
        self._inbox: asyncio.Queue[Delivery] = asyncio.Queue()
        self._stopping = asyncio.Event()
        self._failures = 0
        self.batches = 0
        """Batches applied so far."""
        self.reports = 0
        """Reports applied (or found stale) so far."""

    async def run(self) -> None:
        """Apply batches until `stop()` or the queue closes; a consumer error is raised at the end."""
        deliveries = aiter(self._queue.consume(self._routing_keys, prefetch=self._prefetch))
        pump = asyncio.create_task(self._pump(deliveries), name="status-applier-consumer")
        logger.info("status applier started", extra={"queues": self._routing_keys})
        try:
            while batch := await self._next_batch(pump):
                await self._apply(batch)
        finally:
            pump.cancel()
            await asyncio.wait({pump})
            await self._give_back_inbox()
            await _close(deliveries)
        if not pump.cancelled() and (error := pump.exception()) is not None:
            raise error
        logger.info("status applier stopped", extra={"batches": self.batches, "reports": self.reports})

    def stop(self) -> None:
        """Finish the batch in hand and return from `run()`; safe to call more than once."""
        self._stopping.set()

    async def _pump(self, deliveries: AsyncIterator[Delivery]) -> None:
        async for delivery in deliveries:
            self._inbox.put_nowait(delivery)

    async def _next_batch(self, pump: asyncio.Task[None]) -> list[Delivery]:
        """The next batch; [] once stopping or the queue has ended."""
        first = await self._first(pump)
        if first is None:
            return []
        batch = [first]
        deadline = asyncio.get_running_loop().time() + self._linger
        while len(batch) < self._max_batch:
            while len(batch) < self._max_batch and not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
            if len(batch) < LINGER_FROM:  # no stream of reports to wait for: apply these now
                break
            remaining = deadline - asyncio.get_running_loop().time()
            if len(batch) >= self._max_batch or remaining <= 0 or self._stopping.is_set():
                break
            try:
                async with asyncio.timeout(remaining):
                    batch.append(await self._inbox.get())
            except TimeoutError:
                break
        return batch

    async def _first(self, pump: asyncio.Task[None]) -> Delivery | None:
        """Wait for a delivery; None when `stop` comes first or the consumer ends with none left."""
        if self._stopping.is_set():
            return None
        if not self._inbox.empty():
            return self._inbox.get_nowait()
        getter = asyncio.ensure_future(self._inbox.get())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({getter, stopping, pump}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not getter.done():
                getter.cancel()  # an asyncio.Queue keeps the item of a cancelled get
                await asyncio.wait({getter})
        if getter.cancelled():
            return None
        return getter.result()

    async def _apply(self, batch: list[Delivery]) -> None:
        reports: list[StatusReport] = []
        carriers: list[Delivery] = []
        for delivery in batch:
            carried = _reports_in(delivery)
            if carried is None:
                await _drop(delivery, f"expected a status report, got {delivery.message.message_type}")
                continue
            reports += carried
            carriers.append(delivery)
        if carriers:
            await self._apply_batch(carriers, reports)

    async def _apply_batch(self, carriers: list[Delivery], reports: list[StatusReport]) -> None:
        try:
            stored = await self._store(reports)
        except Exception:
            logger.exception(
                "applying %d status reports failed; applying them message by message", len(reports)
            )
            await self._apply_one_by_one(carriers)
            return
        if not stored:
            await _give_back(carriers)
            return
        self.batches += 1
        self.reports += len(reports)
        await _ack_all(carriers)

    async def _apply_one_by_one(self, carriers: list[Delivery]) -> None:
        """Isolate the message that breaks a batch: the others are applied, it alone is dropped."""
        for index, delivery in enumerate(carriers):
            reports = _reports_in(delivery) or []
            try:
                stored = await self._store(reports)
            except Exception as exc:
                logger.exception("cannot apply a status report", extra=_fields(delivery))
                await _drop(delivery, f"it cannot be applied ({exc})")
                continue
            if not stored:
                await _give_back(carriers[index:])
                return
            self.reports += len(reports)
            await _settle(delivery.ack(), delivery)
        self.batches += 1

    async def _store(self, reports: list[StatusReport]) -> bool:
        """Apply `reports`, waiting out an outage of the store; False when stopped first, or after
        `MAX_FAILED_TRIES` failures that were no open breaker's refusal (a statement the store
        keeps cancelling, or an outage with no breaker): the caller then gives them back to the
        queue, which dead-letters them after `max_deliveries`. Other errors are raised."""
        failed = 0
        while True:
            try:
                await self._reports.apply_reports(reports)
            except Unavailable as exc:
                if exc.retry_after is None:  # tried and failed, not refused by an open breaker
                    failed += 1
                if not await self._outage_pause(exc, len(reports)) or failed >= MAX_FAILED_TRIES:
                    return False
                continue
            self._failures = 0
            return True

    async def _outage_pause(self, exc: Unavailable, count: int) -> bool:
        """Wait before trying `count` reports again; False when stopping meanwhile."""
        if exc.retry_after is not None:  # an open breaker: tried again once it lets a trial through
            pause = max(exc.retry_after, self._backoff)
        else:
            self._failures += 1
            pause = min(self._backoff * 2 ** (self._failures - 1), MAX_ERROR_BACKOFF_SECONDS)
        logger.warning("could not apply %d status reports (%s); trying again in %.2f s", count, exc, pause)
        await self._pause(pause)
        return not self._stopping.is_set()

    async def _pause(self, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            return

    async def _give_back_inbox(self) -> None:
        """Return what was taken but not applied, so another dispatcher applies it at once."""
        taken: list[Delivery] = []
        while not self._inbox.empty():
            taken.append(self._inbox.get_nowait())
        await _give_back(taken)


async def _give_back(carriers: Sequence[Delivery]) -> None:
    """Return deliveries not applied to the queue (stopping), for another dispatcher to apply."""
    for delivery in carriers:
        await _settle(delivery.nack(requeue=True), delivery)


def _check(
    routing_keys: Sequence[str], prefetch: int, max_batch: int, linger_seconds: float, backoff: float
) -> None:
    if not routing_keys:
        raise InvalidInput.for_field("routing_keys", "must name at least one queue")
    if prefetch < 1:
        raise InvalidInput.for_field("prefetch", "must be at least 1")
    if not 1 <= max_batch <= prefetch:
        # A batch waits for deliveries the queue only hands out once earlier ones are settled.
        raise InvalidInput.for_field("max_batch", "must be between 1 and the prefetch")
    if linger_seconds < 0:
        raise InvalidInput.for_field("linger_seconds", "must not be negative")
    if backoff <= 0:
        raise InvalidInput.for_field("error_backoff_seconds", "must be positive")


def _reports_in(delivery: Delivery) -> list[StatusReport] | None:
    """The status reports a message carries, in order; None for a message that is not one."""
    payload = delivery.message.payload
    if isinstance(payload, RunReports):
        return list(payload.reports)
    if isinstance(payload, RunStarted | RunFinished):
        return [payload]
    return None


def _fields(delivery: Delivery) -> dict[str, str]:
    return {"message_id": delivery.message.id, "routing_key": delivery.routing_key}


async def _drop(delivery: Delivery, reason: str) -> None:
    logger.warning(
        "dropping message %s from %s: %s",
        delivery.message.id,
        delivery.routing_key,
        reason,
        extra=_fields(delivery),
    )
    await _settle(delivery.nack(requeue=False), delivery)


async def _ack_all(deliveries: list[Delivery]) -> None:
    for start in range(0, len(deliveries), SETTLE_CONCURRENCY):
        chunk = deliveries[start : start + SETTLE_CONCURRENCY]
        await asyncio.gather(*(_settle(delivery.ack(), delivery) for delivery in chunk))


async def _settle(settling: Awaitable[None], delivery: Delivery) -> None:
    """Ack or nack; a queue that fails to hear it delivers the message again later."""
    try:
        await settling
    except Exception:
        logger.exception("could not ack or nack a message from %s", delivery.routing_key)


async def _close(deliveries: AsyncIterator[Delivery]) -> None:
    """Close a consumer: async generators and the brokers' iterators both have `aclose`."""
    close = getattr(deliveries, "aclose", None)
    if close is None:
        return
    try:
        await close()
    except RuntimeError:  # an async generator still running a fetch that is being cancelled
        logger.debug("consumer closed while a fetch was pending")
