"""The dispatcher loop: fire due schedules, dispatch pending runs, sweep overdue and lost runs,
evaluate alert rules."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from scheduler_application import AlertEvaluator, Leadership, SchedulerService, WaveRecovery, WorkerRecovery
from scheduler_errors import SchedulerError
from scheduler_foundation import DispatchWakeupListener

logger = logging.getLogger(__name__)

#: The longest pause after a failed pass (a database that does not answer).
MAX_ERROR_BACKOFF_SECONDS = 30.0
#: A pause may end this much before the scan it waited for is due (timer rounding); the scan runs.
SCAN_SLACK_SECONDS = 0.005


class Dispatcher:
    """Runs scheduling passes until stopped.

    A pass starts every `scan_interval` seconds, or at once when the wakeup is notified (a
    manual trigger). Due schedules are looked for every `scan_interval` seconds only: a wake-up
    says that a run is pending, so the pass it starts only dispatches, and a stream of wake-ups
    does not delay the next scan. Sweeps for overdue and lost runs run every `sweep_interval`
    seconds, only while this instance holds the `leadership` (always, without one: a sole
    dispatcher).

    With `alerts`, the leader also evaluates the alert rules every `alert_interval` seconds, in
    a task of its own beside the passes, so that a slow notification never delays a pass. An
    instance that stops leading forgets the rules' states; the next leader starts from scratch.
    `use_alerts` changes the evaluation while the dispatcher runs (a settings reload).
    """

    name = "dispatcher"

    def __init__(
        self,
        *,
        scheduler: SchedulerService,
        wakeup: DispatchWakeupListener,
        scan_interval: float = 0.5,
        sweep_interval: float = 5.0,
        leadership: Leadership | None = None,
        recovery: WorkerRecovery | None = None,
        waves: WaveRecovery | None = None,
        alerts: AlertEvaluator | None = None,
        alert_interval: float = 15.0,
    ) -> None:
        self._scheduler = scheduler
        self._alerts = alerts
        self._alert_interval = alert_interval
        self._alerting: asyncio.Task[None] | None = None
        self._changed_alerts = asyncio.Event()
        self._running = False
        self._waves = waves
        self._leadership = leadership
        self._recovery = recovery
        self._wakeup = wakeup
        self._scan_interval = scan_interval
        self._sweep_interval = sweep_interval
        self._stopping = asyncio.Event()
        self._next_scan = 0.0
        self._next_sweep = 0.0
        self.passes = 0
        self.alert_checks = 0
        """Times the alert interval came round (an evaluation when leading)."""

    async def run(self) -> None:
        """Run passes until `stop()`; a failing pass is logged and retried with backoff.

        The leadership lease is renewed alongside, and released once the last pass has finished.
        """
        holding = asyncio.create_task(self._leadership.hold()) if self._leadership else None
        self._running = True
        if self._alerts is not None:
            extra = {"rules": len(self._alerts.rules), "interval": self._alert_interval}
            logger.info("alert rules loaded", extra=extra)
            self._start_alerting()
        try:
            await self._run_passes()
        finally:
            self._running = False
            if alerting := self._alerting:
                alerting.cancel()  # an evaluation in progress (a send) is not waited for
                with contextlib.suppress(asyncio.CancelledError):
                    await alerting
            if self._leadership and holding:
                self._leadership.stop()
                await holding
        logger.info("dispatcher stopped")

    async def _run_passes(self) -> None:
        failures = 0
        logger.info("dispatcher started", extra={"scan_interval": self._scan_interval})
        while not self._stopping.is_set():
            try:
                await self.run_pass()
                failures = 0
                pause = max(self._next_scan - time.monotonic(), 0.0)
            except SchedulerError as exc:
                failures += 1
                pause = min(self._scan_interval * 2**failures, MAX_ERROR_BACKOFF_SECONDS)
                logger.warning("scheduling pass failed", extra={"error": str(exc), "retry_in": pause})
            await self._pause(pause)

    def stop(self) -> None:
        """Finish the current pass, release the leadership and return from `run()`."""
        self._stopping.set()
        self._changed_alerts.set()

    async def run_pass(self) -> None:
        """One pass: fire schedules when a scan is due, dispatch until a claim comes back short of a
        full batch, sweep when due and leading."""
        fired = 0
        if time.monotonic() >= self._next_scan - SCAN_SLACK_SECONDS:
            self._next_scan = time.monotonic() + self._scan_interval
            fired = len(await self._scheduler.fire_due_schedules())
        dispatched = await self._dispatch_all()
        if fired or dispatched:
            logger.debug("scheduling pass", extra={"fired": fired, "dispatched": dispatched})
        if self._leading() and time.monotonic() >= self._next_sweep:
            await self._sweep()
            self._next_sweep = time.monotonic() + self._sweep_interval
        self.passes += 1

    def _leading(self) -> bool:
        return self._leadership is None or self._leadership.is_leader

    def use_alerts(self, alerts: AlertEvaluator | None, interval: float) -> None:
        """Evaluate `alerts` every `interval` seconds from the next evaluation on; None: no more."""
        self._alerts, self._alert_interval = alerts, interval
        self._changed_alerts.set()
        if alerts is not None:
            logger.info("alert rules loaded", extra={"rules": len(alerts.rules), "interval": interval})
        if self._running:
            self._start_alerting()

    def _start_alerting(self) -> None:
        if self._alerts is not None and (self._alerting is None or self._alerting.done()):
            self._alerting = asyncio.create_task(self._evaluate_alerts())

    async def _evaluate_alerts(self) -> None:
        """Evaluate every `alert_interval` while leading, from the first interval on, until stopped
        or left without alerts."""
        evaluated = False
        next_at = time.monotonic() + self._alert_interval
        while not self._stopping.is_set() and (alerts := self._alerts) is not None:
            with contextlib.suppress(TimeoutError):  # `stop` and `use_alerts` cut the wait short
                await asyncio.wait_for(self._changed_alerts.wait(), max(next_at - time.monotonic(), 0.0))
            if self._changed_alerts.is_set():  # also when set during the last evaluation
                self._changed_alerts.clear()
                next_at = time.monotonic() + self._alert_interval
                continue  # stopping, or other rules or interval: from the next interval on
            next_at = time.monotonic() + self._alert_interval
            self.alert_checks += 1
            if self._leading():
                await self._evaluate_once(alerts)
                evaluated = True
            elif evaluated:
                alerts.reset()
                evaluated = False

    @staticmethod
    async def _evaluate_once(alerts: AlertEvaluator) -> None:
        try:
            await alerts.evaluate()
        except Exception:  # a bug must not end alerting for the life of the process
            logger.exception("alert evaluation failed")

    async def _dispatch_all(self) -> int:
        total = 0
        while not self._stopping.is_set():
            published, more = await self._scheduler.dispatch_batch()
            total += len(published)
            if not more:
                return total
        return total

    async def _sweep(self) -> None:
        timed_out = await self._scheduler.end_overdue_runs()
        requeued = await self._scheduler.requeue_stale()
        lost = await self._recovery.recover_lost_workers() if self._recovery else []
        settled = await self._waves.settle_stale_waves() if self._waves else []
        if settled:
            logger.warning("dependency waves settled after a lost release", extra={"runs": len(settled)})
        for run in timed_out:
            logger.warning("run timed out without a report", extra={"run_id": run.id, "attempt": run.attempt})
        for run in requeued:
            logger.warning("run re-queued: its message was probably lost", extra={"run_id": run.id})
        for run in lost:
            logger.warning(
                "run failed: its worker stopped heartbeating",
                extra={"run_id": run.id, "attempt": run.attempt, "worker_id": run.worker_id},
            )

    async def _pause(self, seconds: float) -> None:
        stop = asyncio.ensure_future(self._stopping.wait())
        wake = asyncio.ensure_future(self._wakeup.wait(seconds))
        try:
            await asyncio.wait({stop, wake}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (stop, wake):
                waiter.cancel()
